"""Object wiring for the front-ends, in one place: the core library plus the feature modules'
indexing extras (region descriptors for copy detection when the catalog asks for them) and the
encoder's copy-detection projection for relevance feedback (``Feedback("ridge+copy")``). The CLI, the
HTTP API, Ray and :func:`pixseek.open` open libraries through here."""
from __future__ import annotations

import os

import numpy as np

from pixseek.compare.projection import load_projection
from pixseek.compare.regions import region_extra
from pixseek.search import Library
from pixseek.search import open_library as open_core

EXTRAS = {"regions": region_extra}


def feedback_projection(model_id: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(mean, matrix) of the copy-detection projection shipped for ``model_id``, or None."""
    p = load_projection(model_id)
    return None if p is None else (p.mean, p.matrix)


def open_library(db: str | os.PathLike | None = None, model: str | os.PathLike | None = None,
                 index: str | None = None, index_params: dict | None = None, batch_size: int = 32,
                 backend: str | None = None, regions: bool | None = None, *, readonly: bool = False) -> Library:
    """:func:`pixseek.search.open_library` with the feature extras wired in (see there)."""
    return open_core(db, model, index, index_params, batch_size, backend, regions, readonly=readonly,
                     extras=EXTRAS, feedback_projection=feedback_projection)
