"""``pixseek bench-index``: recall@10 vs latency vs memory, per index type, on one data set, one run.

Data: cluster centres (real embeddings when given, else a synthetic set with the same kind of
decaying spectrum) jittered to ``n`` points *along the centres' own principal directions*
(covariance-shaped noise: the top ``rank`` components plus an isotropic residual), L2-normalised.
Isotropic jitter in 1280 dimensions would make every neighbour equidistant, which no real embedding
set looks like. The vectors are written once as a float16 memory map (``work``) and streamed in
chunks, so at most one index is in RAM at a time. Queries are fresh jittered points; the ground
truth is exact search (streamed ``faiss.knn``) in the same run, so flat scoring 1.0 is a check.

Per setting: build time (train + add, plus save and reload for the compressed indexes, which serve
their float16 vectors from a memory map), bytes per vector held in RAM (the index's own accounting
of its arrays: vectors or codes, ids, graph links, centroids and rotation tables), recall@10, single-query p50/p99 latency, batch QPS.
"""
from __future__ import annotations

import gc
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from pixseek.index import create_index, load_index

CHUNK = 50_000
TRAIN_SAMPLE = 50_000


@dataclass(frozen=True)
class BenchConfig:
    """One index built with ``params``, searched with each of ``variants`` (search-time settings)."""

    name: str
    kind: str
    params: dict = field(default_factory=dict)
    variants: tuple[dict, ...] = ({},)


DEFAULT_CONFIGS: dict[str, BenchConfig] = {c.name: c for c in (
    BenchConfig("flat", "flat"),
    BenchConfig("hnsw", "hnsw", {"M": 32, "ef_construction": 80},
                ({"ef_search": 32}, {"ef_search": 64}, {"ef_search": 128})),
    BenchConfig("ivfpq", "ivfpq", {"m": 32, "opq_dim": 256},
                ({"nprobe": 16, "shortlist": 10}, {"nprobe": 32, "shortlist": 20}, {"nprobe": 64, "shortlist": 40})),
    BenchConfig("binary", "binary", {"bits": 256},
                ({"nprobe": 16, "shortlist": 20}, {"nprobe": 32, "shortlist": 40}, {"nprobe": 64, "shortlist": 80})),
    BenchConfig("binary-hnsw", "binary", {"bits": 256, "structure": "hnsw", "M": 32},
                ({"ef_search": 128, "shortlist": 20}, {"ef_search": 256, "shortlist": 40})),
)}


@dataclass
class IndexBench:
    name: str
    kind: str
    params: dict
    search: dict
    build_s: float
    bytes_per_vector: float
    recall_at_10: float
    p50_ms: float
    p99_ms: float
    batch_qps: float


# -- data -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Jitter:
    """Covariance-shaped noise around ``centres``: ``basis`` rows are principal directions scaled by
    their standard deviations; ``residual`` the std of the remaining (isotropic) part."""

    centres: np.ndarray
    basis: np.ndarray
    residual: float
    spread: float

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        dim = self.centres.shape[1]
        c = self.centres[rng.integers(0, len(self.centres), n)]
        noise = rng.standard_normal((n, len(self.basis)), dtype=np.float32) @ self.basis
        noise += self.residual * rng.standard_normal((n, dim), dtype=np.float32)
        v = c + self.spread * noise
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def jitter_model(centres: np.ndarray, spread: float = 0.3, rank: int = 256) -> Jitter:
    centres = np.asarray(centres, np.float32)
    dev = centres - centres.mean(0)
    _, s, vt = np.linalg.svd(dev, full_matrices=False)
    var = s ** 2 / max(1, len(centres) - 1)
    r = min(rank, len(var))
    rest = var[r:].sum() / max(1, centres.shape[1] - r)
    return Jitter(centres, (np.sqrt(var[:r])[:, None] * vt[:r]).astype(np.float32), float(np.sqrt(rest)), spread)


def synthetic_centres(k: int, dim: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around a common mean with power-law variances in a random basis (like CNN embeddings:
    non-negative features share a mean direction; a few directions carry most of the variance)."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((dim, dim)).astype(np.float32))
    std = 0.5 * (np.arange(1, dim + 1, dtype=np.float32) ** -0.6)
    mean = np.abs(rng.standard_normal(dim)).astype(np.float32)
    mean *= 0.7 / np.linalg.norm(mean)
    c = mean + (rng.standard_normal((k, dim)).astype(np.float32) * std) @ basis.T
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def write_vectors(path: Path, n: int, model: Jitter, seed: int) -> np.ndarray:
    """``n`` jittered vectors as a float16 memory map (chunk ``i`` drawn from seed (seed, i))."""
    dim = model.centres.shape[1]
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(n, dim))
    for i, s in enumerate(range(0, n, CHUNK)):
        out[s:s + CHUNK] = model.sample(min(CHUNK, n - s), np.random.default_rng([seed, i]))
    out.flush()
    return np.load(path, mmap_mode="r")


