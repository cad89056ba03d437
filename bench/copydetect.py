"""Copy detection benchmark (Copydays / DISC21 style) on a seeded dev set (bench/datasets/photos.py).

    .venv/bin/python bench/copydetect.py                 # report: split "dev", seed 0
    .venv/bin/python bench/copydetect.py --calibrate     # fit compare's thresholds on split "cal", seed 1
                                                         # (disjoint pictures), write calibration.json

    .venv/bin/python bench/copydetect.py --split cal --seed 1 --no-verdict --no-timing --save-stages cal1.pkl
    .venv/bin/python bench/copydetect.py --seed N --no-verdict --no-timing --save-stages devN.pkl
    .venv/bin/python bench/copydetect.py --from-stages cal1.pkl dev0.pkl ...   # fit the cascade on cal, report dev
    .venv/bin/python bench/copydetect.py --timing-only --seed 0   # --copies vs plain search, one run (issue 15)
    .venv/bin/python bench/copydetect.py --dedup 1000             # dedup vs indexing time (issue 15)

Prints, in one run, global-vector-only, every-stage and cascade figures: R@1 and mAP per edit family,
the cascade's stop counts, per-query time of copy search vs plain search (end to end, same run) and
region bytes/image; then the precision / recall of ``compare``'s near-duplicate verdict with the
shipped thresholds.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.datasets import photos  # noqa: E402
from pixseek.compare.copies import (CascadeStats, CopyConfig, RefBank, copy_search, fuse, hash_copies, margin,  # noqa: E402
                                    project_regions, projection_for)
from pixseek.compare.regions import RegionStore, describe_query, describe_variants  # noqa: E402
from pixseek.compare.verdict import calibration_file, judge, load_thresholds, pair_similarity, Thresholds  # noqa: E402
from pixseek.preprocess import load_for  # noqa: E402
from pixseek.search.wiring import open_library  # noqa: E402


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    order = np.argsort(-scores, kind="stable")
    hits = labels[order].astype(np.float64)
    if not hits.sum():
        return 0.0
    prec = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((prec * hits).sum() / hits.sum())


def run(split: str, seed: int, cfg: CopyConfig, verdict: bool = True, timing: bool = True) -> dict:
    root = photos.build(split, seed)
    manifest = json.loads((root / "manifest.json").read_text())
    tmp = Path(tempfile.mkdtemp(prefix="copydetect-"))
    lib = open_library(tmp / "lib.db", regions=True)
    t0 = time.perf_counter()
    lib.add(root / "db")
    index_s = time.perf_counter() - t0
    ids, vecs = next(lib.catalog.iter_vectors(lib.dim, batch=1 << 20))
    rows = lib.catalog.vector_rows(ids.tolist())
    names = [Path(rows[int(i)].path).name for i in ids]
    regions = RegionStore(lib).get(ids.tolist())
    vec_of = {int(i): v for i, v in zip(ids, vecs)}
    region_bytes = float(np.mean([r.nbytes() for r in regions.values()]))
    # db images described as queries too (mirrored), for compare()'s symmetric similarity
    db_q = {int(i): describe_query(lib.encoder, load_for(lib.encoder.preprocess, rows[int(i)].path), cfg.regions)
            for i in ids} if verdict else {}
    # copy ranking scores on the shipped copy-detection projection ("global" below stays the raw stored
    # vector); compare's verdict (pair_similarity) stays on raw descriptors
    proj = projection_for(lib.model_id, cfg)
    id_list = ids.tolist()
    bank = RefBank(project_regions({i: regions[i] for i in id_list}, proj))
    pvecs = proj.vectors(vecs) if proj is not None else vecs
    hashes = np.asarray([regions[i].phash for i in id_list], np.int64)
    stages = []  # per query: the cascade's inputs over all indexed images, to score any cascade setting
    pairs = []  # (similarity, positive, family) for the verdict
    for q in manifest["queries"]:
        im = load_for(lib.encoder.preprocess, root / "queries" / q["file"])
        qvec = lib.embed([im])[0]
        plain = describe_variants(lib.encoder, im, cfg.regions)  # as is and mirrored: what the verdict is calibrated on
        turned = describe_variants(lib.encoder, im, cfg.regions, cfg.rotations, plain=False)
        pq = proj.vectors(qvec) if proj is not None else qvec
        pr = lambda vs: [proj.vectors(v.feats) if proj is not None else v.feats for v in vs]  # noqa: E731
        labels = np.array([n == q["source"] for n in names])
        stages.append({"family": q["family"], "labels": labels, "global_raw": vecs @ qvec, "global": pvecs @ pq,
                       "trivial": hash_copies(plain[0].phash, hashes, cfg.hash_bits),
                       "plain": bank.region_scores(pr(plain), id_list),
                       "rot": bank.region_scores(pr(turned), id_list) if cfg.rotations else None})
        for i, lab in zip(ids, labels) if verdict else []:
            sim, det = pair_similarity(plain, qvec, db_q[int(i)], vec_of[int(i)], cfg)
            pairs.append((sim, bool(lab), q["family"], det))
    for a in range(len(id_list)) if verdict else []:  # unrelated db pairs (distractor crops of the same photo are related)
        for b in range(a + 1, len(id_list)):
            na, nb = names[a], names[b]
            related = na.startswith("d-") and nb.startswith("d-") and na.split("-crop")[0].removesuffix(".jpg") == nb.split("-crop")[0].removesuffix(".jpg")
            sim, det = pair_similarity(db_q[id_list[a]], vecs[a], db_q[id_list[b]], vecs[b], cfg)
            pairs.append((sim, related, "db-pair", det))
    timing = time_queries(lib, [root / "queries" / q["file"] for q in manifest["queries"]], cfg) if timing else None
    lib.close()
    return {"split": split, "seed": seed, "projected": proj is not None, "stages": stages, "pairs": pairs,
            "nq": len(manifest["queries"]), "ndb": len(ids), "region_bytes": region_bytes,
            "global_bytes": lib.dim * 4, "index_s": index_s, "timing": timing}


def cascade_scores(st: dict, cfg: CopyConfig, cascade: bool = True) -> tuple[np.ndarray, str]:
    """A query's copy scores over all indexed images as copy_search computes them, and where it stopped."""
    g, trivial = st["global"], st["trivial"]
    first = np.where(trivial, 1.0, g)
    top, lead = margin(st["global_raw"])  # the plain search's scores decide
    if cascade and (trivial.any() or (top >= cfg.skip_score and lead >= cfg.skip_margin)):
        return first, "global"
    fused = np.where(trivial, 1.0, fuse(g, st["plain"], cfg))
    if st["rot"] is None or (cascade and lead >= cfg.rotation_margin):
        return fused, "regions"
    return np.where(trivial, 1.0, fuse(g, np.maximum(st["plain"], st["rot"]), cfg)), "rotations"


