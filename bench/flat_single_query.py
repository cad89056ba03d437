"""One query against the flat index: pixseek's path (a matrix product over FAISS's storage, no thread
toggling) beside FAISS's own search on its default threads and FAISS toggled to one thread, same run.

    .venv/bin/python bench/flat_single_query.py [--n 100000] [--dim 1280] [--repeats 30]

Random unit vectors (exact search does not care what they are); median of ``--repeats`` interleaved
single queries, after a warm-up. The toggle is what index/flat.py did before 2026-12-03 (a process-wide
setting); it is timed here only as the baseline.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from pixseek.index import create_index  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=1280)
    ap.add_argument("--repeats", type=int, default=30)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((a.n, a.dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    index = create_index("flat", a.dim)
    index.add(x, np.arange(a.n))
    raw = index._index  # the FAISS object, for the baselines only
    queries = x[rng.choice(a.n, a.repeats + 1, replace=False)]

    def toggled(q):
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            return raw.search(q, 10)
        finally:
            faiss.omp_set_num_threads(threads)

    ways = {"pixseek FlatIndex.search": lambda q: index.search(q, 10),
            "FAISS, default threads": lambda q: raw.search(q, 10),
            "FAISS toggled to 1 thread (old)": toggled}
    times = {k: [] for k in ways}
    for f in ways.values():
        f(queries[:1])
    for q in queries[1:]:
        for k, f in ways.items():
            t0 = time.perf_counter()
            f(q[None])
            times[k].append(time.perf_counter() - t0)
    ours = np.median(times["pixseek FlatIndex.search"])
    print(f"{a.n} x {a.dim}, one query, median of {a.repeats}, load {os.getloadavg()[0]:.1f}, "
          f"FAISS threads {faiss.omp_get_max_threads()}")
    for k, ts in times.items():
        m = np.median(ts)
        print(f"  {k:34s} {m * 1e3:8.2f} ms   {m / ours:5.2f}x pixseek's")
    s, i = index.search(queries[:1], 10)
    s2, i2 = raw.search(queries[:1], 10)
    assert np.array_equal(i, i2), "the two paths disagree"


if __name__ == "__main__":
    main()
