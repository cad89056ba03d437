"""HTTP load test: upload-search through `pixseek serve` at 1, 8 and 32 concurrent clients.

    .venv/bin/python bench/bench_http.py [--duration 15] [--max-requests 3000] [--size 10000]

The library: the 22 real gallery photos, indexed normally, plus SIZE jittered copies of their real
embeddings written through the catalog API (``bench_search.fill``), so the index holds >= 10k
vectors without encoding 10k files; the search path does not care where vectors came from.
The server is the real CLI (`pixseek serve`) in its own process; this process is the load driver
(httpx.AsyncClient over loopback), so both share the same 2 cores. Each level runs a warm-up, then
a fixed duration or request count, whichever ends first; every answer must be a 200 whose top hit
is the query's source photo, or it counts as an error.
Baseline in the same run: the single-process CLI (`pixseek search`, one query: process start,
model load, search) and the in-process `Library.search(path)` per query (no HTTP). The server runs once
per ``--blas-threads`` value (default: 1, serve's default policy, then the machine's cores, what the
process got before the policy), same levels, same run.
"""
from __future__ import annotations

import argparse
import asyncio
import io
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_search import fill  # noqa: E402
from bench.datasets import DATA_ROOT  # noqa: E402
from pixseek.search import open_library  # noqa: E402

GALLERY = ROOT / "samples" / "gallery"
PIXSEEK = [sys.executable, "-c", "from pixseek.cli import main; main()"]


def queries() -> list[tuple[str, bytes, str]]:
    """(name, JPEG bytes, expected top hit): the shipped queries plus re-encoded larger originals."""
    import skimage.data

    out = [(p.name, p.read_bytes(), exp) for p, exp in
           ((ROOT / "samples/queries/cat-crop.jpg", "chelsea.jpg"), (ROOT / "samples/queries/coffee-flipped.jpg", "coffee.jpg"))]
    src = Path(skimage.data.__file__).parent
    for name, expected in (("astronaut.png", "astronaut.jpg"), ("rocket.jpg", "rocket.jpg"), ("coffee.png", "coffee.jpg")):
        buf = io.BytesIO()
        Image.open(src / name).convert("RGB").save(buf, "JPEG", quality=88)
        out.append((name.rsplit(".", 1)[0] + "-orig.jpg", buf.getvalue(), expected))
    return out


def build_library(size: int) -> Path:
    folder = DATA_ROOT / f"http-{size}"
    db = folder / "lib.db"
    if db.exists():
        with open_library(db) as lib:
            if lib.catalog.count_vectors() == size + 22:
                return db
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copytree(GALLERY, folder / "gallery")
    with open_library(db) as lib:
        lib.add(folder / "gallery")
        base = np.concatenate([v for _, v in lib.catalog.iter_vectors(lib.dim)])
        fill(lib, base, size)
        lib.rebuild_index()
        lib.save()
    return db


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: Path, port: int, blas_threads: int = 1) -> subprocess.Popen:
    proc = subprocess.Popen([*PIXSEEK, "serve", "--db", str(db), "--port", str(port), "--blas-threads",
                             str(blas_threads)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PIXSEEK_API_KEY": ""})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read()}")
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("server not ready after 120 s")


async def load(base: str, qs, clients: int, duration: float, max_requests: int, warmup: float) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    issued = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        async def one(i: int, record: bool) -> None:
            name, data, expected = qs[i % len(qs)]
            t0 = time.perf_counter()
            try:
                r = await client.post("/api/search/image", params={"k": 10}, files={"file": (name, data, "image/jpeg")})
                ok = r.status_code == 200 and r.json()["hits"][0]["name"] == expected
                why = "" if ok else f"{r.status_code} {r.text[:200]}"
            except httpx.HTTPError as exc:
                ok, why = False, repr(exc)
            if record:
                latencies.append(time.perf_counter() - t0)
                if not ok:
                    errors.append(why)

        async def worker(w: int, until: float, record: bool) -> None:
            nonlocal issued
            i = w
            while time.perf_counter() < until and (not record or issued < max_requests):
                if record:
                    issued += 1
                await one(i, record)
                i += clients

        t_warm = time.perf_counter() + warmup
        await asyncio.gather(*(worker(w, t_warm, False) for w in range(clients)))
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(w, t0 + duration, True) for w in range(clients)))
        elapsed = time.perf_counter() - t0
    ms = np.asarray(latencies) * 1000
    return {"clients": clients, "requests": len(latencies), "errors": len(errors), "first_error": errors[:1],
            "seconds": elapsed, "rps": len(latencies) / elapsed,
            "p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99))}


def cli_baseline(db: Path, query: Path, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([*PIXSEEK, "search", str(query), "--db", str(db), "-k", "10", "--json"], check=True,
                       capture_output=True)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def in_process_baseline(db: Path, qs, repeats: int = 40) -> tuple[float, float]:
    tmp = DATA_ROOT / "http-queries"
    tmp.mkdir(exist_ok=True)
    paths = []
    for name, data, _ in qs:
        (tmp / name).write_bytes(data)
        paths.append(tmp / name)
    with open_library(db) as lib:
        lib.search(paths[0], 10)
        t = []
        for i in range(repeats):
            t0 = time.perf_counter()
            lib.search(paths[i % len(paths)], 10)
            t.append(time.perf_counter() - t0)
    ms = np.asarray(t) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=10_000, help="jittered vectors added to the 22 real photos")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--duration", type=float, default=15.0)
    ap.add_argument("--max-requests", type=int, default=3000)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--blas-threads", type=int, nargs="+", default=[1, os.cpu_count() or 1],
                    help="the server's --blas-threads, one server each (1: the default; cores: what a process "
                         "gets without a policy)")
    a = ap.parse_args()
    db = build_library(a.size)
    qs = queries()
    print(f"library: {a.size + 22} vectors ({db}); {len(qs)} query photos, {os.cpu_count()} cores", flush=True)

    cli_s = cli_baseline(db, ROOT / "samples/queries/cat-crop.jpg")
    lib_p50, lib_p99 = in_process_baseline(db, qs)
    print(f"baseline: CLI `pixseek search` one query {cli_s * 1000:.0f} ms wall (process + model load + search); "
          f"in-process Library.search p50 {lib_p50:.1f} ms p99 {lib_p99:.1f} ms", flush=True)

    rows = []
    for blas in a.blas_threads:
        port = free_port()
        server = start_server(db, port, blas)
        try:
            for c in a.clients:
                r = asyncio.run(load(f"http://127.0.0.1:{port}", qs, c, a.duration, a.max_requests, a.warmup))
                rows.append(r)
                print(f"HTTP upload-search, serve --blas-threads {blas}, {c:>3} clients: {r['requests']:>5} requests "
                      f"in {r['seconds']:5.1f} s, {r['errors']} errors | p50 {r['p50']:7.1f} ms  p99 {r['p99']:7.1f} ms "
                      f"| {r['rps']:6.1f} req/s | p50 vs in-process x{r['p50'] / lib_p50:4.1f}, vs CLI "
                      f"x{cli_s * 1000 / r['p50']:5.1f} faster" + (f" | first error: {r['first_error']}" if r["errors"] else ""),
                      flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)
    if any(r["errors"] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
