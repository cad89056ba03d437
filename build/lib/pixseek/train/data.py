"""Training data: labelled folders, class-disjoint and stratified splits, retrieval augmentations,
cached backbone features, and class-balanced batches (pytorch-metric-learning's m-per-class sampler)."""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from pixseek.encoders import Encoder
from pixseek.encoders.onnx_runtime import cache_dir
from pixseek.errors import DatasetError, ImageError
from pixseek.io import load_image
from pixseek.preprocess import PreprocessConfig
from pixseek.search.evaluate import labelled_files
from pixseek.search.pipeline import Decoded, batched, decode_stream, read_and_decode

Progress = Callable[[int, int], None]


@dataclass(frozen=True, eq=False)
class LabelledImages:
    """Image paths with integer labels indexing ``classes``."""

    paths: tuple[str, ...]
    labels: np.ndarray
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, idx) -> "LabelledImages":
        idx = np.asarray(idx, np.int64)
        return LabelledImages(tuple(self.paths[i] for i in idx), self.labels[idx], self.classes)

    def class_names(self) -> list[str]:
        return [self.classes[i] for i in self.labels]


def read_image_folder(folder: str | os.PathLike) -> LabelledImages:
    """An ImageFolder tree (one sub-folder per class) -> :class:`LabelledImages`."""
    paths, names = labelled_files(folder)
    classes = tuple(sorted(set(names)))
    index = {c: i for i, c in enumerate(classes)}
    return LabelledImages(tuple(paths), np.array([index[n] for n in names], np.int64), classes)