def rank_figures(stages: list[dict], cfg: CopyConfig, cascade: bool) -> dict:
    per = defaultdict(list)
    where = defaultdict(int)
    wrong_raw = 0
    for st in stages:
        s, stage = cascade_scores(st, cfg, cascade)
        where[stage] += 1
        raw = st["global_raw"]
        wrong_raw += stage == "global" and not st["trivial"].any() and bool((raw > raw[st["labels"]][0]).any())
        rank = int((s > s[st["labels"]][0]).sum()) + 1
        per[st["family"]].append((rank == 1, 1.0 / rank))
    allq = np.array([x for v in per.values() for x in v])
    combos = np.array(per.get("combo", [(0, 0)]))
    return {"per": per, "r1": float(allq[:, 0].mean()), "map": float(allq[:, 1].mean()),
            "combo_map": float(combos[:, 1].mean()), "stopped": dict(where), "skipped_wrong_raw": wrong_raw,
            "expensive_rate": 1 - where["global"] / len(stages)}


def time_queries(lib, paths: list[Path], cfg: CopyConfig, k: int = 10) -> dict:
    """End to end per query (decode, embed, search; for --copies also regions), plain vs copy search, one run,
    the way the CLI runs a --list: plain = decode all then one batched lib.search; copies = copy_search."""
    def plain():
        t = time.perf_counter()
        lib.search([load_for(lib.encoder.preprocess, p) for p in paths], k)
        return time.perf_counter() - t

    t_plain = plain()
    stats = CascadeStats()
    t = time.perf_counter()
    copy_search(lib, paths, k, cfg, stats=stats)
    t_copies = time.perf_counter() - t
    t_plain = (t_plain + plain()) / 2  # before and after: machine load drifts
    n = len(paths)
    return {"n": n, "ms_plain": 1000 * t_plain / n, "ms_copies": 1000 * t_copies / n, "ratio": t_copies / t_plain,
            "cascade": stats.to_dict()}


