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

Issue 14 (``--stamps``, the default part since then; ``--skip-emoji`` leaves the two sets above out):
bench/datasets/stamp_words.py, Debian tuxpaint-stamps-default photos with category words from their
package folders, per split (a, b). Per category word: precision@5 and AP, for today's method
(``weights``), each new signal of the ``words`` method alone, and the fused search, all on RENAMED files
(img0001.png: names cannot leak the label), plus the fused search and two file-name baselines on the
ORIGINAL names (stem only; stem + folders). Exact-label ImageNet nouns (stamps whose file name is a
class lemma, "zebra"): today vs fused, renamed. Then first vs second text query in a fresh process on an
empty text cache (the image encoder's ONNX file copied in: it is built at set-up). ``--sets`` picks the
word sets: stamps (above), real (bench/datasets/real_words.py: gcompris + palapeli photos, category and
scene words), scenes (bench/datasets/scene_words.py: 23 wallpaper photographs, scene words only).
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
        vrows = {r.id: r for r in lib.items(ids)}
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


WORDS_RUNS = [  # (label, method, signals, on original names)
    ("today: weights (sentence sim -> classifier rows)", "weights", None, False),
    ("words: wordnet hierarchy alone", "words", ("wordnet",), False),
    ("words: related labels (scenes, other words) alone", "words", ("related",), False),
    ("words: file/folder names alone (renamed files)", "words", ("names",), False),
    ("words: classes (wordnet + related), no feedback", "words", ("wordnet", "related", "colours"), False),
    ("words: feedback on the classes' top images", "words", ("wordnet", "related", "colours", "feedback"), False),
    ("words: fused (renamed files)", "words", None, False),
    ("words: file/folder names alone (original names)", "words", ("names",), True),
    ("words: fused (original names)", "words", None, True),
]
FUSED = "words: fused (renamed files)"
DATASETS = ("stamps", "real", "scenes")


def precision_at(ranked: list[int], rel: set[int], k: int = 5) -> float:
    return sum(1 for j in ranked[:k] if j in rel) / k


def full_ranking(searcher, text: str, n: int, pos_of: dict[int, int], seed: int, scores: list | None = None
                 ) -> list[int]:
    hits = [h for h in searcher.search(text, n).hits if h.id in pos_of]
    if scores is not None:
        scores.extend((h.score, pos_of[h.id]) for h in hits)
    ranked = [pos_of[h.id] for h in hits]
    seen = set(ranked)
    return ranked + [j for j in np.random.default_rng(seed).permutation(n) if j not in seen]


def dataset(name: str):
    from bench.datasets import real_words, scene_words, stamp_words

    return {"stamps": stamp_words, "real": real_words, "scenes": scene_words}[name]


def exact_query(rel: str, lemma_of: dict[str, int]) -> str | None:
    """The file's stem (digits dropped) when it is an ImageNet class lemma ("hammer3.jpg" -> hammer)."""
    q = Path(rel).stem.rstrip("0123456789").replace("_", " ").lower()
    q = {"screwdriver": "screwdriver", "screwdriver ": "screwdriver"}.get(q, q)
    return q if q in lemma_of else None


def word_split(name: str, split: str, seed: int) -> dict:
    """One dev set's split: per word P@5 and AP for every run of WORDS_RUNS, the file-name baselines,
    exact-label nouns, and the (score, relevant) pairs of the fused search (for calibrate's STRONG)."""
    from pixseek.encoders.efficientnet import imagenet_classes

    ds = dataset(name)
    orig, ren, labels, names = ds.build(split)
    to_orig = getattr(ds, "original_name", lambda k: k)
    scene_set = set(ds.SCENE_WORDS)
    counts = {}
    for ws in labels.values():
        for w in ws:
            counts[w] = counts.get(w, 0) + 1
    words = sorted(w for w, c in counts.items() if c >= 5 and w not in scene_set)
    scenes = [w for w in ds.SCENE_WORDS if counts.get(w)]
    lemma_of = {}
    for j, (_, lem, _) in enumerate(imagenet_classes()):
        for x in lem.split(","):
            lemma_of.setdefault(x.strip().lower(), j)
    out = {"words": words, "rows": {}, "exact": {}, "scenes": scenes, "scene_rows": {}, "pairs": []}
    for on_orig in (False, True):
        folder = orig if on_orig else ren
        with open_library(DATA_ROOT / f"{name}-words-{split}-{'orig' if on_orig else 'ren'}.db") as lib:
            lib.add(folder)
            ids, paths, _ = lib.text_facts()
            key_of = {to_orig(k): k for k in labels}
            rel_of = [key_of[Path(p).relative_to(folder).as_posix()] if on_orig else names[Path(p).name] for p in paths]
            pos_of = {int(i): j for j, i in enumerate(ids)}
            n = len(ids)
            for label, method, signals, o in WORDS_RUNS:
                if o != on_orig:
                    continue
                cfg = TextSearchConfig(method=method) if signals is None else TextSearchConfig(method=method, signals=signals)
                searcher = TextSearcher(lib, cfg)
                for kind, ws in (("rows", words), ("scene_rows", scenes)):
                    per = {}
                    for w in ws:
                        rel = {j for j, r in enumerate(rel_of) if w in labels[r]}
                        sc = [] if label == FUSED else None
                        r = full_ranking(searcher, w, n, pos_of, seed, sc)
                        per[w] = (precision_at(r, rel, min(5, len(rel))), average_precision(np.array([j in rel for j in r]), len(rel)))
                        if sc is not None:
                            out["pairs"] += [(s, j in rel) for s, j in sc]
                    out[kind][label] = per
            if on_orig:
                for label, toks in (("baseline: original file name (stem) keyword", lambda r: Path(r).stem),
                                    ("baseline: original path (folders + stem) keyword", lambda r: r)):
                    for kind, ws in (("rows", words), ("scene_rows", scenes)):
                        ranks = keyword_rankings(ws, [toks(r).replace("/", " ") + ".png" for r in rel_of], seed)
                        per = {}
                        for w, rk in zip(ws, ranks):
                            rel = {j for j, r in enumerate(rel_of) if w in labels[r]}
                            per[w] = (precision_at(list(rk), rel, min(5, len(rel))),
                                      average_precision(np.array([j in rel for j in rk]), len(rel)))
                        out[kind][label] = per
            else:  # exact-label ImageNet nouns: pictures named after a class lemma, all of that name relevant
                groups: dict[str, set[int]] = {}
                for j, r in enumerate(rel_of):
                    q = exact_query(r, lemma_of)
                    if q:
                        groups.setdefault(q, set()).add(j)
                for label, method in (("today: weights", "weights"), ("words: fused", "words")):
                    searcher = TextSearcher(lib, TextSearchConfig(method=method))
                    aps = [average_precision(np.array([x in rel for x in full_ranking(searcher, q, n, pos_of, seed)]), len(rel))
                           for q, rel in groups.items()]
                    out["exact"][label] = (float(np.mean(aps)) if aps else float("nan"), sorted(groups))
            out["n"] = n
    return out


def print_split(name: str, split: str, res: dict) -> None:
    words, sc = res["words"], res["scenes"]
    print(f"\n{name} split {split}: {res['n']} pictures, {len(words)} category words (>= 5 relevant), "
          f"{len(sc)} scene words")
    print(f"{'method':<52} {'cat P@5':>7} {'cat mAP':>7} {'scn P@5':>7} {'scn mAP':>7} {'all P@5':>7} {'all mAP':>7}")
    def mean(xs: list[float]) -> float:  # nan for a set without such words (the scene set has no category words)
        return float(np.mean(xs)) if xs else float("nan")

    for label, per in res["rows"].items():
        sp = res["scene_rows"].get(label, {})
        both = [per[w] for w in words] + [sp[w] for w in sc if w in sp]
        print(f"{label:<52} {mean([per[w][0] for w in words]):>7.3f} {mean([per[w][1] for w in words]):>7.3f} "
              f"{mean([sp[w][0] for w in sc if w in sp]):>7.3f} {mean([sp[w][1] for w in sc if w in sp]):>7.3f} "
              f"{mean([b[0] for b in both]):>7.3f} {mean([b[1] for b in both]):>7.3f}")
    print("per word P@5 / AP (today -> classes, no feedback -> fused renamed):")
    t, c, f = (res["rows"][WORDS_RUNS[0][0]], res["rows"]["words: classes (wordnet + related), no feedback"],
               res["rows"][FUSED])
    ts, cs, fs = (res["scene_rows"][WORDS_RUNS[0][0]], res["scene_rows"]["words: classes (wordnet + related), no feedback"],
                  res["scene_rows"][FUSED])
    print("  " + "; ".join(f"{w} {t[w][0]:.1f}/{t[w][1]:.2f} -> {c[w][0]:.1f}/{c[w][1]:.2f} -> {f[w][0]:.1f}/{f[w][1]:.2f}"
                           for w in words))
    print("  scenes: " + "; ".join(f"{w} {ts[w][0]:.1f}/{ts[w][1]:.2f} -> {cs[w][0]:.1f}/{cs[w][1]:.2f} -> "
                                   f"{fs[w][0]:.1f}/{fs[w][1]:.2f}" for w in sc))
    for label, (m, qs) in res["exact"].items():
        print(f"exact-label ImageNet nouns ({len(qs)}: {', '.join(qs[:8])}...): {label} mAP {m:.3f}")


def strong_precision(pairs: list[tuple[float, bool]], floor: float | None) -> None:
    """Precision of the fused search's hits at or above the library floor (a "strong" hit), and the
    word-score level where the hits above it reach precision 0.9 (what calibrate's STRONG should be)."""
    from pixseek.text.search import STRONG

    s = np.array([p[0] for p in pairs])
    r = np.array([p[1] for p in pairs])
    if floor is None or not len(s):
        return
    strong = s >= floor
    s = np.where(s < floor, s * STRONG / floor, STRONG + (s - floor) * (1 - STRONG) / (1 - floor))  # word score
    print(f"\nstrong hits (score >= floor {floor:.4f}, STRONG = {STRONG}): {int(strong.sum())} of {len(s)}, "
          f"precision {r[strong].mean() if strong.any() else float('nan'):.3f}")
    for lvl in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        m = s >= lvl
        print(f"  word score >= {lvl:.1f}: {int(m.sum())} hits, precision {r[m].mean() if m.any() else float('nan'):.3f}")


FIRST_QUERY = """
import sys, time
from pixseek.search import open_library
from pixseek.text import TextSearcher
t0 = time.perf_counter()
with open_library(sys.argv[1]) as lib:
    t1 = time.perf_counter()
    s = TextSearcher(lib)
    s.search("flower", 10); t2 = time.perf_counter()
    s.search("red car", 10); t3 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {t3 - t2:.3f}")
"""


def first_query(db: Path) -> None:
    import os
    import shutil
    import subprocess
    import tempfile

    from pixseek.encoders.onnx_runtime import cache_dir

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "onnx").mkdir()
        for f in cache_dir().glob("efficientnet*.onnx"):
            shutil.copy(f, Path(tmp) / "onnx" / f.name)
        env = dict(os.environ, PIXSEEK_CACHE=tmp)
        r = subprocess.run([sys.executable, "-c", FIRST_QUERY, str(db)], env=env, capture_output=True, text=True,
                           check=True)
        opened, first, second = map(float, r.stdout.split())
    print(f"\nfirst text query on an empty text cache, in process: {first * 1000:.0f} ms; second: {second * 1000:.0f} ms; "
          f"ratio {first / max(second, 1e-9):.1f}x (open library {opened:.2f} s; the first call loads the shipped "
          "lexicon, about 5 ms (bench/text_vocabulary.py); what a user waits for, CLI and HTTP, is bench/text_first_query.py)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--classes", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-emoji", action="store_true", help="only the issue-14 stamp set and first-query timing")
    ap.add_argument("--splits", default="a,b,all")
    ap.add_argument("--sets", default="stamps,real,scenes",
                    help="issue-14 dev sets: stamps (tuxpaint), real (gcompris + palapeli), scenes (wallpaper photos)")
    a = ap.parse_args()
    if a.skip_emoji:
        pairs = []
        for name in a.sets.split(","):
            for split in a.splits.split(","):
                res = word_split(name, split, a.seed)
                print_split(name, split, res)
                pairs += res["pairs"] if split != "all" else []
        with open_library(DATA_ROOT / f"{name}-words-{a.splits.split(',')[0]}-ren.db") as lib:
            strong_precision(pairs, lib.relevance_floor)
        first_query(DATA_ROOT / f"{name}-words-{a.splits.split(',')[0]}-ren.db")
        return
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
        rows = {r.id: r for r in lib.items(ids_all)}
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
