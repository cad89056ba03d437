"""Retrieval metrics against a plain reference loop."""
from __future__ import annotations

import numpy as np
import pytest

from pixseek.metrics import retrieval_metrics

pytestmark = pytest.mark.unit


def reference(vectors, labels, ks=(1, 5, 10)):
    n = len(vectors)
    aps, mapr, rec = [], [], {k: [] for k in ks}
    for i in range(n):
        others = [j for j in range(n) if j != i]
        order = sorted(others, key=lambda j: -float(vectors[i] @ vectors[j]))
        rel = [labels[j] == labels[i] for j in order]
        r = sum(rel)
        if r == 0:
            continue
        hits, ap, apr = 0, 0.0, 0.0
        for pos, is_rel in enumerate(rel, 1):
            if is_rel:
                hits += 1
                ap += hits / pos
                if pos <= r:
                    apr += hits / pos
        aps.append(ap / r)
        mapr.append(apr / r)
        for k in ks:
            rec[k].append(any(rel[:k]))
    return {"map": np.mean(aps), "map_at_r": np.mean(mapr), **{f"recall@{k}": np.mean(v) for k, v in rec.items()}}


def test_metrics_match_reference_loop():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 6, 80)
    centres = rng.standard_normal((6, 16))
    x = centres[labels] + 1.2 * rng.standard_normal((80, 16))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    got = retrieval_metrics(x, labels, chunk=17)
    want = reference(x, labels)
    for key, val in want.items():
        assert abs(got[key] - val) < 1e-6, key
    assert got["queries"] == 80


def test_perfect_and_random_rankings():
    labels = np.repeat(np.arange(5), 4)
    perfect = np.eye(5, dtype=np.float32)[labels]
    m = retrieval_metrics(perfect + 1e-3 * np.arange(20)[:, None], labels)
    assert m["map"] == 1.0 and m["map_at_r"] == 1.0 and m["recall@1"] == 1.0
