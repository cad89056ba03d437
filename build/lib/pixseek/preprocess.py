"""Image -> model input, built from an encoder's own :class:`PreprocessConfig` (timm-style),
so the transform and the weights can never drift apart."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from pixseek.io import load_image

_RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}


@dataclass(frozen=True)
class PreprocessConfig:
    """How the weights expect their input.

    ``mode``: ``"squash"`` resizes the whole image to ``input_size`` x ``input_size`` (keeps all
    content, changes aspect); ``"center_crop"`` resizes the shorter side to
    ``input_size / crop_pct`` and crops the centre.
    """

    input_size: int = 224
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    mode: str = "center_crop"
    crop_pct: float = 1.0
    interpolation: str = "bilinear"
    background: tuple[int, int, int] = (255, 255, 255)  # transparent pixels are composited on this

    def __post_init__(self) -> None:
        if self.mode not in ("squash", "center_crop"):
            raise ValueError(f"unknown preprocess mode {self.mode!r}")
        if self.interpolation not in _RESAMPLE:
            raise ValueError(f"unknown interpolation {self.interpolation!r}")

    @property
    def min_decode_side(self) -> int:
        """Smallest shorter side a decoder may produce without losing detail."""
        return int(round(self.input_size / self.crop_pct))


def resize_for(cfg: PreprocessConfig, im: Image.Image, size: int | None = None) -> Image.Image:
    """Geometric part of the transform (resize / crop) at ``size`` (default: the config's)."""
    size = size or cfg.input_size
    resample = _RESAMPLE[cfg.interpolation]
    if cfg.mode == "squash":
        return im.resize((size, size), resample, reducing_gap=3.0)
    short = int(round(size / cfg.crop_pct))
    w, h = im.size
    scale = short / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    im = im.resize((nw, nh), resample, reducing_gap=3.0)
    left, top = (nw - size) // 2, (nh - size) // 2
    return im.crop((left, top, left + size, top + size))


def normalize(cfg: PreprocessConfig, im: Image.Image) -> np.ndarray:
    """RGB PIL image -> float32 (3, H, W) normalised with the config's mean and std.

    A 256-entry lookup table per channel: one gather instead of a float multiply-add chain,
    about twice as fast, which matters because this runs for every image while the encoder works."""
    arr = np.asarray(im)
    lut = _lookup_table(cfg.mean, cfg.std)
    out = np.empty((3, arr.shape[0], arr.shape[1]), np.float32)
    for c in range(3):
        np.take(lut[c], arr[..., c], out=out[c])
    return out


@lru_cache(maxsize=16)
def _lookup_table(mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    levels = np.arange(256, dtype=np.float32)[None, :] / np.float32(255.0)
    return (levels - np.asarray(mean, np.float32)[:, None]) / np.asarray(std, np.float32)[:, None]


def build_transform(cfg: PreprocessConfig) -> Callable[[Image.Image], np.ndarray]:
    """The full transform: RGB PIL image -> float32 (3, S, S)."""

    def transform(im: Image.Image) -> np.ndarray:
        return normalize(cfg, resize_for(cfg, im))

    return transform


def load_for(cfg: PreprocessConfig, path, **kwargs) -> Image.Image:
    """Decode ``path`` the way this config wants it (decode size hint, transparency background)."""
    return load_image(path, min_side=cfg.min_decode_side, background=cfg.background, **kwargs)
