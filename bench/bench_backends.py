"""Distributed backends and encoding, each against its in-process baseline, in one run.

1. Milvus (a real 2.3 standalone server on loopback, HNSW) against FAISS HNSW (pixseek's ``hnsw``
   index) on the same vectors and queries: recall@10 against exact search and single-query
   p50/p99 latency for a sweep of ``ef``, FAISS and Milvus measured back to back at each ``ef``
   (the machine is shared: load drifts), then at each recall target the fastest setting of each
   that reaches it and the latency ratio Milvus / FAISS. Milvus is measured after a bulk load has
   been compacted, indexed and served (:meth:`MilvusIndex.wait_indexed`); its request floor (one
   search over a 100-row FLAT collection: gRPC, proxy, query node, reduce) is measured beside it.
2. Ray encoding with 2 local actors (0.5 CPU, 1 ONNX thread each) against single-process
   ``Library.add`` on the same folder of real images (the gallery and edited copies): images per
   second of the whole add call (actor start and model load included; the Ray cluster start is
   reported apart) and the ratio Ray / single process.
3. What a pixseek user sees (``api``): the same ``Library.search_vectors`` (index search + catalog
   lookup of paths) over two libraries holding one catalog of ``--api-n`` vectors, one opened with
   ``index="hnsw"`` (FAISS, in process) and one with ``backend="milvus://..."`` (synced from the
   catalog, then :meth:`MilvusIndex.wait_indexed`), same M / efConstruction. Vectors: real
   embeddings (the gallery and one drawing per emoji400 class) as centres, jittered with
   ``bench_index.jitter_model`` at each ``--api-spread``. Per ``ef``: recall@10 against exact
   search, single-query p50/p99 of ``search_vectors`` and of the bare index, FAISS and Milvus
   libraries back to back; then the ratio Milvus / FAISS library at equal recall.

    .venv/bin/python bench/bench_backends.py [--n 100000] [--dim 1280] [--queries 300] [--copies 16]
        [--api-n 100000] [--api-spread 0.3 1.0] [--skip milvus|ray|api ...] [--only milvus|ray|api]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("PIXSEEK_CACHE", str(Path(__file__).resolve().parents[1] / ".cache" / "pixseek"))

from pixseek.backends.milvus import MilvusIndex  # noqa: E402
from pixseek.backends.milvus_server import MilvusStandalone  # noqa: E402
from pixseek.index import create_index  # noqa: E402
from pixseek.search.bench_index import exact_topk, jitter_model, measure, synthetic_centres  # noqa: E402
from pymilvus import utility  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
GALLERY = Path(__file__).resolve().parents[1] / "samples" / "gallery"
EFS = (10, 16, 32, 64, 128, 256)  # Milvus refuses ef < k
TARGETS = (0.90, 0.95, 0.98)
API_TARGETS = (0.95, 0.98, 0.99, 0.995)  # real centres: recall moves with ef between 0.95 and 1
M, EF_CONSTRUCTION = 32, 80


def vectors(n: int, dim: int, nq: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    model = jitter_model(synthetic_centres(max(1000, n // 100), dim, seed))
    rng = np.random.default_rng(seed)
    return model.sample(n, rng).astype(np.float32), model.sample(nq, rng).astype(np.float32)


def timed(index, q: np.ndarray, truth: np.ndarray | None, single: int) -> dict:
    index.search(q[:20], 10)  # warm-up
    recall, p50, p99, qps = measure(index, q, truth if truth is not None else np.zeros((len(q), 10), np.int64), single)
    return {"recall": recall, "p50_ms": p50, "p99_ms": p99, "batch_qps": qps}


def at_recall(rows: list[dict], target: float) -> dict | None:
    ok = [r for r in rows if r["recall"] >= target]
    return min(ok, key=lambda r: r["p50_ms"]) if ok else None


def equal_recall(frows: list[dict], mrows: list[dict], targets):
    """(target, fastest FAISS row, fastest Milvus row) for each recall target both reach; says which missed."""
    for target in targets:
        f, m = at_recall(frows, target), at_recall(mrows, target)
        if f is None or m is None:
            print(f"  recall >= {target:.3f}: not reached by {'FAISS' if f is None else 'Milvus'}")
            continue
        yield target, f, m


def bench_milvus(n: int, dim: int, nq: int, single: int) -> None:
    print(f"\n## Milvus HNSW vs FAISS HNSW: {n:,} vectors, dim {dim}, {nq} queries, M={M}, efConstruction={EF_CONSTRUCTION}")
    x, q = vectors(n, dim, nq)
    ids = np.arange(n, dtype=np.int64)
    truth = exact_topk(x, q, 10)

    t0 = time.perf_counter()
    faiss_index = create_index("hnsw", dim, M=M, ef_construction=EF_CONSTRUCTION)
    faiss_index.add(x, ids)
    print(f"FAISS HNSW built in {time.perf_counter() - t0:.0f} s", flush=True)

    DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=DATA, prefix="milvus-") as tmp, MilvusStandalone(tmp, stop_timeout=10) as server:
        # the cost of one search request through Milvus with next to no search in it (FLAT, 100 rows)
        floor = MilvusIndex(dim, uri=server.uri, collection="floor", index_type="FLAT")
        floor.add(x[:100], ids[:100])
        floor.wait_indexed()
        index = MilvusIndex(dim, uri=server.uri, collection="bench", index_type="HNSW",
                            build={"M": M, "efConstruction": EF_CONSTRUCTION})
        t0 = time.perf_counter()
        index.add(x, ids)
        upload = time.perf_counter() - t0
        index.wait_indexed()  # sealed, compacted, indexed and served
        segments = utility.get_query_segment_info("bench", using=index._alias)
        print(f"Milvus: upload {upload:.0f} s, upload + compaction + index build {time.perf_counter() - t0:.0f} s, "
              f"{index.ntotal:,} rows in {len(segments)} served segment(s)", flush=True)
        print("each ef: FAISS then Milvus back to back, then Milvus's request floor (single-query p50/p99 ms)")
        faiss_rows, milvus_rows, floors = [], [], []
        for ef in EFS:
            faiss_index.tune(ef_search=ef)
            f = {"ef": ef} | timed(faiss_index, q, truth, single)
            index.tune(ef=ef)
            m = {"ef": ef} | timed(index, q, truth, single)
            fl = timed(floor, q, None, single)
            faiss_rows.append(f), milvus_rows.append(m), floors.append(fl["p50_ms"])
            print(f"  ef {ef:4}  FAISS recall@10 {f['recall']:.3f} p50 {f['p50_ms']:5.2f} p99 {f['p99_ms']:5.2f} "
                  f"batch {f['batch_qps']:6.0f} q/s | Milvus recall@10 {m['recall']:.3f} p50 {m['p50_ms']:5.2f} "
                  f"p99 {m['p99_ms']:6.2f} batch {m['batch_qps']:5.0f} q/s | floor p50 {fl['p50_ms']:4.2f} "
                  f"p99 {fl['p99_ms']:5.2f}", flush=True)
        index.drop()
        floor.drop()
    del faiss_index

    floor_ms = float(np.median(floors))
    print(f"\nMilvus request floor (FLAT over 100 rows, loopback gRPC): median p50 {floor_ms:.2f} ms")
    print("equal recall: the fastest ef of each reaching the target (single-query p50)")
    for target, f, m in equal_recall(faiss_rows, milvus_rows, TARGETS):
        print(f"  recall >= {target:.2f}: FAISS ef {f['ef']} {f['p50_ms']:.2f} ms ({f['recall']:.3f}), "
              f"Milvus ef {m['ef']} {m['p50_ms']:.2f} ms ({m['recall']:.3f}) -> Milvus / FAISS = "
              f"{m['p50_ms'] / f['p50_ms']:.1f}x (p99 {m['p99_ms'] / f['p99_ms']:.1f}x; batch q/s "
              f"FAISS / Milvus {f['batch_qps'] / m['batch_qps']:.1f}x); Milvus above its floor: {m['p50_ms'] - floor_ms:.2f} ms")


def photo_folder(root: Path, copies: int) -> Path:
    """The gallery photos and ``copies - 1`` edited copies of each (crop, flip, rotate, colour)."""
    folder = root / "photos"
    folder.mkdir(parents=True)
    for src in sorted(GALLERY.iterdir()):
        im = Image.open(src).convert("RGB")
        w, h = im.size
        for i in range(copies):
            e = im if i == 0 else im.crop((i % 5 * w // 40, i % 3 * h // 40, w - i % 4 * w // 40, h - i % 2 * h // 40))
            if i % 2:
                e = ImageOps.mirror(e)
            if i % 3 == 2:
                e = ImageEnhance.Color(e).enhance(0.5 + i / copies)
            e.save(folder / f"{src.stem}_{i:02}.jpg", quality=90)
    return folder


def bench_ray(copies: int, workers: int) -> None:
    from pixseek.distributed.ray_encode import RayConfig, ray_add, start_ray
    from pixseek.search import open_library

    DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=DATA, prefix="ray-") as tmp:
        tmp = Path(tmp)
        folder = photo_folder(tmp, copies)
        n = len(list(folder.iterdir()))
        print(f"\n## Ray encoding, {workers} local actors, vs one process: {n} real images "
              f"({len(list(GALLERY.iterdir()))} gallery photos x {copies} edited copies)", flush=True)
        with open_library(tmp / "one.db") as lib:
            one = lib.add(folder)
        print(f"one process : {one.added} images in {one.seconds:6.1f} s = {one.added / one.seconds:6.1f} img/s", flush=True)
        t0 = time.perf_counter()
        start_ray(RayConfig(workers=workers))
        ray_start = time.perf_counter() - t0
        with open_library(tmp / "ray.db") as lib:
            ray = ray_add(lib, folder, RayConfig(workers=workers))
        print(f"ray ({workers} act.): {ray.added} images in {ray.seconds:6.1f} s = {ray.added / ray.seconds:6.1f} img/s "
              f"(Ray cluster start {ray_start:.1f} s, not counted)")
        print(f"Ray / one process = {(ray.added / ray.seconds) / (one.added / one.seconds):.2f}x")
        import ray as ray_mod

        ray_mod.shutdown()
        shutil.rmtree(folder)


def real_centres() -> np.ndarray:
    """Real embeddings as cluster centres: the gallery photos and one drawing per emoji class
    (bench/data/emoji400, built by bench.datasets.emoji), encoded with the default encoder."""
    from pixseek.search import encode_paths

    paths = sorted(str(p) for p in GALLERY.iterdir())
    emoji = DATA / "emoji400"
    if emoji.is_dir():
        paths += [str(min(d.iterdir())) for d in sorted(emoji.iterdir()) if d.is_dir() and any(d.iterdir())]
    centres, ok, _ = encode_paths(paths)
    return centres


def fill_catalog(db: Path, x: np.ndarray) -> np.ndarray:
    """Write ``x`` as one virtual image per vector (as bench_search.fill does); the catalog's vector ids."""
    from pixseek.search import open_library
    from pixseek.store.catalog import NewFile

    with open_library(db) as lib:
        for start in range(0, len(x), 2000):
            part = x[start:start + 2000]
            lib.catalog.write_files(NewFile(f"/virtual/img{start + i:07d}.jpg", 1, 1, "x", part[i:i + 1])
                                    for i in range(len(part)))
        ids = np.concatenate([i for i, _ in lib.catalog.iter_vectors(lib.dim)])
    return ids