def fit_cascade(res: dict, base: CopyConfig) -> CopyConfig:
    """The cheapest skip thresholds on this (cal) split such that every query stopped at the global stage
    is ranked right both by the plain search and by the cascade, and overall R@1 / combos mAP equal those of
    running every stage. The rotation stage is not fitted: the projection was fitted on the cal pictures,
    so there every copy is found without rotations; rotations always run with regions (rotation_margin 1)."""
    full = rank_figures(res["stages"], replace(base, cascade=False), cascade=False)
    best, best_rate = replace(base, cascade=False), 1.0
    for skip_score in (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9):
        for skip_margin in (0.02, 0.05, 0.08, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4):
            c = replace(base, skip_score=skip_score, skip_margin=skip_margin, rotation_margin=1.0)
            f = rank_figures(res["stages"], c, cascade=True)
            if f["r1"] < full["r1"] or f["combo_map"] < full["combo_map"] - 1e-9 or f["skipped_wrong_raw"]:
                continue
            if f["expensive_rate"] < best_rate - 1e-9:
                best, best_rate = c, f["expensive_rate"]
    # safety: the lead must be at least twice the largest lead of any cal query the global stage ranks wrong
    # (raw or projected), rounded up to the grid
    wrong = [margin(st["global_raw"])[1] for st in res["stages"]
             if any((st[k] > st[k][st["labels"]][0]).any() for k in ("global_raw", "global"))]
    safe = 2 * max(wrong, default=0.0)
    grid = [m for m in (0.02, 0.05, 0.08, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4) if m >= safe]
    if best.cascade and grid and grid[0] > best.skip_margin:
        best = replace(best, skip_margin=grid[0])
    print(f"largest lead of a wrongly ranked cal query: {max(wrong, default=0.0):.3f} -> skip_margin >= {safe:.3f}")
    f = rank_figures(res["stages"], best, cascade=best.cascade)
    print(f"fitted cascade on {res['split']} seed {res['seed']}: skip_score {best.skip_score}, skip_margin "
          f"{best.skip_margin}, rotation_margin {best.rotation_margin}: stopped {f['stopped']}; R@1 {f['r1']:.3f} "
          f"(all stages {full['r1']:.3f}), combos mAP {f['combo_map']:.3f} (all stages {full['combo_map']:.3f})")
    return best


def report(res: dict, cfg: CopyConfig) -> None:
    print(f"split {res['split']} seed {res['seed']}: {res['nq']} queries, {res['ndb']} indexed images; region "
          f"re-ranking on {'the shipped copy-detection projection' if res['projected'] else 'raw descriptors'}")
    glob = defaultdict(list)
    for st in res["stages"]:
        s = st["global_raw"]
        rank = int((s > s[st["labels"]][0]).sum()) + 1
        glob[st["family"]].append((rank == 1, 1.0 / rank))
    full, casc = rank_figures(res["stages"], cfg, False), rank_figures(res["stages"], cfg, True)
    print(f"{'family':10s} {'n':>4s} {'R@1 glob':>9s} {'R@1 all':>8s} {'R@1 casc':>9s} {'mAP glob':>9s} {'mAP all':>8s} "
          f"{'mAP casc':>9s}")
    for fam in sorted(glob):
        g, a, c = (np.array(d[fam]) for d in (glob, full["per"], casc["per"]))
        print(f"{fam:10s} {len(g):4d} {g[:, 0].mean():9.3f} {a[:, 0].mean():8.3f} {c[:, 0].mean():9.3f} "
              f"{g[:, 1].mean():9.3f} {a[:, 1].mean():8.3f} {c[:, 1].mean():9.3f}")
    g = np.array([x for v in glob.values() for x in v])
    print(f"{'all':10s} {len(g):4d} {g[:, 0].mean():9.3f} {full['r1']:8.3f} {casc['r1']:9.3f} {g[:, 1].mean():9.3f} "
          f"{full['map']:8.3f} {casc['map']:9.3f}")
    print(f"combos mAP: all stages {full['combo_map']:.3f}, cascade {casc['combo_map']:.3f}; cascade stopped at "
          f"{casc['stopped']} (expensive stage on {casc['expensive_rate']:.1%} of queries)")
    t = res["timing"]
    if t is None:
        return
    print(f"timing, one run, {t['n']} queries end to end: plain search {t['ms_plain']:.1f} ms/query, --copies "
          f"{t['ms_copies']:.1f} ms/query (x{t['ratio']:.2f}); cascade {t['cascade']}")
    print(f"storage: {res['global_bytes']} B/image global vector, {res['region_bytes']:.0f} B/image regions; "
          f"indexing {res['index_s']:.1f}s incl. regions")


