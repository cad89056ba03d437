"""A linear copy-detection projection of the encoder's descriptors, applied at scoring time.

``x -> normalise((x - mean) @ matrix)`` on the global vector and on every region descriptor (both are
GeM-pooled from the same CNN trunk, so one map serves both). Shipped as ``data/projection-<model id>.npz``
(``mean`` (C,), ``matrix`` (C, d)), written by ``bench/train_copy_projection.py``: learned whitening
(Radenović et al. 2018) fitted on edited copies of the pictures of the copydetect split "cal" only.
Used for copy ranking (``search --copies``, :func:`~pixseek.compare.copies.copy_scores`); ``compare``'s
verdict and ``dedup`` stay on the raw descriptors, whose thresholds were calibrated on pictures no part
of the score was fitted on. Stored vectors and regions are left as they are (the projection is applied
when scoring), so a library needs no re-indexing. Encoders without a shipped projection are scored raw.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from pixseek.compare.regions import Regions


@dataclass(frozen=True, eq=False)
class Projection:
    mean: np.ndarray  # (C,) float32
    matrix: np.ndarray  # (C, d) float32

    def vectors(self, x: np.ndarray) -> np.ndarray:
        """(…, C) descriptors -> (…, d) projected, L2-normalised."""
        y = (np.asarray(x, np.float32) - self.mean) @ self.matrix
        return y / (np.linalg.norm(y, axis=-1, keepdims=True) + 1e-12)

    def regions(self, r: Regions) -> Regions:
        return Regions(r.boxes, self.vectors(r.feats), r.phash, r.dhash)


def projection_file(model_id: str):
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_id)
    return resources.files("pixseek.compare") / "data" / f"projection-{safe}.npz"


@lru_cache(maxsize=8)
def load_projection(model_id: str) -> Projection | None:
    """The shipped projection for ``model_id``, or None when there is none."""
    path = projection_file(model_id)
    if not path.is_file():
        return None
    with path.open("rb") as f, np.load(f) as z:
        return Projection(z["mean"].astype(np.float32), z["matrix"].astype(np.float32))