def split_by_class(labels: np.ndarray, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) indices with DISJOINT classes: ``fraction`` of the classes (at least 2) held out."""
    labels = np.asarray(labels)
    present = np.unique(labels)
    n_out = max(2, int(round(len(present) * fraction)))
    if len(present) - n_out < 2:
        raise DatasetError(f"{len(present)} classes are too few to hold {n_out} out and train on the rest")
    held = np.random.default_rng(seed).permutation(present)[:n_out]
    mask = np.isin(labels, held)
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def split_within_classes(labels: np.ndarray, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) indices, stratified: ``fraction`` of each class's images (one at least, if it has two)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, held = [], []
    for lab in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == lab))
        n_out = min(len(idx) - 1, max(1, int(round(len(idx) * fraction)))) if len(idx) > 1 else 0
        held += idx[:n_out].tolist()
        train += idx[n_out:].tolist()
    if not held:
        raise DatasetError("no class has two images: nothing to hold out for validation")
    return np.array(sorted(train), np.int64), np.array(sorted(held), np.int64)


# -- augmentations ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class AugmentConfig:
    """Retrieval augmentations: a random resized crop, flip, small rotation, colour jitter."""

    crop_scale: tuple[float, float] = (0.5, 1.0)  # area fraction of the crop
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip: bool = True
    rotate: float = 10.0  # degrees, uniform in [-rotate, rotate]
    jitter: float = 0.25  # brightness / contrast / saturation factor range 1 +- jitter
    grayscale: float = 0.1  # probability


def augment(im: Image.Image, cfg: AugmentConfig, rng: random.Random) -> Image.Image:
    """One random view of ``im`` (RGB PIL)."""
    w, h = im.size
    for _ in range(10):
        area = w * h * rng.uniform(*cfg.crop_scale)
        ratio = math.exp(rng.uniform(math.log(cfg.crop_ratio[0]), math.log(cfg.crop_ratio[1])))
        cw, ch = int(round(math.sqrt(area * ratio))), int(round(math.sqrt(area / ratio)))
        if 0 < cw <= w and 0 < ch <= h:
            x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
            im = im.crop((x, y, x + cw, y + ch))
            break
    if cfg.flip and rng.random() < 0.5:
        im = ImageOps.mirror(im)
    if cfg.rotate:
        im = im.rotate(rng.uniform(-cfg.rotate, cfg.rotate), resample=Image.Resampling.BILINEAR,
                       fillcolor=im.getpixel((0, 0)))
    if cfg.jitter:
        for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
            im = enhancer(im).enhance(rng.uniform(1 - cfg.jitter, 1 + cfg.jitter))
    if rng.random() < cfg.grayscale:
        im = ImageOps.grayscale(im).convert("RGB")
    return im


def augmented_decoder(cfg: AugmentConfig, seed: int):
    """A ``decode`` for :func:`~pixseek.search.pipeline.decode_stream` that augments before the transform.

    The random state is derived from (seed, file content), so a view is the same on every run (cacheable)."""

    def decode(path: str, transform, pp: PreprocessConfig, known_sha=None) -> Decoded:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
            im = load_image(path, data=io.BytesIO(data), min_side=pp.min_decode_side, background=pp.background)
        except ImageError as err:
            return Decoded(path, None, "", 0, 0, error=err)
        except OSError:
            return read_and_decode(path, transform, pp)  # let the standard reader name the error
        rng = random.Random(f"{seed}:{hashlib.sha1(data).hexdigest()}")
        return Decoded(path, transform(augment(im, cfg, rng)), "", len(data), 0, im.width, im.height)

    return decode


# -- cached backbone features -----------------------------------------------------------------------
@dataclass(frozen=True)
class FeatureSpec:
    """What a feature cache holds: ``views`` per image, view 0 clean, the others augmented."""

    views: int = 2
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    seed: int = 0


@dataclass
class Features:
    """(views, n, d) float32 base embeddings of ``data`` (unreadable images dropped, listed in ``errors``)."""

    vectors: np.ndarray
    data: LabelledImages
    errors: list[dict]


def _cache_key(encoder: Encoder, data: LabelledImages, spec: FeatureSpec) -> str:
    h = hashlib.sha256(json.dumps({"model": encoder.model_id, "spec": asdict(spec)}, sort_keys=True).encode())
    for p in data.paths:
        try:
            st = os.stat(p)
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{p}\0missing\n".encode())
    return h.hexdigest()[:24]


def extract_features(encoder: Encoder, data: LabelledImages, spec: FeatureSpec = FeatureSpec(),
                     progress: Progress | None = None, cache: bool = True, batch_size: int = 32) -> Features:
    """Run the frozen encoder once per view over every image; cached on disk by content of the request."""
    path = cache_dir().parent / "features" / f"{_cache_key(encoder, data, spec)}.npz"
    if cache and path.exists():
        with np.load(path, allow_pickle=False) as z:
            keep = z["keep"]
            errors = json.loads(str(z["errors"]))
            return Features(z["vectors"], data.subset(np.flatnonzero(keep)), errors)
    total = len(data) * spec.views
    done = 0
    views, errors, keep = [], [], np.ones(len(data), bool)
    for v in range(spec.views):
        decode = read_and_decode if v == 0 else augmented_decoder(spec.augment, spec.seed * 1000 + v)
        rows: list[np.ndarray] = []
        for batch in batched(decode_stream(data.paths, encoder.preprocess, decode=decode), batch_size):
            good = [d for d in batch if d.pixels is not None]
            if v == 0:
                errors += [d.error.to_dict() for d in batch if d.error is not None]
            if good:
                rows.append(encoder.embed_pixels(np.stack([d.pixels for d in good])).vectors)
            done += len(batch)
            if progress:
                progress(done, total)
        views.append(np.concatenate(rows) if rows else np.zeros((0, encoder.embed_dim), np.float32))
    bad = {e["path"] for e in errors}
    keep = np.array([p not in bad for p in data.paths])
    n = int(keep.sum())
    if n == 0:
        raise DatasetError("no readable image in the training folder")
    vectors = np.stack([v[:n] for v in views]).astype(np.float32)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, vectors=vectors, keep=keep, errors=json.dumps(errors))
        os.replace(tmp, path)
    return Features(vectors, data.subset(np.flatnonzero(keep)), errors)


# -- batches ----------------------------------------------------------------------------------------
def balanced_batch_shape(labels: np.ndarray, batch_size: int, m: int) -> tuple[int, int]:
    """(batch size, m) that the m-per-class sampler accepts for these labels."""
    n_classes = len(np.unique(labels))
    m = max(1, min(m, int(np.bincount(labels).max())))
    batch_size = min(batch_size, m * n_classes)
    return max(m, batch_size - batch_size % m), m


def balanced_order(labels: np.ndarray, m: int, batch_size: int, batches: int, seed: int) -> list[int]:
    """One epoch's sample order from pytorch-metric-learning's m-per-class sampler, drawn from ``seed``.

    The sampler draws from the library's ``NUMPY_RANDOM`` (numpy's global state, which nothing seeds), so
    the same run trained differently from one process to the next; here it draws from its own generator.
    """
    from pytorch_metric_learning.samplers import MPerClassSampler
    from pytorch_metric_learning.utils import common_functions as c_f

    sampler = MPerClassSampler(labels, m, batch_size=batch_size, length_before_new_iter=batches * batch_size)
    shared = c_f.NUMPY_RANDOM
    c_f.NUMPY_RANDOM = np.random.RandomState(seed)
    try:
        return [int(i) for i in sampler]
    finally:
        c_f.NUMPY_RANDOM = shared


class FeatureBatches:
    """Class-balanced batches (m images per class) of cached features; each sample takes a random view."""

    def __init__(self, features: np.ndarray, labels: np.ndarray, batch_size: int = 64, m: int = 4, seed: int = 0):
        import torch

        self.features = torch.from_numpy(np.ascontiguousarray(features))
        self.labels = torch.from_numpy(np.asarray(labels, np.int64))
        self.batch_size, self.m = balanced_batch_shape(np.asarray(labels), batch_size, m)
        self.seed = seed

    def __len__(self) -> int:
        return max(1, len(self.labels) // self.batch_size)

    def epoch(self, epoch: int) -> Iterator[tuple["object", "object"]]:
        import torch

        order = torch.as_tensor(balanced_order(self.labels.numpy(), self.m, self.batch_size, len(self),
                                               self.seed * 7919 + epoch), dtype=torch.long)
        gen = torch.Generator().manual_seed(self.seed * 104729 + epoch)
        views = torch.randint(self.features.shape[0], (len(order),), generator=gen)
        for start in range(0, len(order) - self.batch_size + 1, self.batch_size):
            idx, view = order[start:start + self.batch_size], views[start:start + self.batch_size]
            yield self.features[view, idx], self.labels[idx]


class ImageBatches:
    """Class-balanced batches of augmented pixels, for fine-tuning the backbone itself."""

    def __init__(self, data: LabelledImages, preprocess: PreprocessConfig, augment_cfg: AugmentConfig,
                 batch_size: int = 32, m: int = 4, seed: int = 0):
        self.data, self.preprocess, self.augment = data, preprocess, augment_cfg
        self.batch_size, self.m = balanced_batch_shape(data.labels, batch_size, m)
        self.seed = seed

    def __len__(self) -> int:
        return max(1, len(self.data) // self.batch_size)

    def epoch(self, epoch: int) -> Iterator[tuple["object", "object"]]:
        import torch

        labels = torch.from_numpy(self.data.labels)
        order = balanced_order(self.data.labels, self.m, self.batch_size, len(self), self.seed * 7919 + epoch)
        decode = augmented_decoder(self.augment, self.seed * 1000 + epoch + 1)
        paths = [self.data.paths[i] for i in order]
        stream = decode_stream(paths, self.preprocess, decode=decode)
        for idx, batch in zip(range(0, len(order), self.batch_size), batched(stream, self.batch_size)):
            ok = [j for j, d in enumerate(batch) if d.pixels is not None]
            if len(ok) < 2:
                continue
            pixels = torch.from_numpy(np.stack([batch[j].pixels for j in ok]))
            yield pixels, labels[[order[idx + j] for j in ok]]
