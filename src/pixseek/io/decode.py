"""Decode one file into an RGB PIL image, safely.

Covers JPEG, PNG, WebP, GIF (first frame), BMP, TIFF, HEIC/AVIF (pillow-heif), EXIF orientation,
palette / RGBA / CMYK / 16-bit / greyscale inputs, and rejects empty, corrupt, truncated and
decompression-bomb files with a typed :class:`~pixseek.errors.ImageError`.
"""
from __future__ import annotations

import io
import math
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from pixseek.errors import (
    CorruptImageError,
    EmptyFileError,
    ImageError,
    ImageTooLargeError,
    NotAnImageError,
    UnreadableFileError,
)
from pixseek.io.files import DEFAULT_MAX_FILE_BYTES, printable_path, read_bounded

try:  # libjpeg-turbo with DCT scaling at any M/8, ~25 % faster than PIL's draft path; pinned in requirements
    import simplejpeg
except ImportError:  # pragma: no cover - exercised only without the optional package
    simplejpeg = None

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
# Only these PIL decoders are tried (no EPS through Ghostscript, no guessing at headerless formats).
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "DIB", "TIFF", "HEIF", "AVIF")
# The longer side is centre-cropped to at most this many times the shorter one, right after decoding:
# a 100000x1 strip would otherwise be scaled to 22400000x224 (15 GB) before the encoder's crop. The
# encoders' centre crop only sees the middle square, so their input is unchanged; squashing encoders
# lose the ends of panoramas wider than 16:1.
DEFAULT_MAX_ASPECT = 16.0
# What a corrupt stream can raise from inside PIL's pure-Python parsers besides OSError.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, MemoryError, struct.error, IndexError, KeyError,
                  TypeError, ZeroDivisionError, OverflowError, RuntimeError, AttributeError, NotImplementedError)
ImageFile.LOAD_TRUNCATED_IMAGES = False


def pil_error(path: str | Path, exc: BaseException, doing: str) -> BaseException:
    """The typed error for what PIL raised while ``doing`` (decode, read the header of) ``path``: one
    mapping for the decoder and the header reader. Errors already typed, and anything not a decoding
    problem, come back unchanged (the caller re-raises them)."""
    if isinstance(exc, ImageError):
        return exc
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return ImageTooLargeError(path, f"decompression bomb: {exc}")
    if isinstance(exc, UnidentifiedImageError):
        return NotAnImageError(path, "not a recognised image format")
    if isinstance(exc, PermissionError):
        return UnreadableFileError(path, f"permission denied ({exc})")
    if isinstance(exc, FileNotFoundError):
        return UnreadableFileError(path, f"no such file ({exc.strerror or exc})")
    if isinstance(exc, _DECODE_ERRORS):
        return CorruptImageError(path, f"cannot {doing}: {exc or type(exc).__name__}")
    return exc

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


_ORIENTATION = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
                5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                8: Image.Transpose.ROTATE_90}


def _scaled_jpeg(header: Image.Image, data: bytes, min_side: int) -> Image.Image:
    """A colour JPEG decoded by libjpeg-turbo at the smallest M/8 scale whose sides stay >= ``min_side``,
    then turned upright by its EXIF orientation (``header``: PIL's parse of the same file, pixels unread).
    Strict: a corrupt or truncated stream raises instead of returning grey rows."""
    arr = simplejpeg.decode_jpeg(data, "RGB", fastdct=True, fastupsample=True, min_height=min_side,
                                 min_width=min_side, strict=True)
    im = Image.fromarray(arr)
    method = _ORIENTATION.get(header.getexif().get(0x0112, 1))
    return im.transpose(method) if method is not None else im


def crop_aspect(im: Image.Image, max_aspect: float) -> Image.Image:
    """The centre of ``im`` with its longer side cut to at most ``max_aspect`` x the shorter one."""
    w, h = im.size
    if w > max_aspect * h:
        keep = max(1, int(max_aspect * h))
        left = (w - keep) // 2
        return im.crop((left, 0, left + keep, h))
    if h > max_aspect * w:
        keep = max(1, int(max_aspect * w))
        top = (h - keep) // 2
        return im.crop((0, top, w, top + keep))
    return im


def load_image(
    path: str | Path,
    *,
    data=None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int | None = None,
    background: Background = (255, 255, 255),
    max_aspect: float = DEFAULT_MAX_ASPECT,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> Image.Image:
    """Open ``path`` and return an upright RGB image.

    ``data``: an already-read binary file object for ``path`` (the path is then only named in errors).
    ``min_side``: when given, JPEG decoding may use DCT scaling (libjpeg-turbo through simplejpeg for
    colour JPEGs, any M/8; else ``Image.draft``: 1/2, 1/4, 1/8) so that the decoded image is still at
    least ``DRAFT_SLACK`` x ``min_side`` pixels on its shorter side; this is several times faster for
    large photos and invisible after the encoder's resize.
    ``max_aspect``: the longer side is centre-cropped to this many times the shorter one (see
    :data:`DEFAULT_MAX_ASPECT`), so the work after decoding is bounded for any aspect ratio.
    Without ``data`` the file is read with :func:`~pixseek.io.files.read_bounded` (regular files
    only, at most ``max_bytes``).
    """
    if data is None:
        data = io.BytesIO(read_bounded(path, max_bytes)[0])
    path = printable_path(path)
    size = data.getbuffer().nbytes
    if size == 0:
        raise EmptyFileError(path, "file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(data, formats=FORMATS)
            w, h = im.size
            if w * h > max_pixels:
                raise ImageTooLargeError(
                    path, f"{w}x{h} = {w * h} pixels exceeds the limit of {max_pixels} (decompression bomb?)"
                )
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)  # GIF / APNG / multi-page TIFF: first frame
            if min_side and im.format == "JPEG":
                scale = min(w, h) / float(min_side * DRAFT_SLACK)
                if scale >= 2 and im.mode == "RGB" and simplejpeg is not None:
                    with im:  # only the header was read; the file is read whole by the decoder
                        return crop_aspect(_scaled_jpeg(im, data.getvalue(), math.ceil(min_side * DRAFT_SLACK)),
                                           max_aspect)
                if scale >= 2:
                    im.draft("RGB", (max(1, int(w / scale)), max(1, int(h / scale))))
            im.load()
            im = crop_aspect(ImageOps.exif_transpose(im), max_aspect)
            return _to_rgb(im, background)
    except Exception as exc:  # noqa: BLE001 - translated, or re-raised as it was
        raise pil_error(path, exc, "decode") from exc
