"""Relevance feedback with a simulated user, and query expansion without clicks; same run, ratios.

    make bench-deps && .venv/bin/python bench/feedback.py [--seeds 0 1] [--classes 400] [--libraries] [--timing-only]

Dev sets (bench/feedback_data.py, embedded once with the shipped encoder): emoji cross-vendor (400
emoji drawn by 4 vendors, relevant = the same emoji by another vendor) and photos (bench/datasets/
photos.py "dev" split: an original and its 13 edited copies are relevant to each other; distractors
and their crops to nothing) and categories (bench/datasets/real_words.py: 80 % of 274 real photos drawn
per seed, one category each, e.g. fish, bird, windmill, castle; relevant = the same category; an
evaluation set, Feedback's defaults are not tuned on it).

1. Simulated user, every query: rank the collection (query excluded), look at the top 10, mark up to 3
   relevant hits like and up to 3 irrelevant ones unlike, refine; round 2 looks at the top 10 unmarked
   hits of round 1 and adds up to 3 + 3 marks. mAP on the RESIDUAL collection (all marks so far
   removed from both rankings; queries with no relevant item left are skipped), plain vs refined,
   Rocchio vs ridge (with and without the background centroid: the mean of 256 random collection
   vectors) vs ridge+copy (the default: ridge also in the shipped copy-detection projection space),
   same marks.
2. Time of a refined search (fit + FAISS flat search) vs a plain one (FAISS flat search of the same
   query), 20 marks (10 + 10), the dev set's real collection size and the whole emoji set (7,408),
   single query, median of 200, interleaved. End to end (``--libraries``): ``Library.query(v, like=,
   unlike=)`` vs ``Library.query(v)`` on real libraries opened through ``pixseek.open`` (so with the
   shipped projection), one built from the photo dev folder of the first seed and one from the whole
   emoji folder (7,408 images; indexed once, kept under bench/data/feedback/), 6 and 20 marks.
3. Query expansion (alpha-QE, DBA, both) vs the plain query: half the collection is the database, the
   other half the queries (no query is in the database, so DBA cannot see it), mAP; and the cost.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.datasets import DATA_ROOT, photos  # noqa: E402
from bench.feedback_data import dev_sets, emoji_set  # noqa: E402
from pixseek.compare.projection import load_projection  # noqa: E402
from pixseek.encoders import create_encoder  # noqa: E402
from pixseek.index.flat import FlatIndex  # noqa: E402
from pixseek.search.feedback import Feedback, Projection, alpha_qe, dba  # noqa: E402

LOOK, MARKS, BACKGROUND = 10, 3, 256


class NoBackground:
    """The same method fitted on the marks alone (no background centroid as a negative)."""

    def __init__(self, fb: Feedback):
        self.fb = fb

    def fit(self, query, like, unlike, background, projection=None):
        return self.fb.fit(query, like, unlike, projection=projection)


def average_precision(scores: np.ndarray, relevant: np.ndarray) -> float:
    r = relevant[np.argsort(-scores, kind="stable")]
    hits = np.flatnonzero(r)
    return float(((np.arange(len(hits)) + 1) / (hits + 1)).mean()) if len(hits) else float("nan")


def marks_from(scores: np.ndarray, relevant: np.ndarray, open_: np.ndarray) -> tuple[list[int], list[int]]:
    """The simulated user: the top LOOK open items; up to MARKS relevant -> like, irrelevant -> unlike."""
    s = np.where(open_, scores, -np.inf)
    top = np.argsort(-s, kind="stable")[:LOOK]
    top = top[np.isfinite(s[top])]
    return [int(i) for i in top if relevant[i]][:MARKS], [int(i) for i in top if not relevant[i]][:MARKS]


def simulate(x: np.ndarray, labels: np.ndarray, queries: np.ndarray, methods: dict[str, Feedback],
             seed: int, projection=None) -> dict:
    """Per round and method: (mAP plain, mAP refined) on the residual collection, and the query count."""
    rng = np.random.default_rng(seed)
    out = {(r, m): [[], []] for r in (1, 2) for m in methods}
    for qi in queries:
        relevant = labels == labels[qi]
        relevant[qi] = False
        if not relevant.any():
            continue
        s0 = x @ x[qi]
        open_ = np.ones(len(x), bool)
        open_[qi] = False
        like1, unlike1 = marks_from(s0, relevant, open_)
        bg = x[rng.choice(len(x), min(BACKGROUND, len(x)), replace=False)]
        for name, fb in methods.items():
            like, unlike, opn, s_prev = list(like1), list(unlike1), open_.copy(), s0
            for rnd in (1, 2):
                if rnd == 2:
                    l2, u2 = marks_from(s_prev, relevant, opn)
                    like, unlike = like + l2, unlike + u2
                opn = open_.copy()
                opn[like + unlike] = False
                s = fb.fit(x[qi], x[like], x[unlike], bg, projection=projection).score(x)
                res = opn & np.isfinite(s0)
                if relevant[res].any():
                    out[(rnd, name)][0].append(average_precision(s0[res], relevant[res]))
                    out[(rnd, name)][1].append(average_precision(s[res], relevant[res]))
                s_prev = s
    return {k: (float(np.mean(a)), float(np.mean(b)), len(a)) for k, (a, b) in out.items()}


def timing(x: np.ndarray, methods: dict[str, Feedback], seed: int, n_queries: int = 200, k: int = 10,
           projection=None) -> dict:
    """Median seconds: plain flat search vs fit + flat search, 10 like + 10 unlike marks."""
    rng = np.random.default_rng(seed)
    index = FlatIndex(x.shape[1])
    index.add(x, np.arange(len(x)))
    qs = rng.choice(len(x), n_queries, replace=False)
    out = {"plain": []} | {m: [] for m in methods}
    for qi in qs:
        marks = rng.choice(len(x), 20, replace=False)
        # the background as the caller would keep it: a centroid, computed once
        bg = x[rng.choice(len(x), min(BACKGROUND, len(x)), replace=False)].mean(0, keepdims=True)
        for name in out:  # interleaved, so load on the shared machine hits all alike
            t0 = time.perf_counter()
            if name == "plain":
                index.search(x[qi][None], k)
            else:
                refined = methods[name].fit(x[qi], x[marks[:10]], x[marks[10:]], bg, projection=projection)
                _, ids = index.search(refined.query[None], k)
                refined.score(x[ids[0]])
            out[name].append(time.perf_counter() - t0)
    return {m: float(np.median(v)) for m, v in out.items()}


def expansion(x: np.ndarray, labels: np.ndarray, seed: int, n: int = 10, alpha: float = 3.0) -> dict:
    """mAP of plain / alpha-QE / DBA / DBA+alpha-QE, queries disjoint from the database; and seconds."""
    rng = np.random.default_rng(seed)
    is_db = rng.random(len(x)) < 0.5
    db, dbl, q, ql = x[is_db], labels[is_db], x[~is_db], labels[~is_db]
    keep = np.isin(ql, dbl)
    q, ql = q[keep], ql[keep]
    index = FlatIndex(x.shape[1])
    index.add(db, np.arange(len(db)))
    t0 = time.perf_counter()
    s, i = index.search(db, n + 1)
    db_aug = dba(db, i, s, alpha)
    t_dba = time.perf_counter() - t0
    aug_index = FlatIndex(x.shape[1])
    aug_index.add(db_aug, np.arange(len(db)))

    def qe(idx, base):
        s, i = idx.search(q, n)
        return alpha_qe(q, base[i], s, alpha)

    rel = ql[:, None] == dbl[None]
    res = {}
    for name, queries, base in [("plain", q, db), ("alpha-QE", None, db), ("DBA", q, db_aug),
                                ("DBA + alpha-QE", None, db_aug)]:
        idx = index if base is db else aug_index
        queries = qe(idx, base) if queries is None else queries
        scores = queries @ base.T
        res[name] = float(np.mean([average_precision(scores[j], rel[j]) for j in range(len(q))]))
    # cost of one query: plain search vs search + expand + search again
    tp, tq = [], []
    for j in range(min(200, len(q))):
        t0 = time.perf_counter()
        index.search(q[j][None], 10)
        tp.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        s, i = index.search(q[j][None], n)
        index.search(alpha_qe(q[j], db[i[0]], s[0], alpha)[None], 10)
        tq.append(time.perf_counter() - t0)
    res.update({"queries": len(q), "db": len(db), "dba_seconds": t_dba,
                "qe_time_ratio": float(np.median(tq) / np.median(tp))})
    return res


def library_timing(folder: Path, db: Path, seed: int, n_queries: int = 100, k: int = 10) -> dict:
    """Median seconds of ``Library.query`` plain vs with 3 + 3 and 10 + 10 marks, end to end (refine:
    mark checks, the marked vectors from the catalog, the fit; the index search; hits with stacks)."""
    import pixseek

    with pixseek.open(db) as lib:
        lib.ingest(folder)
    with pixseek.open(db) as lib:
        ids = lib.item_ids()
        rng = np.random.default_rng(seed)
        out = {"plain": [], "6 marks": [], "20 marks": []}
        for qi in rng.choice(ids, min(n_queries, len(ids)), replace=False):
            v = lib.vectors([int(qi)])
            marks = [int(i) for i in rng.choice(ids[ids != qi], 20, replace=False)]
            for name, (like, unlike) in {"plain": ((), ()), "6 marks": (marks[:3], marks[3:6]),
                                         "20 marks": (marks[:10], marks[10:])}.items():
                t0 = time.perf_counter()
                lib.query(v, k, like=like, unlike=unlike)
                out[name].append(time.perf_counter() - t0)
        return {"items": len(ids), "projection": lib._feedback_projection is not None} | {
            m: float(np.median(t)) for m, t in out.items()}


def http_timing(folder: Path, db: Path, seed: int, n_queries: int = 50, k: int = 10) -> dict:
    """Median seconds of ``POST /api/search/image`` (the held-out protocol's way in: upload, decode,
    embed, search, JSON) plain vs with 3 + 3 and 10 + 10 marks, through the real app (FastAPI's
    TestClient, in process, no network), interleaved."""
    from fastapi.testclient import TestClient

    import pixseek
    from pixseek.api import ApiSettings, create_app

    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
    rng = np.random.default_rng(seed)
    picks = [files[i] for i in rng.choice(len(files), min(n_queries, len(files)), replace=False)]
    with pixseek.open(db, readonly=True) as lib, TestClient(create_app(lib, ApiSettings())) as client:
        ids = lib.item_ids()
        out = {"plain": [], "6 marks": [], "20 marks": []}
        for path in picks:
            data = path.read_bytes()
            marks = [int(i) for i in rng.choice(ids, 20, replace=False)]
            for name, (like, unlike) in {"plain": ((), ()), "6 marks": (marks[:3], marks[3:6]),
                                         "20 marks": (marks[:10], marks[10:])}.items():
                form = {"like": ",".join(map(str, like)), "unlike": ",".join(map(str, unlike))} if like else {}
                t0 = time.perf_counter()
                r = client.post(f"/api/search/image?k={k}", files={"file": (path.name, data)}, data=form)
                out[name].append(time.perf_counter() - t0)
                assert r.status_code == 200, r.text
        return {"items": len(ids)} | {m: float(np.median(t)) for m, t in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--classes", type=int, default=400)
    ap.add_argument("--libraries", action="store_true", help="also time Library.query end to end")
    ap.add_argument("--timing-only", action="store_true", help="only the timings (no simulated user, no expansion)")
    a = ap.parse_args()
    projection = load_projection(create_encoder().model_id)  # the encoder bench/feedback_data.py embeds with
    projection = Projection(projection.mean, projection.matrix)  # prepared once, as a library does
    methods = {"rocchio": Feedback("rocchio"), "ridge": Feedback("ridge"),
               "ridge-nobg": NoBackground(Feedback("ridge")), "ridge+copy": Feedback("ridge+copy")}
    for seed in a.seeds:
        for name, (x, labels, queries) in dev_sets(seed, a.classes).items():
            print(f"\n== {name}, seed {seed}: {len(x)} vectors, {len(queries)} queries, dim {x.shape[1]}", flush=True)
            if a.timing_only:
                t = timing(x, methods, seed, projection=projection)
                print(f"time, 20 marks, median: plain {t['plain'] * 1e3:.3f} ms; " + "; ".join(
                    f"{m} {t[m] * 1e3:.3f} ms ({t[m] / t['plain']:.2f}x)" for m in methods))
                continue
            t0 = time.perf_counter()
            sim = simulate(x, labels, queries, methods, seed, projection)
            print(f"residual mAP (simulate: {time.perf_counter() - t0:.0f} s)")
            print(f"{'round':6} {'method':10} {'queries':>7} {'plain':>7} {'refined':>7} {'gain':>7} "
                  f"{'gap closed':>10}")
            for (rnd, m), (p, r, nq) in sim.items():
                print(f"{rnd:<6} {m:10} {nq:7d} {p:7.4f} {r:7.4f} {r / p - 1:+7.1%} {(r - p) / (1 - p):10.1%}")
            t = timing(x, methods, seed, projection=projection)
            print("time, 20 marks, flat index of the whole collection, median: plain "
                  f"{t['plain'] * 1e3:.3f} ms; " + "; ".join(
                      f"{m} {t[m] * 1e3:.3f} ms ({t[m] / t['plain']:.2f}x)" for m in methods))
            for n in (3, 10):
                e = expansion(x, labels, seed, n=n)
                print(f"query expansion (n={n}, alpha=3; {e['queries']} queries vs {e['db']} db): " + "; ".join(
                    f"{k} {e[k]:.4f}" for k in ("plain", "alpha-QE", "DBA", "DBA + alpha-QE"))
                    + f"; alpha-QE query time {e['qe_time_ratio']:.2f}x plain; DBA {e['dba_seconds']:.2f} s once")
    x = emoji_set(None)[0]
    t = timing(x, methods, 0, projection=projection)
    print(f"\ntime on the whole emoji set ({len(x)} vectors), 20 marks, median: plain {t['plain'] * 1e3:.3f} ms; "
          + "; ".join(f"{m} {t[m] * 1e3:.3f} ms ({t[m] / t['plain']:.2f}x)" for m in methods))
    if a.libraries:
        photos.build("dev", a.seeds[0])
        for name, folder in [(f"photos dev s{a.seeds[0]}", DATA_ROOT / f"copydet-dev-s{a.seeds[0]}"),
                             ("emoji, all", DATA_ROOT / "emoji")]:
            db = DATA_ROOT / "feedback" / f"lib-{folder.name}.db"
            t0 = time.perf_counter()
            t = library_timing(folder, db, a.seeds[0])
            print(f"Library.query end to end, {name} ({t['items']} items, projection {t['projection']}; "
                  f"ingest/open {time.perf_counter() - t0:.0f} s), median of 100: plain {t['plain'] * 1e3:.2f} ms; "
                  + "; ".join(f"{m} {t[m] * 1e3:.2f} ms ({t[m] / t['plain']:.2f}x)" for m in ("6 marks", "20 marks")),
                  flush=True)
            t = http_timing(folder, db, a.seeds[0])
            print(f"POST /api/search/image end to end, {name} ({t['items']} items), median of 50: plain "
                  f"{t['plain'] * 1e3:.2f} ms; " + "; ".join(f"{m} {t[m] * 1e3:.2f} ms ({t[m] / t['plain']:.2f}x)"
                                                         for m in ("6 marks", "20 marks")), flush=True)


if __name__ == "__main__":
    main()
