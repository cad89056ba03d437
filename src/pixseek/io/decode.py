"""Decode one file into an RGB PIL image, safely.

Covers JPEG, PNG, WebP, GIF (first frame), BMP, TIFF, HEIC/AVIF (pillow-heif), EXIF orientation,
palette / RGBA / CMYK / 16-bit / greyscale inputs, and rejects empty, corrupt, truncated and
decompression-bomb files with a typed :class:`~pixseek.errors.ImageError`.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from pixseek.errors import (
    CorruptImageError,
    EmptyFileError,
    ImageTooLargeError,
    NotAnImageError,
    UnreadableFileError,
)

try:  # HEIC / AVIF support is optional at import time but pinned in requirements.
    import pillow_heif

    pillow_heif.register_heif_opener()
    if hasattr(pillow_heif, "register_avif_opener"):
        pillow_heif.register_avif_opener()
except ImportError:  # pragma: no cover - exercised only without the optional package
    pillow_heif = None

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".bmp", ".dib", ".tif", ".tiff",
     ".heic", ".heif", ".avif"}
)
DEFAULT_MAX_PIXELS = 64_000_000  # ~8000 x 8000; anything larger is treated as a bomb.
ImageFile.LOAD_TRUNCATED_IMAGES = False

Background = tuple[int, int, int]


def _to_rgb(im: Image.Image, background: Background) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB; transparent pixels are composited on ``background``."""
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        if im.mode == "F" and lo >= 0 and hi <= 1:
            scaled = arr * 255.0  # float images in [0, 1]
        elif lo >= 0 and hi <= 65535:
            scaled = arr / 257.0  # 16-bit samples: keep absolute brightness
        else:
            scaled = (arr - lo) * (255.0 / (hi - lo) if hi > lo else 0.0)
        im = Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    if im.mode != "RGB":
        im = im.convert("RGB")
    return im


# DCT scaling comes in powers of two; a photo whose shorter side is just under 4x or 8x the size asked
# for would decode at twice the pixels. Decoding up to 10 % under the hint and letting the resize
# make it up halves the decode of such photos (1280x852 -> 320x213 instead of 640x426 for a 224 hint);
# embeddings stay at cosine 0.998 (mean; min 0.986) of the exact decode on the bench's 1280 px photos.
DRAFT_SLACK = 0.9


def load_image(
    path: str | Path,
    *,
    data=None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int | None = None,
    background: Background = (255, 255, 255),
) -> Image.Image:
    """Open ``path`` and return an upright RGB image.

    ``data``: an already-read binary file object for ``path`` (the path is then only named in errors).
    ``min_side``: when given, JPEG decoding may use DCT scaling (``Image.draft``: 1/2, 1/4, 1/8) so
    that the decoded image is still at least ``DRAFT_SLACK`` x ``min_side`` pixels on its shorter side;
    this is several times faster for large photos and invisible after the encoder's resize.
    """
    path = Path(path)
    try:
        size = data.getbuffer().nbytes if data is not None else path.stat().st_size
    except OSError as exc:
        raise UnreadableFileError(path, f"cannot stat file ({exc.strerror or exc})") from exc
    if size == 0:
        raise EmptyFileError(path, "file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(data if data is not None else path)
            w, h = im.size
            if w * h > max_pixels:
                raise ImageTooLargeError(
                    path, f"{w}x{h} = {w * h} pixels exceeds the limit of {max_pixels} (decompression bomb?)"
                )
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)  # GIF / APNG / multi-page TIFF: first frame
            if min_side and im.format == "JPEG":
                scale = min(w, h) / float(min_side * DRAFT_SLACK)
                if scale >= 2:
                    im.draft("RGB", (max(1, int(w / scale)), max(1, int(h / scale))))
            im.load()
            im = ImageOps.exif_transpose(im)
            return _to_rgb(im, background)
    except ImageTooLargeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(path, f"decompression bomb: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise NotAnImageError(path, "not a recognised image format") from exc
    except PermissionError as exc:
        raise UnreadableFileError(path, f"permission denied ({exc})") from exc
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise CorruptImageError(path, f"cannot decode: {exc}") from exc
