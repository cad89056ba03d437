"""Copy detection benchmark (Copydays / DISC21 style) on a seeded dev set (bench/datasets/photos.py).

    .venv/bin/python bench/copydetect.py                 # report: split "dev", seed 0
    .venv/bin/python bench/copydetect.py --calibrate     # fit compare's thresholds on split "cal", seed 1
                                                         # (disjoint pictures), write calibration.json

Prints, in one run, global-vector-only and region re-ranked figures: R@1 and mAP per edit family,
µAP over all (query, image) pairs, ms/query and region bytes/image; then the precision / recall of
``compare``'s near-duplicate verdict with the shipped thresholds.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.datasets import photos  # noqa: E402
from pixseek.compare.copies import CopyConfig, copy_scores, projection_for  # noqa: E402
from pixseek.compare.regions import RegionStore, describe_query  # noqa: E402
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


def run(split: str, seed: int, cfg: CopyConfig) -> dict:
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
    regions = RegionStore(lib.catalog, lib.dim).get(ids.tolist())
    vec_of = {int(i): v for i, v in zip(ids, vecs)}
    region_bytes = float(np.mean([r.nbytes() for r in regions.values()]))
    # db images described as queries too (mirrored), for compare()'s symmetric similarity
    db_q = {int(i): describe_query(lib.encoder, load_for(lib.encoder.preprocess, rows[int(i)].path), cfg.regions)
            for i in ids}
    # copy ranking scores on the shipped copy-detection projection (projected once per image here; "global"
    # below stays the raw stored vector); compare's verdict (pair_similarity) stays on raw descriptors
    proj = projection_for(lib.model_id, cfg)
    if proj is not None:
        pregions = {i: proj.regions(r) for i, r in regions.items()}
        pvec_of = {i: proj.vectors(v) for i, v in vec_of.items()}
    else:
        pregions, pvec_of = regions, vec_of
    per = defaultdict(lambda: {"global": [], "region": []})
    pooled = {"global": ([], []), "region": ([], [])}
    t_global = t_region = 0.0
    pairs = []  # (similarity, positive, family) for the verdict
    for q in manifest["queries"]:
        im = load_for(lib.encoder.preprocess, root / "queries" / q["file"])
        t = time.perf_counter()
        qvec = lib.embed([im])[0]
        hits = lib.search_vectors(qvec[None], cfg.shortlist)[0]
        t_global += time.perf_counter() - t
        t = time.perf_counter()
        ranked = describe_query(lib.encoder, im, cfg.regions, cfg.rotations)  # + de-rotated variants
        qr = ranked[:2]  # as is and mirrored: what compare's verdict is calibrated on
        pqr, pq = ([proj.regions(r) for r in ranked], proj.vectors(qvec)) if proj is not None else (ranked, qvec)
        fused = copy_scores(pqr, pq, {h.id: pregions[h.id] for h in hits}, pvec_of, cfg)
        t_region += time.perf_counter() - t
        labels = np.array([n == q["source"] for n in names])
        g = vecs @ qvec
        r = np.array([fused.get(int(i), -1.0) for i in ids])
        for kind, s in (("global", g), ("region", r)):
            rank = int((s > s[labels][0]).sum()) + 1
            per[q["family"]][kind].append((rank == 1, 1.0 / rank))
            pooled[kind][0].append(s)
            pooled[kind][1].append(labels)
        for i, lab in zip(ids, labels):
            sim, det = pair_similarity(qr, qvec, db_q[int(i)], vec_of[int(i)], cfg)
            pairs.append((sim, bool(lab), q["family"], det))
    ids_l = ids.tolist()
    for a in range(len(ids_l)):  # unrelated db pairs (distractor crops of the same photo are related)
        for b in range(a + 1, len(ids_l)):
            na, nb = names[a], names[b]
            related = na.startswith("d-") and nb.startswith("d-") and na.split("-crop")[0].removesuffix(".jpg") == nb.split("-crop")[0].removesuffix(".jpg")
            sim, det = pair_similarity(db_q[ids_l[a]], vecs[a], db_q[ids_l[b]], vecs[b], cfg)
            pairs.append((sim, related, "db-pair", det))
    nq = len(manifest["queries"])
    lib.close()
    return {"split": split, "seed": seed, "projected": proj is not None, "per": per, "pooled": pooled, "pairs": pairs, "nq": nq, "ndb": len(ids),
            "ms_global": 1000 * t_global / nq, "ms_region": 1000 * (t_global + t_region) / nq,
            "region_bytes": region_bytes, "global_bytes": lib.dim * 4, "index_s": index_s}


def report(res: dict) -> None:
    print(f"split {res['split']} seed {res['seed']}: {res['nq']} queries, {res['ndb']} indexed images "
          f"({len([1 for f in res['per']])} edit families); region re-ranking on "
          f"{'the shipped copy-detection projection' if res['projected'] else 'raw descriptors'}")
    print(f"{'family':10s} {'n':>4s} {'R@1 glob':>9s} {'R@1 reg':>8s} {'mAP glob':>9s} {'mAP reg':>8s}")
    tot = {"global": [], "region": []}
    for fam, d in sorted(res["per"].items()):
        g, r = np.array(d["global"]), np.array(d["region"])
        tot["global"] += d["global"]
        tot["region"] += d["region"]
        print(f"{fam:10s} {len(g):4d} {g[:, 0].mean():9.3f} {r[:, 0].mean():8.3f} {g[:, 1].mean():9.3f} {r[:, 1].mean():8.3f}")
    g, r = np.array(tot["global"]), np.array(tot["region"])
    print(f"{'all':10s} {len(g):4d} {g[:, 0].mean():9.3f} {r[:, 0].mean():8.3f} {g[:, 1].mean():9.3f} {r[:, 1].mean():8.3f}")
    for kind in ("global", "region"):
        s, lab = (np.concatenate(x) for x in res["pooled"][kind])
        print(f"µAP {kind}: {average_precision(s, lab):.4f}")
    print(f"cost: {res['ms_global']:.1f} ms/query global, {res['ms_region']:.1f} ms/query with regions "
          f"(x{res['ms_region'] / res['ms_global']:.1f}); {res['global_bytes']} B/image global vector, "
          f"{res['region_bytes']:.0f} B/image regions; indexing {res['index_s']:.1f}s incl. regions")


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=["cal", "dev"], default=None, help="pictures (default: dev; cal with --calibrate)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--calibrate", action="store_true", help="fit compare's thresholds (default: split cal, seed 1)")
    ap.add_argument("--global-weight", type=float, default=CopyConfig().global_weight)
    ap.add_argument("--no-projection", action="store_true", help="score raw descriptors (no shipped projection)")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else (1 if args.calibrate else 0)
    cfg = CopyConfig(global_weight=args.global_weight, projected=not args.no_projection)
    res = run(args.split or ("cal" if args.calibrate else "dev"), seed, cfg)
    report(res)
    with open_library(Path(tempfile.mkdtemp()) / "m.db") as lib:
        model_id = lib.model_id
    if args.calibrate:
        calibrate(res, model_id)
    th = load_thresholds(model_id)
    fig = verdict_figures(res["pairs"], th)
    print(f"compare verdict (near-duplicate or identical) with shipped thresholds {th.near_duplicate}/{th.similar} "
          f"(calibrated={th.calibrated}): precision {fig['precision']:.4f}, recall {fig['recall']:.4f} "
          f"(tp {fig['tp']}, fp {fig['fp']}, fn {fig['fn']} over {len(res['pairs'])} pairs)")
    print("  recall per family:", fig["recall_per_family"])


if __name__ == "__main__":
    main()
