"""Region descriptors (R-MAC style) from the encoder's CNN feature map, stored per image.

An image is resized (aspect kept, long side ``RegionConfig.long_side``) and run through the
encoder's convolutional trunk once; regions are a multi-scale grid on the feature map (R-MAC
levels 1..L: the whole map, then overlapping squares of side 2·min(h, w)/(l+1)), each GeM-pooled
and L2-normalised. Stored as float16 with their boxes (fractions of the image) and the image's
perceptual hashes, keyed by vector id (catalog table ``regions``).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from pixseek.compare.hashes import dhash, phash
from pixseek.encoders import Encoder
from pixseek.errors import ImageError
from pixseek.io import load_image
from pixseek.preprocess import normalize


@dataclass(frozen=True)
class RegionConfig:
    long_side: int = 384  # input size for the feature map (the ONNX graph takes any H, W)
    levels: int = 3  # R-MAC scales
    overlap: float = 0.4  # between neighbouring regions of one scale
    gem_p: float = 3.0


DEFAULT = RegionConfig()


@dataclass
class Regions:
    boxes: np.ndarray  # (r, 4) float32: x0, y0, x1, y1 as fractions of the image
    feats: np.ndarray  # (r, C) float32, L2-normalised; row 0 is the whole image
    phash: int
    dhash: int

    def nbytes(self) -> int:
        return self.boxes.size * 4 + self.feats.size * 2 + 16


def has_feature_maps(encoder: Encoder) -> bool:
    return encoder.config.feature_maps


def grid(h: int, w: int, levels: int, overlap: float = 0.4) -> list[tuple[int, int, int, int]]:
    """R-MAC regions on an (h, w) feature map as (y0, y1, x0, x1) cell ranges."""
    cells = [(0, h, 0, w)]
    for level in range(2, levels + 1):
        side = max(1, round(2 * min(h, w) / (level + 1)))
        step = max(1.0, side * (1 - overlap))
        ny = math.ceil((h - side) / step) + 1 if h > side else 1
        nx = math.ceil((w - side) / step) + 1 if w > side else 1
        for y in np.linspace(0, h - side, ny):
            for x in np.linspace(0, w - side, nx):
                y0, x0 = int(round(y)), int(round(x))
                cells.append((y0, y0 + side, x0, x0 + side))
    return list(dict.fromkeys(cells))


def _input(encoder: Encoder, im: Image.Image, cfg: RegionConfig) -> np.ndarray:
    w, h = im.size
    scale = cfg.long_side / max(w, h)
    size = (max(32, round(w * scale / 32) * 32), max(32, round(h * scale / 32) * 32))
    return normalize(encoder.preprocess, im.convert("RGB").resize(size, Image.Resampling.BILINEAR))


def _pool(fmap: np.ndarray, im: Image.Image, cfg: RegionConfig) -> Regions:
    _, h, w = fmap.shape
    powered = np.power(np.clip(fmap.astype(np.float32), 1e-6, None), cfg.gem_p)
    cells = grid(h, w, cfg.levels, cfg.overlap)
    feats = np.stack([powered[:, y0:y1, x0:x1].mean(axis=(1, 2)) for y0, y1, x0, x1 in cells]) ** (1 / cfg.gem_p)
    feats /= np.linalg.norm(feats, axis=1, keepdims=True) + 1e-12
    boxes = np.asarray([(x0 / w, y0 / h, x1 / w, y1 / h) for y0, y1, x0, x1 in cells], np.float32)
    return Regions(boxes, feats.astype(np.float32), phash(im), dhash(im))


def describe(encoder: Encoder, im: Image.Image, cfg: RegionConfig = DEFAULT) -> Regions:
    """Region descriptors of one image (one forward pass at ``cfg.long_side``)."""
    return describe_many(encoder, [im], cfg)[0]


def describe_many(encoder: Encoder, ims: Sequence[Image.Image], cfg: RegionConfig = DEFAULT) -> list[Regions]:
    """Region descriptors of several images; those with the same input size share one forward pass."""
    inputs = [_input(encoder, im, cfg) for im in ims]
    out: list[Regions | None] = [None] * len(ims)
    by_shape: dict[tuple, list[int]] = {}
    for i, x in enumerate(inputs):
        by_shape.setdefault(x.shape, []).append(i)
    for idx in by_shape.values():
        fmaps = encoder.feature_maps(np.stack([inputs[i] for i in idx]))
        for i, fmap in zip(idx, fmaps):
            out[i] = _pool(fmap, ims[i], cfg)
    return out


ROTATION_CROP = 0.7  # of each side kept around the centre of a de-rotated query (dev set: 0.7 over 0.8)


def _derotated(im: Image.Image, angle: float) -> Image.Image:
    turned = im.rotate(angle, Image.Resampling.BILINEAR, expand=False)
    w, h = turned.size
    cw, ch = max(1, int(w * ROTATION_CROP)), max(1, int(h * ROTATION_CROP))
    left, top = (w - cw) // 2, (h - ch) // 2
    return turned.crop((left, top, left + cw, top + ch))


def describe_variants(encoder: Encoder, im: Image.Image, cfg: RegionConfig = DEFAULT,
                      rotations: tuple[float, ...] = (), plain: bool = True) -> list[Regions]:
    """A query's regions: as is and mirrored (``plain``; flips are a common edit and CNN features are not
    flip-invariant), then turned by each of ``rotations`` degrees and cropped to the centre
    (``ROTATION_CROP``), which leaves out the corners a rotation fills: a copy rotated by ~15 degrees
    matches its source again. Variants of one size share a forward pass."""
    im = im.convert("RGB")
    ims = [im, ImageOps.mirror(im)] if plain else []
    return describe_many(encoder, ims + [_derotated(im, a) for a in rotations], cfg)


def describe_query(encoder: Encoder, im: Image.Image, cfg: RegionConfig = DEFAULT,
                   rotations: tuple[float, ...] = ()) -> list[Regions]:
    """All of a query's variants (:func:`describe_variants`): as is, mirrored, then de-rotated."""
    return describe_variants(encoder, im, cfg, rotations)


