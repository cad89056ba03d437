"""Text-to-image retrieval quality of pixseek.text, beside file-name keyword baselines, same run.

    .venv/bin/python bench/text_search.py [--classes 300] [--seed 0]

Dev set: bench/datasets/emoji.py restricted to the concrete categories (animals & nature, food & drink,
travel & places, objects, activities); each class is one emoji drawn by 4 vendors. Every class is one
query; its 4 images are the relevant ones; the whole set is ranked. Queries: (1) the emoji's name
("cat face", "hot beverage"), (2) a paraphrase: another of its short names when it has one that differs
("coffee" for "hot beverage"), on that subset of classes.

Methods: ``probs`` (stored ImageNet label probabilities), ``weights`` (classifier weights as a query
vector, FAISS), and two keyword baselines on file names: the names the package ships (codepoints such
as ``1f431.png``: what a user who downloaded these files would honestly have, so no words at all), and
the emoji's short name as file name (``cat.png``: a generous baseline, the class name written into the
file name). Keyword score = number of query words in the file name; ties broken in a fixed random order.

Then the same on photographs: bench/datasets/photo_words.py (see photo_set), against the original names.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.datasets import DATA_ROOT, emoji, photo_words  # noqa: E402
from pixseek.search import open_library  # noqa: E402
from pixseek.text import TextSearchConfig, TextSearcher  # noqa: E402

CATEGORIES = ["Animals & Nature", "Food & Drink", "Travel & Places", "Objects", "Activities"]


def average_precision(ranked_relevant: np.ndarray, n_relevant: int) -> float:
    hits = np.flatnonzero(ranked_relevant)
    return float(np.mean((np.arange(len(hits)) + 1) / (hits + 1))) if n_relevant else 0.0


def evaluate(rankings: list[list[int]], relevant: list[set[int]]) -> dict:
    aps, r10 = [], []
    for ranked, rel in zip(rankings, relevant):
        flags = np.array([i in rel for i in ranked])
        aps.append(average_precision(flags, len(rel)))
        r10.append(flags[:10].sum() / len(rel))
    return {"mAP": float(np.mean(aps)), "R@10": float(np.mean(r10)), "queries": len(rankings)}


def words(s: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", s.lower()))


def keyword_rankings(queries: list[str], file_names: list[str], seed: int = 0) -> list[list[int]]:
    tie = np.random.default_rng(seed).permutation(len(file_names))
    toks = [words(n.rsplit(".", 1)[0]) for n in file_names]
    out = []
    for q in queries:
        qw = words(q)
        score = np.array([len(qw & t) for t in toks])
        out.append(list(np.lexsort((tie, -score))))
    return out


def package_meta() -> dict[str, dict]:
    with tarfile.open(emoji.fetch("apple", DATA_ROOT / "cache"), "r:gz") as t:
        return {e["short_name"]: e for e in json.load(t.extractfile("package/emoji.json"))}


def photo_set(seed: int) -> None:
    """Second set, photographs: bench/datasets/photo_words.py (scikit-image's photos under their original
    names, 16 hand-written subject queries + paraphrases, one relevant photo each among 23)."""
    folder = photo_words.build()
    with open_library(DATA_ROOT / "photo-words.db") as lib:
        lib.add(folder)
        ids, _ = TextSearcher(lib).stored_probs()
        vrows = lib.catalog.vector_rows(int(i) for i in ids)
        paths = [vrows[int(i)].path for i in ids]
        pos_of = {int(i): j for j, i in enumerate(ids)}
        order = np.random.default_rng(seed).permutation(len(ids))
        print(f"\nphotos: {len(ids)} scikit-image photos, {len(photo_words.QUERIES)} subjects queried")
        for kind, col in (("name", 0), ("paraphrase", 1)):
            pairs = [(stem, q[col]) for stem, q in photo_words.QUERIES.items()]
            relevant = [{j for j, p in enumerate(paths) if Path(p).stem == stem} for stem, _ in pairs]
            texts = [t for _, t in pairs]
            for method in ("probs", "weights"):
                searcher = TextSearcher(lib, TextSearchConfig(method=method))
                rankings, unmatched = [], 0
                for t in texts:
                    ranked = [pos_of[h.id] for h in searcher.search(t, len(ids)).hits]
                    unmatched += not ranked
                    rankings.append(ranked + [j for j in order if j not in set(ranked)])
                r = evaluate(rankings, relevant)
                print(f"{kind:<11} {method:<44} {r['mAP']:>7.4f} {r['R@10']:>7.4f} {r['queries']:>5} {unmatched:>8}")
            r = evaluate(keyword_rankings(texts, [Path(p).name for p in paths], seed), relevant)
            print(f"{kind:<11} {'baseline: original file names (chelsea.png)':<44} {r['mAP']:>7.4f} {r['R@10']:>7.4f} "
                  f"{r['queries']:>5}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--classes", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    folder = emoji.build(DATA_ROOT / f"emoji-text{a.classes}", classes=a.classes, categories=CATEGORIES, seed=a.seed)
    info = {k: v for k, v in json.loads((folder / "classes.json").read_text()).items() if k != "_build"}
    meta = package_meta()
    db = DATA_ROOT / f"emoji-text{a.classes}.db"
    t0 = time.perf_counter()
    with open_library(db) as lib:
        report = lib.add(folder)
        print(f"indexed {folder}: {report.encoded} encoded, {report.unchanged} unchanged "
              f"({time.perf_counter() - t0:.1f}s)")
        ids_all, _ = TextSearcher(lib).stored_probs()
        rows = lib.catalog.vector_rows(int(i) for i in ids_all)
        ids = [int(i) for i in ids_all]
        paths = [rows[i].path for i in ids]
        cls_of = [Path(p).parent.name for p in paths]
        classes = sorted(info)
        by_class = {c: {j for j, cc in enumerate(cls_of) if cc == c} for c in classes}
        pos_of = {vid: j for j, vid in enumerate(ids)}
        query_sets = {"name": [(c, info[c]["name"]) for c in classes]}
        para = []
        for c in classes:
            alts = [s.replace("_", " ") for s in meta[c]["short_names"]]
            alts = [s for s in alts if words(s) != words(info[c]["name"])]
            if alts:
                para.append((c, alts[0]))
        query_sets["paraphrase"] = para
        codepoint_names = [meta[c]["image"] for c in cls_of]
        short_names = [f"{c}.png" for c in cls_of]
        results, timing = {}, {}
        for qs, pairs in query_sets.items():
            relevant = [by_class[c] for c, _ in pairs]
            texts = [t for _, t in pairs]
            for method in ("probs", "weights"):
                searcher = TextSearcher(lib, TextSearchConfig(method=method))
                searcher.search("warm up", 1)
                t1 = time.perf_counter()
                rankings, unmatched = [], 0
                for t in texts:
                    r = searcher.search(t, len(ids))
                    unmatched += not r.hits
                    ranked = [pos_of[h.id] for h in r.hits]
                    seen = set(ranked)
                    rest = [j for j in np.random.default_rng(a.seed).permutation(len(ids)) if j not in seen]
                    rankings.append(ranked + rest)  # an unmatched query ranks nothing: random order
                timing[(qs, method)] = (time.perf_counter() - t1) / len(texts) * 1000
                results[(qs, method)] = evaluate(rankings, relevant) | {"unmatched": unmatched}
            results[(qs, "baseline: package file names (codepoints)")] = evaluate(
                keyword_rankings(texts, codepoint_names, a.seed), relevant)
            results[(qs, "baseline: short name as file name")] = evaluate(
                keyword_rankings(texts, short_names, a.seed), relevant)
    chance = 4 / len(ids)
    print(f"\n{len(classes)} classes, {len(ids)} images (4 vendors each); chance precision {chance:.4f}")
    print(f"{'queries':<11} {'method':<44} {'mAP':>7} {'R@10':>7} {'n':>5} {'no match':>8} {'ms/query':>9}")
    for (qs, method), r in results.items():
        ms = timing.get((qs, method))
        print(f"{qs:<11} {method:<44} {r['mAP']:>7.4f} {r['R@10']:>7.4f} {r['queries']:>5} "
              f"{r.get('unmatched', ''):>8} {'' if ms is None else f'{ms:.1f}':>9}")
    for qs in query_sets:
        base = results[(qs, "baseline: package file names (codepoints)")]["mAP"]
        best = max(("probs", "weights"), key=lambda m: results[(qs, m)]["mAP"])
        print(f"{qs}: best text method {best}, mAP {results[(qs, best)]['mAP']:.4f} "
              f"= {results[(qs, best)]['mAP'] / max(base, 1e-9):.1f}x the codepoint file-name baseline")
    photo_set(a.seed)


if __name__ == "__main__":
    main()
