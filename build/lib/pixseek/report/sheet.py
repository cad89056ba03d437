"""Contact sheet: one row per query, the query image then its hits, each captioned with name and score."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from pixseek.errors import ImageError
from pixseek.io import load_image

THUMB = 160
CAPTION = 34
PAD = 8


def _font(size: int = 12):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # very old Pillow
        return ImageFont.load_default()


def _thumb(path_or_image, size: int = THUMB) -> Image.Image:
    if isinstance(path_or_image, Image.Image):
        im = path_or_image.convert("RGB")
    else:
        try:
            im = load_image(path_or_image, min_side=size)
        except ImageError:
            im = Image.new("RGB", (size, size), (90, 30, 30))
    im = im.copy()
    im.thumbnail((size, size))
    canvas = Image.new("RGB", (size, size), (235, 235, 235))
    canvas.paste(im, ((size - im.width) // 2, (size - im.height) // 2))
    return canvas


def _shorten(text: str, n: int = 24) -> str:
    return text if len(text) <= n else "…" + text[-(n - 1):]


def contact_sheet(rows: Sequence[tuple[object, str, Sequence[tuple[object, str]]]], out: str | os.PathLike,
                  thumb: int = THUMB) -> Path:
    """Write a PNG. ``rows``: (query image or path, query caption, [(hit image or path, caption), ...])."""
    ncols = 1 + max((len(h) for _, _, h in rows), default=0)
    cell_w, cell_h = thumb + PAD, thumb + CAPTION + PAD
    sheet = Image.new("RGB", (PAD + ncols * cell_w + PAD, PAD + max(1, len(rows)) * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    font = _font()
    for r, (query, qcap, hits) in enumerate(rows):
        y = PAD + r * cell_h
        cells = [(query, qcap, (40, 90, 200))] + [(h, cap, (200, 200, 200)) for h, cap in hits]
        for c, (img, cap, colour) in enumerate(cells):
            x = PAD + c * cell_w + (PAD if c else 0)
            sheet.paste(_thumb(img, thumb), (x, y))
            draw.rectangle([x - 1, y - 1, x + thumb, y + thumb], outline=colour, width=2 if c == 0 else 1)
            for li, line in enumerate(cap.split("\n")[:2]):
                draw.text((x, y + thumb + 3 + li * 14), _shorten(line), fill=(20, 20, 20), font=font)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out