class RegionStore:
    """Region descriptors of a library's items (its catalog's ``regions`` table, through the library).
    A read-only library (a search) keeps what it describes in memory and stores nothing."""

    def __init__(self, library):
        self.library = library
        self.dim = library.dim

    def put(self, items: Iterable[tuple[int, Regions]]) -> None:
        rows = [(vid, r.boxes.astype(np.float32).tobytes(), r.feats.astype(np.float16).tobytes(), r.phash, r.dhash)
                for vid, r in items]
        if rows and not self.library.readonly:
            self.library.put_regions(rows)

    def phashes(self, ids: Iterable[int]) -> dict[int, int]:
        """Stored pHashes of ``ids`` (those that have regions), without reading descriptors."""
        return self.library.region_hashes(ids)

    def get(self, ids: Iterable[int]) -> dict[int, Regions]:
        return {vid: Regions(np.frombuffer(boxes, np.float32).reshape(-1, 4),
                             np.frombuffer(feats, np.float16).reshape(-1, self.dim).astype(np.float32), ph, dh)
                for vid, boxes, feats, ph, dh in self.library.region_rows(ids)}


def describe_missing(library, ids: Sequence[int], cfg: RegionConfig = DEFAULT,
                     progress: Callable[[str, int, int], None] | None = None) -> None:
    """Describe and store the regions of those of ``ids`` that have none yet (nothing is kept in memory)."""
    store = RegionStore(library)
    have = store.phashes(ids)
    missing = [int(i) for i in ids if int(i) not in have]
    _describe_into(library, store, missing, cfg, progress, None)


def ensure_regions(library, ids: Sequence[int], cfg: RegionConfig = DEFAULT,
                   progress: Callable[[str, int, int], None] | None = None) -> dict[int, Regions]:
    """Stored regions of ``ids``; those missing (indexed before regions existed) are computed from
    their files now and stored (in batches, calling ``progress("describing regions", done, total)``).
    Unreadable files are left out."""
    store = RegionStore(library)
    have = store.get(ids)
    missing = [int(i) for i in ids if int(i) not in have]
    _describe_into(library, store, missing, cfg, progress, have)
    return have


def _describe_into(library, store: RegionStore, missing: list[int], cfg: RegionConfig,
                   progress: Callable[[str, int, int], None] | None, have: dict[int, Regions] | None) -> None:
    if missing:
        rows = {r.id: r for r in library.items(missing)}
        todo = [vid for vid in missing if vid in rows and rows[vid].kind == "image"]
        for start in range(0, len(todo), 16):
            fresh = []
            for vid in todo[start:start + 16]:
                try:
                    fresh.append((vid, describe(library.encoder, load_image(rows[vid].path, min_side=cfg.long_side),
                                                cfg)))
                except ImageError:
                    continue
            store.put(fresh)
            if have is not None:
                have.update(fresh)
            if progress is not None:
                progress("describing regions", min(start + 16, len(todo)), len(todo))


def region_extra(library) -> Callable | None:
    """The indexing hook: describe each newly written image's regions (None for encoders without feature maps)."""
    if not has_feature_maps(library.encoder):
        return None
    store = RegionStore(library)

    def extra(decoded, added: list[int]) -> None:
        if len(decoded) != len(added):  # one vector per image; anything else is not ours to describe
            return
        items = []
        for d, vid in zip(decoded, added):
            try:
                items.append((vid, describe(library.encoder, load_image(d.path, min_side=DEFAULT.long_side))))
            except ImageError:
                continue
        store.put(items)

    return extra
