"""``pixseek bench-index``: recall@10 vs latency vs memory, per index type, on one data set, one run.

Vectors: real embeddings as cluster centres (encoded from ``images`` when given) or a clustered
synthetic set (a Gaussian mixture on the unit sphere), jittered to ``n``; queries are fresh jittered
points; ground truth is exact search (flat) in the same run.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from pixseek.index import create_index

DEFAULT_CONFIGS: dict[str, dict] = {
    "flat": {},
    "hnsw": {"M": 32, "ef_construction": 80, "ef_search": 96},
    "ivfpq": {"m": 40, "nprobe": 32, "shortlist": 20},
    "binary": {"bits": 256, "nprobe": 32, "shortlist": 40},
}


@dataclass
class IndexBench:
    kind: str
    params: dict
    build_s: float
    bytes_per_vector: float
    recall_at_10: float
    p50_ms: float
    p99_ms: float
    batch_qps: float


def make_vectors(n: int, dim: int, centres: np.ndarray | None = None, clusters: int = 4096, spread: float = 0.35,
                 seed: int = 0, chunk: int = 50_000) -> Iterator[np.ndarray]:
    """Yield ``n`` unit vectors in chunks (never all at once in float64)."""
    rng = np.random.default_rng(seed)
    if centres is None:
        centres = rng.standard_normal((clusters, dim)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    noise = spread / np.sqrt(dim)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        v = centres[rng.integers(0, len(centres), m)] + noise * rng.standard_normal((m, dim)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        yield v


def bytes_in_ram(index, n: int, dim: int) -> float:
    if hasattr(index, "bytes_per_vector_ram"):
        return index.bytes_per_vector_ram()
    if index.kind == "flat":
        return dim * 4 + 8
    if index.kind == "hnsw":
        return dim * 4 + 8 + index.M * 2 * 4 * 1.05  # vectors + ids + level-0 links (+ upper levels)
    return float("nan")


def run(n: int, dim: int = 1280, nq: int = 1000, kinds=tuple(DEFAULT_CONFIGS), centres: np.ndarray | None = None,
        seed: int = 0, log=print) -> list[IndexBench]:
    x = np.concatenate(list(make_vectors(n, dim, centres, seed=seed)))
    ids = np.arange(n, dtype=np.int64)
    q = np.concatenate(list(make_vectors(nq, dim, centres, seed=seed + 1)))
    results = []
    truth = None
    for kind in ["flat"] + [k for k in kinds if k != "flat"]:
        params = DEFAULT_CONFIGS[kind]
        t0 = time.perf_counter()
        index = create_index(kind, dim, **params)
        if not index.is_trained:
            sample = x[np.random.default_rng(seed).choice(n, min(n, 50_000), replace=False)]
            index.train(sample)
        for s in range(0, n, 50_000):
            index.add(x[s:s + 50_000], ids[s:s + 50_000])
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        _, found = index.search(q, 10)
        qps = nq / (time.perf_counter() - t0)
        if truth is None:
            truth = found
        recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)]))
        lat = []
        for i in range(min(nq, 300)):
            t0 = time.perf_counter()
            index.search(q[i:i + 1], 10)
            lat.append(time.perf_counter() - t0)
        lat_ms = np.asarray(lat) * 1000
        r = IndexBench(kind, params, build, bytes_in_ram(index, n, dim), recall, float(np.percentile(lat_ms, 50)),
                       float(np.percentile(lat_ms, 99)), qps)
        results.append(r)
        log(f"{kind:7} build {r.build_s:7.1f}s  {r.bytes_per_vector:7.0f} B/vec  recall@10 {r.recall_at_10:.3f}  "
            f"p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:6.2f} ms  batch {r.batch_qps:7.0f} q/s  {params}")
        del index
    return results