def verdict_figures(pairs, th: Thresholds) -> dict:
    tp = fp = fn = 0
    per = defaultdict(lambda: [0, 0])
    for sim, pos, fam, det in pairs:
        dup = judge(sim, det, th) in ("identical", "near-duplicate")
        tp += dup and pos
        fp += dup and not pos
        fn += (not dup) and pos
        if pos:
            per[fam][0] += dup
            per[fam][1] += 1
    return {"precision": tp / max(1, tp + fp), "recall": tp / max(1, tp + fn), "tp": tp, "fp": fp, "fn": fn,
            "recall_per_family": {f: round(a / b, 3) for f, (a, b) in sorted(per.items())}}


def calibrate(res: dict, model_id: str, target: float = 0.999) -> dict:
    """Lowest near-duplicate threshold whose precision on this split is ≥ ``target``;
    'similar' at the 95th percentile of unrelated pairs."""
    sims = np.array([p[0] for p in res["pairs"]])
    pos = np.array([p[1] for p in res["pairs"]])
    best = float(sims.max()) + 1e-6
    for t in np.unique(sims)[::-1]:
        sel = sims >= t
        if pos[sel].mean() >= target:
            best = float(t)
        else:
            break
    near = round(max(best, float(sims[~pos].max()) + 1e-3 if pos[sims > sims[~pos].max()].any() else best), 4)
    entry = {"near_duplicate": near, "similar": round(float(np.quantile(sims[~pos], 0.95)), 4), "identical_bits": 2,
             "calibrated_on": f"bench/datasets/photos.py split {res['split']} seed {res['seed']}", "target_precision": target}
    th = Thresholds(entry["near_duplicate"], entry["similar"], 2, True)
    fig = verdict_figures(res["pairs"], th)
    entry["calibration_precision"] = round(fig["precision"], 4)
    entry["calibration_recall"] = round(fig["recall"], 4)
    path = Path(str(calibration_file()))
    table = json.loads(path.read_text()) if path.exists() else {}
    table[model_id] = entry
    path.write_text(json.dumps(table, indent=1) + "\n")
    print(f"wrote {path}: {model_id}: {entry}")
    return entry


