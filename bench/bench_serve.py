"""`pixseek serve` memory and upload-search latency as the catalog grows (issue 12).

    .venv/bin/python bench/bench_serve.py [--sizes 100000 1000000] [--queries 60]

Each catalog: the 22 real gallery photos indexed normally, plus N synthetic rows (virtual paths)
whose vectors are real gallery embeddings jittered (bench_search.fill) and whose label probabilities
and tags are those of the photo each one was jittered from -- so the rows look like real ones to
every part of the server (filters, facets, tag search). The server is the real CLI in its own
process; this process uploads gallery photos (POST /api/search/image, k=10) one at a time and reads
the server's RSS after start-up and after the queries (psutil).

Baseline in the same run: the server over the gallery alone (N = 0). The figure is the RSS growth per
catalog row next to the bytes the flat index itself needs per row (dim x 4): the server should grow
with the index, not with a copy of the catalog (the first release's snapshot held every row and an
(n, 1000) float16 probability matrix: +2 KB a row on top of the index).
"""
from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pixseek import open_library  # noqa: E402
from pixseek.store.catalog import NewFile  # noqa: E402

GALLERY = ROOT / "samples" / "gallery"
PIXSEEK = [sys.executable, "-c", "from pixseek.cli import main; main()"]


def fill_like_real(lib, n: int, seed: int = 0) -> None:
    ids = lib.item_ids()
    base = lib.vectors(ids)
    probs = lib.catalog.get_probs(ids.tolist())
    P = np.stack([probs[int(i)] for i in ids]).astype(np.float16)
    tags = lib.tags_for(P.astype(np.float32))
    rng = np.random.default_rng(seed)
    for start in range(0, n, 5000):
        m = min(5000, n - start)
        src = rng.integers(0, len(base), m)
        v = base[src] + 0.05 * rng.standard_normal((m, base.shape[1])).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        lib.catalog.write_files(NewFile(f"/virtual/d{(start + i) // 1000:04d}/img{start + i:07d}.jpg", 1, 1, "x",
                                        v[i:i + 1], P[src[i]:src[i] + 1], tags=[tags[src[i]]]) for i in range(m))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(db: Path, queries: int) -> dict:
    port = free_port()
    proc = subprocess.Popen([*PIXSEEK, "serve", "--db", db, "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        t0 = time.perf_counter()
        with httpx.Client(base_url=url, timeout=600) as c:
            while True:
                try:
                    if c.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.perf_counter() - t0 > 1200:
                    raise RuntimeError("server did not become ready")
                time.sleep(0.5)
            ready_s = time.perf_counter() - t0
            rss_ready = psutil.Process(proc.pid).memory_info().rss
            photos = sorted(GALLERY.glob("*.jpg"))
            lat, tagged = [], []
            for i in range(queries):
                data = photos[i % len(photos)].read_bytes()
                t = time.perf_counter()
                r = c.post("/api/search/image", files={"file": ("q.jpg", data, "image/jpeg")}, params={"k": 10})
                lat.append(time.perf_counter() - t)
                assert r.status_code == 200, r.text
            tag = c.get("/api/facets").json()["tags"][0]["value"]
            for i in range(max(5, queries // 4)):
                data = photos[i % len(photos)].read_bytes()
                t = time.perf_counter()
                r = c.post("/api/search/image", files={"file": ("q.jpg", data, "image/jpeg")},
                           params={"k": 10, "tag": tag})
                tagged.append(time.perf_counter() - t)
                assert r.status_code == 200, r.text
            rss_after = max(rss_ready, psutil.Process(proc.pid).memory_info().rss)
    finally:
        proc.terminate()
        proc.wait(30)
    ms = lambda xs, q: float(np.percentile(np.asarray(xs) * 1000, q))  # noqa: E731
    return {"ready_s": ready_s, "rss_mb": rss_after / 2**20, "p50": ms(lat, 50), "p99": ms(lat, 99),
            "tag_p50": ms(tagged, 50), "tag_p99": ms(tagged, 99)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=60)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=ROOT / "bench") as tmp:  # beside the repo (ignored: bench/tmp*/)
        rows = []
        base = None
        for n in [0, *args.sizes]:
            db = Path(tmp) / f"n{n}.db"
            t0 = time.perf_counter()
            with open_library(db) as lib:
                lib.ingest(GALLERY)
                fill_like_real(lib, n)
                lib.rebuild_index()
                lib.save()
                dim, total = lib.dim, lib.catalog.count_vectors()
            build = time.perf_counter() - t0
            m = measure(db, args.queries)
            if base is None:
                base = m
            grow = (m["rss_mb"] - base["rss_mb"]) * 2**20 / n if n else 0.0
            rows.append((total, m, grow, build))
            print(f"rows {total:>8}: built {build:6.0f}s  ready {m['ready_s']:5.1f}s  RSS {m['rss_mb']:7.0f} MB  "
                  f"growth {grow:6.0f} B/row (flat index {dim * 4} B/row, ratio {grow / (dim * 4) if n else 0:.2f})  "
                  f"upload search p50 {m['p50']:.1f} ms p99 {m['p99']:.1f} ms  with tag filter p50 "
                  f"{m['tag_p50']:.1f} ms p99 {m['tag_p99']:.1f} ms", flush=True)
            db.unlink()
            for side in Path(tmp).glob(f"n{n}.db*"):
                if side.is_file():
                    side.unlink()


if __name__ == "__main__":
    main()
