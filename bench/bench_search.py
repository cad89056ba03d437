"""Search latency against 10k and 100k stored vectors, and memory while indexing 10k images.

    .venv/bin/python bench/bench_search.py [--sizes 10000 100000] [--index-n 10000]

Latency: the catalog is filled with real embeddings of real photos, jittered to reach the size
(100k distinct files would take too long to encode here; the search path does not care where
vectors came from). Timed per single query: `Library.search_vectors` (FAISS exact search +
catalog lookup of paths), beside a NumPy brute-force baseline in the same run, and the full
query-by-image path (decode + encode + search).
Memory: peak RSS sampled while `Library.add` indexes N real JPEGs; it must stay flat as N grows.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.datasets import photos_large  # noqa: E402
from pixseek.search import encode_paths, open_library  # noqa: E402
from pixseek.store.catalog import NewFile  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def fill(lib, base: np.ndarray, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    batch = 2000
    for start in range(0, n, batch):
        m = min(batch, n - start)
        v = base[rng.integers(0, len(base), m)] + 0.05 * rng.standard_normal((m, base.shape[1])).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        lib.catalog.write_files(NewFile(f"/virtual/img{start + i:07d}.jpg", 1, 1, "x", v[i:i + 1]) for i in range(m))


def pct(xs, q):
    return float(np.percentile(np.asarray(xs) * 1000, q))


def latency(sizes, base, queries_img):
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            lib = open_library(Path(tmp) / "l.db")
            fill(lib, base, n)
            lib.rebuild_index()
            lib.save()
            x = np.stack([v for _, v in lib.catalog.iter_vectors(lib.dim, batch=n)][0]) if n <= 200_000 else None
            rng = np.random.default_rng(1)
            qs = base[rng.integers(0, len(base), 200)] + 0.05 * rng.standard_normal((200, base.shape[1])).astype(np.float32)
            qs /= np.linalg.norm(qs, axis=1, keepdims=True)
            t_lib, t_np = [], []
            for q in qs:
                t0 = time.perf_counter()
                hits = lib.search_vectors(q[None], 10)[0]
                t_lib.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                s = x @ q
                top = np.argpartition(-s, 10)[:10]
                top[np.argsort(-s[top])]
                t_np.append(time.perf_counter() - t0)
                assert len(hits) == 10
            t_img = []
            for p in queries_img:
                t0 = time.perf_counter()
                lib.search(p, 10)
                t_img.append(time.perf_counter() - t0)
            lib.close()
        print(f"{n:>8} vectors | pixseek search_vectors p50 {pct(t_lib, 50):6.2f} ms p99 {pct(t_lib, 99):6.2f} ms | "
              f"numpy brute force p50 {pct(t_np, 50):6.2f} ms (x{np.median(t_np) / np.median(t_lib):4.1f}) | "
              f"query by image p50 {pct(t_img, 50):6.1f} ms p99 {pct(t_img, 99):6.1f} ms", flush=True)


def memory(n: int) -> None:
    folder = photos_large.build(n, size=640)
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        lib = open_library(Path(tmp) / "m.db")

        def progress(done, total):
            if done and (not samples or done - samples[-1][0] >= max(1, total // 10) or done == total):
                samples.append((done, rss_mb()))

        report = lib.add(folder, progress=progress)
        lib.close()
    print(f"indexing {n} JPEGs (640 px): {report.added / report.seconds:.1f} img/s; RSS (MB) by images done: "
          + ", ".join(f"{d}:{r:.0f}" for d, r in samples))
    first = next(r for d, r in samples if d >= n // 5)
    print(f"RSS growth from {n // 5} to {n} images: {samples[-1][1] - first:+.0f} MB "
          f"(catalog vectors live on disk; FAISS flat index holds 5 KB/image)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--index-n", type=int, default=10_000)
    a = ap.parse_args()
    folder = photos_large.build(256, 1280)
    paths = sorted(str(p) for p in folder.glob("*.jpg"))
    base, ok, _ = encode_paths(paths)
    latency(a.sizes, base, paths[:50])
    if a.index_n:
        memory(a.index_n)


if __name__ == "__main__":
    main()