def chunks(x: np.ndarray):
    for s in range(0, len(x), CHUNK):
        yield s, np.ascontiguousarray(x[s:s + CHUNK], np.float32)


def exact_topk(x: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    """Ids (row numbers) of the exact top ``k`` inner products, streamed over ``x``."""
    best_s = np.full((len(q), k), -np.inf, np.float32)
    best_i = np.full((len(q), k), -1, np.int64)
    for s, rows in chunks(x):
        d, i = faiss.knn(q, rows, k, metric=faiss.METRIC_INNER_PRODUCT)
        cs, ci = np.concatenate([best_s, d], 1), np.concatenate([best_i, i + s], 1)
        top = np.argsort(-cs, axis=1, kind="stable")[:, :k]
        best_s, best_i = np.take_along_axis(cs, top, 1), np.take_along_axis(ci, top, 1)
    return best_i


# -- measuring --------------------------------------------------------------------------------------
def build(config: BenchConfig, x: np.ndarray, work: Path, seed: int = 0):
    index = create_index(config.kind, x.shape[1], **config.params)
    index.background = False  # a bulk build never needs a drift re-fit mid-way
    if not index.is_trained:
        pick = np.sort(np.random.default_rng(seed).choice(len(x), min(len(x), TRAIN_SAMPLE), replace=False))
        index.train(np.ascontiguousarray(x[pick], np.float32))
    for s, rows in chunks(x):
        index.add(rows, np.arange(s, s + len(rows), dtype=np.int64))
    if index.disk_backed:  # compressed: serve as a user would, float16 vectors memory-mapped
        path = work / f"{config.name}.index"
        index.save(path)
        del index
        gc.collect()
        index = load_index(path, config.kind)
    return index


def measure(index, q: np.ndarray, truth: np.ndarray, single: int) -> tuple[float, float, float, float]:
    t0 = time.perf_counter()
    _, found = index.search(q, 10)
    qps = len(q) / (time.perf_counter() - t0)
    recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)]))
    lat = []
    for i in range(single):
        t0 = time.perf_counter()
        index.search(q[i:i + 1], 10)
        lat.append(time.perf_counter() - t0)
    lat_ms = np.asarray(lat) * 1000
    return recall, float(np.percentile(lat_ms, 50)), float(np.percentile(lat_ms, 99)), qps


def bytes_in_ram(index, dim: int) -> float:
    return float(index.bytes_per_vector_ram())  # flat: vectors + ids (IDMap2's reverse hash map not counted)


def run(n: int, dim: int = 1280, nq: int = 1000, names=tuple(DEFAULT_CONFIGS), centres: np.ndarray | None = None,
        seed: int = 0, work: Path | None = None, single_flat: int = 100,
        log: Callable[[str], None] = print) -> tuple[str, list[IndexBench]]:
    """Returns (a sentence describing the data, one row per setting)."""
    data = "real embeddings" if centres is not None else "synthetic clustered centres"
    if centres is None:
        centres = synthetic_centres(max(1000, n // 100), dim, seed)
    model = jitter_model(centres)
    desc = (f"{n:,} vectors (dim {centres.shape[1]}): {len(centres):,} {data} jittered along their principal "
            f"directions (spread {model.spread}); {nq:,} queries; truth = exact search, same run")
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        x = write_vectors(tmp / "x.npy", n, model, seed)
        q = model.sample(nq, np.random.default_rng([seed, 10**6]))
        truth = exact_topk(x, q, 10)
        log(f"{desc}\ndata + exact truth in {time.perf_counter() - t0:.0f}s")
        results = []
        for name in names:
            config = DEFAULT_CONFIGS[name]
            gc.collect()
            t0 = time.perf_counter()
            index = build(config, x, tmp, seed)
            build_s = time.perf_counter() - t0
            per_vec = bytes_in_ram(index, x.shape[1])
            for variant in config.variants:
                if variant:
                    index.set_params(**variant)
                single = min(nq, single_flat if config.kind == "flat" else nq)
                recall, p50, p99, qps = measure(index, q, truth, single)
                r = IndexBench(name, config.kind, config.params, variant, build_s, per_vec, recall, p50, p99, qps)
                results.append(r)
                log(f"{name:11} {str(variant):36} build {build_s:6.0f}s  {per_vec:6.0f} B/vec  "
                    f"recall@10 {recall:.3f}  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  batch {qps:6.0f} q/s")
            del index
            gc.collect()
    return desc, results
