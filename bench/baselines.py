"""Classical baselines, as encoders with the same contract, so `evaluate_folder` scores them alike."""
from __future__ import annotations

import numpy as np

from pixseek.encoders.base import Embedding, Encoder, EncoderConfig, l2_normalize
from pixseek.preprocess import PreprocessConfig


class ColourHistogram(Encoder):
    """Joint RGB histogram (8x8x8 bins), square-rooted (Hellinger) and L2-normalised."""

    def __init__(self):
        pp = PreprocessConfig(input_size=64, mean=(0, 0, 0), std=(1 / 255,) * 3, mode="squash")
        super().__init__(EncoderConfig("baseline/colour-histogram-512", "baseline/colour-histogram-512", 512, pp))

    def embed_pixels(self, pixels: np.ndarray) -> Embedding:
        q = np.clip(pixels, 0, 255).astype(np.int64) // 32  # (n, 3, H, W), 8 levels per channel
        codes = (q[:, 0] * 64 + q[:, 1] * 8 + q[:, 2]).reshape(len(q), -1)
        hist = np.stack([np.bincount(c, minlength=512) for c in codes]).astype(np.float32)
        return Embedding(l2_normalize(np.sqrt(hist)))


class TinyPixels(Encoder):
    """The image squashed to 16x16 RGB, mean-centred, L2-normalised (Torralba's tiny images)."""

    def __init__(self):
        pp = PreprocessConfig(input_size=16, mean=(0, 0, 0), std=(1,) * 3, mode="squash")
        super().__init__(EncoderConfig("baseline/tiny-16x16", "baseline/tiny-16x16", 768, pp))

    def embed_pixels(self, pixels: np.ndarray) -> Embedding:
        flat = pixels.reshape(len(pixels), -1)
        return Embedding(l2_normalize(flat - flat.mean(axis=1, keepdims=True)))
