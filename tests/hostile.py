"""Builders for real image files in every format we decode, and for a hostile corpus."""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from conftest import GALLERY


def png_bomb(path: Path, side: int = 50_000) -> Path:
    """A valid 1-bit PNG of side x side pixels (2.5 gigapixels) that compresses to a few hundred KB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    comp = zlib.compressobj(9)
    parts = [comp.compress(row * 1000) for _ in range(side // 1000)]
    parts.append(comp.flush())
    with open(path, "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n")
        fh.write(chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)))
        fh.write(chunk(b"IDAT", b"".join(parts)))
        fh.write(chunk(b"IEND", b""))
    return path


def hostile_corpus(folder: Path) -> dict[str, str]:
    """Write bad files into ``folder``; returns {file name: expected error kind}."""
    folder.mkdir(parents=True, exist_ok=True)
    good = (GALLERY / "coffee.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("this is a text file, not a JPEG\n")
    png_bomb(folder / "bomb.png")
    loop = folder / "loop"
    loop.mkdir()
    os.symlink("..", loop / "parent")  # directory loop
    os.symlink("self.jpg", folder / "self.jpg")  # a link to itself
    return {"truncated.jpg": "corrupt-image", "empty.jpg": "empty-file", "notes.jpg": "not-an-image",
            "bomb.png": "too-large", "self.jpg": "unreadable"}


def format_zoo(folder: Path) -> dict[str, tuple[int, int]]:
    """The cat photo in many encodings; returns {file name: expected upright (w, h)}."""
    folder.mkdir(parents=True, exist_ok=True)
    cat = Image.open(GALLERY / "chelsea.jpg").convert("RGB")
    w, h = cat.size
    out: dict[str, tuple[int, int]] = {}

    cat.save(folder / "cat.png"); out["cat.png"] = (w, h)
    cat.save(folder / "cat.webp", quality=80); out["cat.webp"] = (w, h)
    cat.save(folder / "cat.bmp"); out["cat.bmp"] = (w, h)
    cat.save(folder / "cat.tiff"); out["cat.tiff"] = (w, h)
    cat.convert("L").save(folder / "cat-grey.jpg"); out["cat-grey.jpg"] = (w, h)
    cat.convert("CMYK").save(folder / "cat-cmyk.jpg"); out["cat-cmyk.jpg"] = (w, h)
    cat.quantize(64).save(folder / "cat-palette.png"); out["cat-palette.png"] = (w, h)
    rgba = cat.convert("RGBA")
    alpha = np.full((h, w), 255, np.uint8)
    alpha[:, : w // 4] = 0
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(folder / "cat-rgba.png"); out["cat-rgba.png"] = (w, h)
    grey16 = (np.asarray(cat.convert("L"), np.uint16) * 257).astype(np.uint16)
    Image.fromarray(grey16).save(folder / "cat-16bit.png"); out["cat-16bit.png"] = (w, h)
    frames = [cat, cat.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    frames[0].save(folder / "cat.gif", save_all=True, append_images=frames[1:], duration=100); out["cat.gif"] = (w, h)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display
    cat.save(folder / "cat-exif-rot.jpg", exif=exif.tobytes()); out["cat-exif-rot.jpg"] = (h, w)
    import pillow_heif

    pillow_heif.from_pillow(cat).save(folder / "cat.heic", quality=80); out["cat.heic"] = (w, h)
    return out
