"""Pseudo-relevance feedback for one query word (``words`` method): the images the word's classes rate
best stand in for what the word looks like in this library.

For a word's visual score over every stored image (classes, colour), the ``FEEDBACK_TOP`` best images
that score at least ``SEED_FRACTION`` of the best are the seeds; their score-weighted centroid in the embedding space is searched with
:meth:`Library.neighbours` (the library's own index, no filter: the ranking is filtered later, on the one
read path); each image's similarity to the centroid, rescaled so the seeds' median is 1 and the median
neighbour 0 (clipped to [0, 1]), is fused with its own score::

    fused = (1 - FEEDBACK_ALPHA) * score + FEEDBACK_ALPHA * seed_score * similarity

``seed_score`` is the seeds' score-weighted mean score, so a word whose best images score low (a weak match) cannot
lift others into strong ones. Images outside the centroid's ``FEEDBACK_POOL`` neighbours get similarity
0. A word no image scores above 0 is returned as it is.
"""
from __future__ import annotations

import numpy as np

FEEDBACK_TOP = 10      # seeds: the word's best images by its class (and colour) score
FEEDBACK_ALPHA = 0.3   # weight of the similarity to the seeds' centroid
FEEDBACK_POOL = 1000   # neighbours of the centroid that get a similarity (the rest: 0)
SEED_FRACTION = 0.5    # a seed scores at least this fraction of the word's best score


def feedback(library, ids: np.ndarray, scores: np.ndarray, *, top: int = FEEDBACK_TOP,
             alpha: float = FEEDBACK_ALPHA, pool: int = FEEDBACK_POOL) -> np.ndarray:
    """``scores`` (one per id of ``ids``, ascending ids: every stored image) -> the fused scores, same
    order. Reads the seeds' vectors (:meth:`Library.vectors`) and the centroid's neighbours
    (:meth:`Library.neighbours`)."""
    scores = np.asarray(scores, np.float32)
    live = np.flatnonzero(scores > 0)
    if not len(live) or alpha <= 0:
        return scores
    seeds = live[np.argsort(-scores[live], kind="stable")[:top]]
    seeds = seeds[scores[seeds] >= SEED_FRACTION * scores[seeds[0]]]
    w = scores[seeds]
    centroid = (w[:, None] * library.vectors(ids[seeds])).sum(0)
    norm = float(np.linalg.norm(centroid))
    if norm <= 1e-12:
        return scores
    centroid /= norm
    sims, near = library.neighbours(centroid[None], min(pool, len(ids)))
    sims, near = sims[0], near[0]
    ok = near >= 0
    sims, near = sims[ok], near[ok]
    pos = np.searchsorted(ids, near)
    found = (pos < len(ids)) & (ids[np.minimum(pos, len(ids) - 1)] == near)
    sim = np.zeros(len(ids), np.float32)
    sim[pos[found]] = sims[found]
    hi = _middle(sim[seeds])
    lo = _middle(sims) if len(sims) else 0.0
    scaled = np.clip((sim - lo) / max(hi - lo, 1e-6), 0.0, 1.0) if hi > lo else np.zeros_like(sim)
    seed_score = float((w * w).sum() / w.sum())  # score-weighted: the best seeds count most
    return ((1.0 - alpha) * scores + alpha * seed_score * scaled).astype(np.float32)


def _middle(x: np.ndarray) -> float:
    """The median's upper middle (np.median's first call imports numpy's function base: ~25 ms)."""
    return float(np.sort(np.asarray(x))[len(x) // 2])
