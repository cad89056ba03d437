"""Perceptual hashes (64-bit pHash and dHash): a cheap first stage for exact and trivial copies."""
from __future__ import annotations

import numpy as np
from PIL import Image

BITS = 64


def _grey(im: Image.Image, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(im.convert("L").resize(size, Image.Resampling.LANCZOS), np.float64)


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    m = np.cos(np.pi * (2 * np.arange(n)[None, :] + 1) * k / (2 * n))
    m[0] *= 1 / np.sqrt(2)
    return m * np.sqrt(2 / n)


_DCT32 = _dct_matrix(32)


def _pack(bits: np.ndarray) -> int:
    """64 booleans -> a signed 64-bit int (what SQLite stores)."""
    return int(np.packbits(bits.astype(np.uint8).ravel()).view(">i8")[0])


def phash(im: Image.Image) -> int:
    """DCT hash: the 8x8 lowest frequencies of a 32x32 grey image, thresholded at their median."""
    coeffs = (_DCT32 @ _grey(im, (32, 32)) @ _DCT32.T)[:8, :8]
    return _pack(coeffs > np.median(coeffs))


def dhash(im: Image.Image) -> int:
    """Difference hash: is each pixel of a 9x8 grey image brighter than its right neighbour."""
    g = _grey(im, (9, 8))
    return _pack(g[:, 1:] > g[:, :-1])


def hamming(a: int, b: int) -> int:
    return bin((a ^ b) & (2**BITS - 1)).count("1")
