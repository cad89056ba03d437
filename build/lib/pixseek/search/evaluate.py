"""``pixseek eval``: retrieval quality on a labelled folder (ImageFolder layout: one sub-folder per class)."""
from __future__ import annotations

import os
import time
from pathlib import Path

from pixseek.encoders import Encoder
from pixseek.errors import DatasetError
from pixseek.io import IMAGE_EXTENSIONS, walk_files
from pixseek.metrics import retrieval_metrics
from pixseek.search.wiring import encode_paths


def labelled_files(folder: str | os.PathLike) -> tuple[list[str], list[str]]:
    """(paths, class names) of an ImageFolder-style tree; classes are the top-level sub-folders."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder")
    paths, labels = [], []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for f in walk_files(sub, IMAGE_EXTENSIONS):
            paths.append(str(f))
            labels.append(sub.name)
    if len(set(labels)) < 2:
        raise DatasetError(f"{folder}: need at least two class sub-folders with images, found {len(set(labels))}")
    return paths, labels


def evaluate_folder(folder: str | os.PathLike, encoder: Encoder, ks=(1, 5, 10)) -> dict:
    """Every image queries all others (itself excluded): mAP, mAP@R, Recall@k."""
    paths, labels = labelled_files(folder)
    t0 = time.perf_counter()
    vectors, ok, errors = encode_paths(paths, encoder=encoder)
    seconds = time.perf_counter() - t0
    label_of = dict(zip(paths, labels))
    result = retrieval_metrics(vectors, [label_of[p] for p in ok], ks)
    result.update({"model_id": encoder.model_id, "images": len(ok), "classes": len(set(labels)),
                   "errors": errors, "encode_seconds": round(seconds, 3)})
    return result