def timed_api(lib, q: np.ndarray, truth: np.ndarray) -> dict:
    """Library.search_vectors (index search + catalog lookup of paths): recall@10 and single-query
    p50/p99; the bare index search of the same library beside it (p50)."""
    lib.search_vectors(q[:20], 10)  # warm-up
    found = [[h.id for h in hits] for hits in lib.search_vectors(q, 10)]
    recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)]))
    api, raw = [], []
    for i in range(len(q)):
        t0 = time.perf_counter()
        hits = lib.search_vectors(q[i:i + 1], 10)[0]
        api.append(time.perf_counter() - t0)
        assert len(hits) == 10 and hits[0].path.startswith("/virtual/")
        t0 = time.perf_counter()
        lib.index.search(q[i:i + 1], 10)
        raw.append(time.perf_counter() - t0)
    api_ms, raw_ms = np.asarray(api) * 1000, np.asarray(raw) * 1000
    return {"recall": recall, "p50_ms": float(np.percentile(api_ms, 50)), "p99_ms": float(np.percentile(api_ms, 99)),
            "raw_p50_ms": float(np.percentile(raw_ms, 50))}


def bench_api(n: int, nq: int, spreads: list[float]) -> None:
    """What a pixseek user sees: the same Library.search_vectors over a FAISS-HNSW-backed and a
    Milvus-backed library holding the same catalog of ``n`` vectors."""
    from pixseek.search import open_library

    t0 = time.perf_counter()
    centres = real_centres()
    print(f"\n## pixseek API (Library.search_vectors: index + catalog lookup), FAISS HNSW library vs Milvus "
          f"library: {n:,} vectors, {nq} queries, M={M}, efConstruction={EF_CONSTRUCTION}; centres: "
          f"{len(centres)} real embeddings (gallery + emoji400, encoded in {time.perf_counter() - t0:.0f} s)", flush=True)
    DATA.mkdir(parents=True, exist_ok=True)
    for spread in spreads:
        model = jitter_model(centres, spread=spread)
        rng = np.random.default_rng(0)
        x, q = model.sample(n, rng).astype(np.float32), model.sample(nq, rng).astype(np.float32)
        with tempfile.TemporaryDirectory(dir=DATA, prefix="api-") as tmp, \
                MilvusStandalone(Path(tmp) / "milvus", stop_timeout=10) as server:
            tmp = Path(tmp)
            t0 = time.perf_counter()
            ids = fill_catalog(tmp / "faiss.db", x)
            shutil.copy(tmp / "faiss.db", tmp / "milvus.db")  # the same catalog, the same vector ids
            truth = ids[exact_topk(x, q, 10)]
            print(f"\nspread {spread}: two catalogs of {len(ids):,} vectors written in {time.perf_counter() - t0:.0f} s",
                  flush=True)
            t0 = time.perf_counter()
            flib = open_library(tmp / "faiss.db", index="hnsw", index_params={"M": M, "ef_construction": EF_CONSTRUCTION})
            print(f"FAISS library: {flib.index_kind}, built from the catalog in {time.perf_counter() - t0:.0f} s", flush=True)
            t0 = time.perf_counter()
            mlib = open_library(tmp / "milvus.db",
                                backend=f"{server.url}/api?index=HNSW&M={M}&efConstruction={EF_CONSTRUCTION}")
            upload = time.perf_counter() - t0
            mlib.index.wait_indexed()
            print(f"Milvus library: {mlib.index_kind}, synced from the catalog in {upload:.0f} s, + compaction + index "
                  f"build {time.perf_counter() - t0:.0f} s, {mlib.index.ntotal:,} rows", flush=True)
            print("each ef: FAISS library then Milvus library back to back (single-query p50/p99 ms of "
                  "search_vectors; 'index' = the bare index search p50 in the same loop)")
            frows, mrows = [], []
            for ef in EFS:
                flib.index.tune(ef_search=ef)
                f = {"ef": ef} | timed_api(flib, q, truth)
                mlib.index.tune(ef=ef)
                m = {"ef": ef} | timed_api(mlib, q, truth)
                frows.append(f), mrows.append(m)
                print(f"  ef {ef:4}  FAISS lib recall@10 {f['recall']:.3f} p50 {f['p50_ms']:5.2f} p99 {f['p99_ms']:5.2f} "
                      f"(index {f['raw_p50_ms']:4.2f}) | Milvus lib recall@10 {m['recall']:.3f} p50 {m['p50_ms']:5.2f} "
                      f"p99 {m['p99_ms']:6.2f} (index {m['raw_p50_ms']:4.2f}) | p50 ratio {m['p50_ms'] / f['p50_ms']:.1f}x",
                      flush=True)
            mlib.index.drop()
            flib.close(), mlib.close()
        print(f"equal recall (spread {spread}): the fastest ef of each reaching the target (search_vectors p50)")
        for target, f, m in equal_recall(frows, mrows, API_TARGETS):
            print(f"  recall >= {target:.3f}: FAISS lib ef {f['ef']} {f['p50_ms']:.2f} ms ({f['recall']:.3f}), "
                  f"Milvus lib ef {m['ef']} {m['p50_ms']:.2f} ms ({m['recall']:.3f}) -> Milvus / FAISS = "
                  f"{m['p50_ms'] / f['p50_ms']:.1f}x (p99 {m['p99_ms'] / f['p99_ms']:.1f}x; bare index "
                  f"{m['raw_p50_ms'] / f['raw_p50_ms']:.1f}x)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=1280)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--copies", type=int, default=16, help="edited copies per gallery photo for the Ray part")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--api-n", type=int, default=100_000, help="vectors in each library for the API part")
    ap.add_argument("--api-spread", type=float, nargs="+", default=[0.3, 1.0],
                    help="jitter spreads around the real centres for the API part (wider: harder)")
    ap.add_argument("--skip", choices=("milvus", "ray", "api"), action="append", default=[])
    ap.add_argument("--only", choices=("milvus", "ray", "api"), help="run this part alone")
    a = ap.parse_args()
    if a.only:
        a.skip = [p for p in ("milvus", "ray", "api") if p != a.only]
    print(f"machine: {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M')}")
    if "ray" not in a.skip:
        bench_ray(a.copies, a.workers)
    if "milvus" not in a.skip:
        bench_milvus(a.n, a.dim, a.queries, single=a.queries)
    if "api" not in a.skip:
        bench_api(a.api_n, a.queries, a.api_spread)


if __name__ == "__main__":
    main()
