"""A picture of which regions of two images match: the best region pairs drawn as boxes in the same colour."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from pixseek.compare.regions import RegionConfig, describe
from pixseek.encoders import Encoder

COLOURS = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230)]
FINE = RegionConfig(levels=4)


@dataclass
class Match:
    box_a: tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of image a
    box_b: tuple[float, float, float, float]
    similarity: float


def _iou(p: np.ndarray, q: np.ndarray) -> float:
    ix = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
    iy = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
    inter = ix * iy
    return inter / ((p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter + 1e-9)


def match_regions(encoder: Encoder, a: Image.Image, b: Image.Image, top: int = 6, cfg: RegionConfig = FINE,
                  max_overlap: float = 0.3) -> list[Match]:
    """The ``top`` best-matching region pairs (whole-image regions left out), greedily chosen so that
    no two chosen boxes overlap much on either side."""
    ra, rb = describe(encoder, a, cfg), describe(encoder, b, cfg)
    sims = ra.feats[1:] @ rb.feats[1:].T
    ba, bb = ra.boxes[1:], rb.boxes[1:]
    chosen: list[Match] = []
    for flat in np.argsort(-sims, axis=None):
        i, j = divmod(int(flat), sims.shape[1])
        if any(_iou(ba[i], np.asarray(m.box_a)) > max_overlap or _iou(bb[j], np.asarray(m.box_b)) > max_overlap
               for m in chosen):
            continue
        chosen.append(Match(tuple(map(float, ba[i])), tuple(map(float, bb[j])), float(sims[i, j])))
        if len(chosen) == top:
            break
    return chosen


def explain(encoder: Encoder, a: Image.Image, b: Image.Image, out: str | os.PathLike, top: int = 6,
            height: int = 400) -> list[Match]:
    """Write a PNG with ``a`` and ``b`` side by side and their best region matches as same-coloured boxes."""
    matches = match_regions(encoder, a, b, top)
    sides = [ImageOps.contain(im.convert("RGB"), (height * 3, height)) for im in (a, b)]
    gap = 16
    canvas = Image.new("RGB", (sides[0].width + gap + sides[1].width, height + 24), (255, 255, 255))
    canvas.paste(sides[0], (0, 0))
    canvas.paste(sides[1], (sides[0].width + gap, 0))
    draw = ImageDraw.Draw(canvas)
    for n, m in enumerate(matches):
        colour = COLOURS[n % len(COLOURS)]
        for box, im, x_off in ((m.box_a, sides[0], 0), (m.box_b, sides[1], sides[0].width + gap)):
            x0, y0, x1, y1 = box
            rect = (x_off + x0 * im.width, y0 * im.height, x_off + x1 * im.width - 1, y1 * im.height - 1)
            draw.rectangle(rect, outline=colour, width=3)
            draw.text((rect[0] + 4, rect[1] + 2), f"{n + 1}:{m.similarity:.2f}", fill=colour)
    draw.text((4, height + 6), "same colour = matching regions (number: rank, cosine)", fill=(0, 0, 0))
    canvas.save(out, format="PNG")
    return matches