def dedup_timing(n: int, seed: int = 0) -> dict:
    """Dedup time vs indexing time (with regions) on ``n`` images: every picture of the pool (both splits)
    and seeded single edits of it (resize, JPEG q20, colour, crop, ...) up to ``n`` files, so that about one
    file in ten has its source and siblings in the set."""
    import random
    import resource

    from pixseek.compare.dedup import DedupConfig, find_duplicates

    out = photos.DATA_ROOT / f"dedup-{n}-s{seed}"
    if not (out / "done").exists():
        out.mkdir(parents=True, exist_ok=True)
        rng = random.Random(seed)
        items, written, fams = photos.pool(None), 0, list(photos.FAMILIES)
        while written < n:
            for name, im in items:
                if written >= n:
                    break
                edit = photos.FAMILIES[rng.choice(fams)](im, rng) if written >= len(items) else im
                edit.convert("RGB").save(out / f"{written:05d}-{name}.jpg", quality=90)
                written += 1
        (out / "done").write_text("ok")
    tmp = Path(tempfile.mkdtemp(prefix="dedup-bench-"))
    with open_library(tmp / "lib.db", regions=True) as lib:
        t = time.perf_counter()
        lib.add(out)
        index_s = time.perf_counter() - t
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        groups = find_duplicates(lib, DedupConfig(), cache=True)
        dedup_s = time.perf_counter() - t
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        again = find_duplicates(lib, DedupConfig(), cache=True)
        cached_s = time.perf_counter() - t
    res = {"n": n, "index_s": index_s, "dedup_s": dedup_s, "ratio": dedup_s / index_s, "cached_s": cached_s,
           "groups": len(groups), "same_again": [g.ids for g in again] == [g.ids for g in groups],
           "peak_rss_mb_before_dedup": rss0 / 1024, "peak_rss_mb_after_dedup": rss1 / 1024}
    print(f"dedup of {n} images: indexing with regions {index_s:.1f}s, dedup {dedup_s:.1f}s "
          f"(x{res['ratio']:.2f} the indexing), {len(groups)} groups; again from the cache {cached_s:.2f}s; "
          f"peak RSS {res['peak_rss_mb_before_dedup']:.0f} MB before dedup, {res['peak_rss_mb_after_dedup']:.0f} MB after")
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=["cal", "dev"], default=None, help="pictures (default: dev; cal with --calibrate)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--calibrate", action="store_true", help="fit compare's thresholds (default: split cal, seed 1)")
    ap.add_argument("--global-weight", type=float, default=CopyConfig().global_weight)
    ap.add_argument("--no-projection", action="store_true", help="score raw descriptors (no shipped projection)")
    ap.add_argument("--fit-cascade", action="store_true", help="fit the cascade's thresholds (split cal unless given)")
    ap.add_argument("--no-verdict", action="store_true", help="skip the verdict part (all pairs; the slow part)")
    ap.add_argument("--no-timing", action="store_true", help="skip the --copies vs plain search timing part")
    ap.add_argument("--timing-only", action="store_true", help="only the --copies vs plain search timing on the split")
    ap.add_argument("--save-stages", type=Path, default=None, help="pickle the per-query stage scores here")
    ap.add_argument("--dedup", type=int, default=None, metavar="N", help="only the dedup-vs-indexing timing on N images")
    ap.add_argument("--from-stages", type=Path, nargs="+", default=None, metavar="PKL",
                    help="no run: fit the cascade on the first (a cal split's --save-stages) and report on the others")
    args = ap.parse_args()
    if args.from_stages:
        import pickle

        loaded = [pickle.load(open(p, "rb")) for p in args.from_stages]
        assert loaded[0]["split"] == "cal", "fit on a cal split only"
        cfg = fit_cascade(loaded[0], CopyConfig())
        rows = []
        for res in loaded[1:]:
            a, c = rank_figures(res["stages"], cfg, False), rank_figures(res["stages"], cfg, True)
            rows.append((res["seed"], a, c))
            print(f"{res['split']} seed {res['seed']}: all stages R@1 {a['r1']:.3f} combos mAP {a['combo_map']:.3f}; "
                  f"cascade R@1 {c['r1']:.3f} combos mAP {c['combo_map']:.3f}, expensive stage on "
                  f"{c['expensive_rate']:.1%} ({c['stopped']})")
        return
    if args.dedup:
        dedup_timing(args.dedup)
        return
    seed = args.seed if args.seed is not None else (1 if args.calibrate or args.fit_cascade else 0)
    cfg = CopyConfig(global_weight=args.global_weight, projected=not args.no_projection)
    if args.timing_only:
        root = photos.build(args.split or "dev", seed)
        manifest = json.loads((root / "manifest.json").read_text())
        with open_library(Path(tempfile.mkdtemp(prefix="copytime-")) / "lib.db", regions=True) as lib:
            lib.add(root / "db")
            paths = [root / "queries" / q["file"] for q in manifest["queries"]]
            t = time_queries(lib, paths, cfg)
            full = time_queries(lib, paths, replace(cfg, cascade=False))
        print(f"split {args.split or 'dev'} seed {seed}, {t['n']} queries end to end, one run: plain search "
              f"{t['ms_plain']:.1f} ms/query, --copies {t['ms_copies']:.1f} ms/query (x{t['ratio']:.2f}); cascade "
              f"{t['cascade']}; every stage for every query (cascade off): plain {full['ms_plain']:.1f}, copies "
              f"{full['ms_copies']:.1f} ms/query (x{full['ratio']:.2f})")
        return
    res = run(args.split or ("cal" if args.calibrate or args.fit_cascade else "dev"), seed, cfg,
              verdict=not args.no_verdict, timing=not args.no_timing)
    if args.save_stages:
        import pickle

        with open(args.save_stages, "wb") as f:
            pickle.dump({k: v for k, v in res.items() if k != "pairs"}, f)
    if args.fit_cascade:
        cfg = fit_cascade(res, cfg)
    report(res, cfg)
    with open_library(Path(tempfile.mkdtemp()) / "m.db") as lib:
        model_id = lib.model_id
    if args.calibrate:
        calibrate(res, model_id)
    if args.no_verdict:
        return
    th = load_thresholds(model_id)
    fig = verdict_figures(res["pairs"], th)
    print(f"compare verdict (near-duplicate or identical) with shipped thresholds {th.near_duplicate}/{th.similar} "
          f"(calibrated={th.calibrated}): precision {fig['precision']:.4f}, recall {fig['recall']:.4f} "
          f"(tp {fig['tp']}, fp {fig['fp']}, fn {fig['fn']} over {len(res['pairs'])} pairs)")
    print("  recall per family:", fig["recall_per_family"])


if __name__ == "__main__":
    main()
