"""Retrieval metrics on a labelled set, the metric-learning conventions (CUB / SOP):
every item queries all others (itself excluded).

- ``map``: mean average precision over the whole ranking;
- ``map_at_r``: MAP@R (Musgrave et al. 2020), R = number of relevant items for the query;
- ``recall_at_k``: fraction of queries with at least one relevant item in the top k.
Queries with no relevant item are skipped.
"""
from __future__ import annotations

import numpy as np


def rank_relevance(scores: np.ndarray, query_labels: np.ndarray, db_labels: np.ndarray,
                   exclude_self: bool = True) -> np.ndarray:
    """(nq, ndb) scores -> (nq, ndb) boolean relevance in ranked order (self removed)."""
    scores = np.array(scores, dtype=np.float64, copy=True)
    if exclude_self:
        np.fill_diagonal(scores, -np.inf)
    order = np.argsort(-scores, axis=1, kind="stable")
    rel = db_labels[order] == query_labels[:, None]
    if exclude_self:
        rel = rel[:, :-1]  # the self item sorts last
    return rel


def metrics_from_relevance(rel: np.ndarray, ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    n_rel = rel.sum(axis=1)
    keep = n_rel > 0
    rel, n_rel = rel[keep], n_rel[keep]
    if len(rel) == 0:
        return {"map": 0.0, "map_at_r": 0.0, **{f"recall@{k}": 0.0 for k in ks}, "queries": 0}
    cum = np.cumsum(rel, axis=1)
    positions = np.arange(1, rel.shape[1] + 1)
    precision = cum / positions
    ap = (precision * rel).sum(axis=1) / n_rel
    within_r = positions[None, :] <= n_rel[:, None]
    map_r = (precision * rel * within_r).sum(axis=1) / n_rel
    out = {"map": float(ap.mean()), "map_at_r": float(map_r.mean())}
    for k in ks:
        out[f"recall@{k}"] = float(rel[:, :k].any(axis=1).mean())
    out["queries"] = int(len(rel))
    return out


def retrieval_metrics(vectors: np.ndarray, labels, ks: tuple[int, ...] = (1, 5, 10),
                      chunk: int = 1024) -> dict[str, float]:
    """Leave-one-out retrieval metrics of L2-normalised ``vectors`` with class ``labels``."""
    vectors = np.asarray(vectors, np.float32)
    labels = np.asarray(labels)
    sums: dict[str, float] = {}
    total = 0
    for start in range(0, len(vectors), chunk):
        q = vectors[start:start + chunk]
        scores = q @ vectors.T
        idx = np.arange(start, start + len(q))
        scores[np.arange(len(q)), idx] = -np.inf
        order = np.argsort(-scores, axis=1, kind="stable")[:, :-1]
        rel = labels[order] == labels[idx][:, None]
        m = metrics_from_relevance(rel, ks)
        n = m.pop("queries")
        for key, val in m.items():
            sums[key] = sums.get(key, 0.0) + val * n
        total += n
    out = {k: v / max(total, 1) for k, v in sums.items()}
    out["queries"] = total
    return out
