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
empty text cache (the image encoder's ONNX file copied in: it is built at set-up).
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


WORDS_RUNS = [  # (label, method, signals, on original names)
    ("today: weights (sentence sim -> classifier rows)", "weights", None, False),
    ("words: wordnet hierarchy alone", "words", ("wordnet",), False),
    ("words: related labels (scenes, other words) alone", "words", ("related",), False),
    ("words: file/folder names alone (renamed files)", "words", ("names",), False),
    ("words: fused (renamed files)", "words", None, False),
    ("words: file/folder names alone (original names)", "words", ("names",), True),
    ("words: fused (original names)", "words", None, True),
]


def precision_at(ranked: list[int], rel: set[int], k: int = 5) -> float:
    return sum(1 for j in ranked[:k] if j in rel) / k


def full_ranking(searcher, text: str, n: int, pos_of: dict[int, int], seed: int) -> list[int]:
    ranked = [pos_of[h.id] for h in searcher.search(text, n).hits if h.id in pos_of]
    seen = set(ranked)
    return ranked + [j for j in np.random.default_rng(seed).permutation(n) if j not in seen]


def stamp_split(split: str, seed: int) -> dict:
    from bench.datasets import stamp_words
    from pixseek.encoders.efficientnet import imagenet_classes
    from pixseek.text.profiles import ensure_profiles

    orig, ren, labels, names = stamp_words.build(split)
    words = sorted({w for ws in labels.values() for w in ws})
    words = [w for w in words if sum(w in ws for ws in labels.values()) >= 5]
    lemma_of = {}
    for j, (_, lem, _) in enumerate(imagenet_classes()):
        for x in lem.split(","):
            lemma_of.setdefault(x.strip().lower(), j)
    scenes = [w for w in stamp_words.SCENE_WORDS if any(w in ws for ws in labels.values())]
    out = {"words": words, "rows": {}, "exact": {}, "scenes": scenes, "scene_rows": {}}
    for on_orig in (False, True):
        folder = orig if on_orig else ren
        with open_library(DATA_ROOT / f"stamp-words-{split}-{'orig' if on_orig else 'ren'}.db") as lib:
            lib.add(folder)
            ids, _ = TextSearcher(lib).stored_probs()
            vrows = lib.catalog.vector_rows(int(i) for i in ids)
            paths = [vrows[int(i)].path for i in ids]
            ensure_profiles(lib.catalog.path, paths)  # what ingest would store (colours, EXIF words)
            rel_of = [Path(p).relative_to(folder).as_posix() if on_orig else names[Path(p).name] for p in paths]
            pos_of = {int(i): j for j, i in enumerate(ids)}
            n = len(ids)
            relevant = {w: {j for j, r in enumerate(rel_of) if w in labels[r]} for w in words}
            for label, method, signals, o in WORDS_RUNS:
                if o != on_orig:
                    continue
                cfg = TextSearchConfig(method=method) if signals is None else TextSearchConfig(method=method, signals=signals)
                searcher = TextSearcher(lib, cfg)
                per = {}
                for w in words:
                    r = full_ranking(searcher, w, n, pos_of, seed)
                    flags = np.array([j in relevant[w] for j in r])
                    per[w] = (precision_at(r, relevant[w]), average_precision(flags, len(relevant[w])))
                out["rows"][label] = per
                scene = {}
                for w in scenes:
                    rel = {j for j, r in enumerate(rel_of) if w in labels[r]}
                    r = full_ranking(searcher, w, n, pos_of, seed)
                    scene[w] = (precision_at(r, rel, min(5, len(rel))), average_precision(np.array([j in rel for j in r]), len(rel)))
                out["scene_rows"][label] = scene
            if on_orig:
                for label, toks in (("baseline: original file name (stem) keyword", lambda r: Path(r).stem),
                                    ("baseline: original path (folders + stem) keyword", lambda r: r)):
                    ranks = keyword_rankings(words, [toks(r).replace("/", " ") + ".png" for r in rel_of], seed)
                    out["rows"][label] = {w: (precision_at(list(rk), relevant[w]),
                                              average_precision(np.array([j in relevant[w] for j in rk]), len(relevant[w])))
                                          for w, rk in zip(words, ranks)}
            else:  # exact-label ImageNet nouns: a stamp named after a class lemma
                exact = [(j, Path(r).stem.replace("_", " ")) for j, r in enumerate(rel_of)
                         if Path(r).stem.replace("_", " ").lower() in lemma_of]
                for label, method in (("today: weights", "weights"), ("words: fused", "words")):
                    searcher = TextSearcher(lib, TextSearchConfig(method=method))
                    aps = []
                    for j, q in exact:
                        r = full_ranking(searcher, q, n, pos_of, seed)
                        aps.append(average_precision(np.array([x == j for x in r]), 1))
                    out["exact"][label] = (float(np.mean(aps)) if aps else float("nan"), [q for _, q in exact])
            out["n"] = n
    return out


def print_stamps(split: str, res: dict) -> None:
    words = res["words"]
    print(f"\nstamps split {split}: {res['n']} pictures, {len(words)} category words (>= 5 relevant each)")
    print(f"{'method':<52} {'mean P@5':>8} {'mAP':>7}")
    for label, per in res["rows"].items():
        p5 = np.mean([per[w][0] for w in words])
        ap = np.mean([per[w][1] for w in words])
        print(f"{label:<52} {p5:>8.3f} {ap:>7.3f}")
    sc = res["scenes"]
    if sc:
        print(f"scene words ({len(sc)}: {', '.join(sc)}; 1-4 relevant photos each, the lomiri wallpapers): "
              "mean P@min(5, relevant) / mAP")
        for label, per in res["scene_rows"].items():
            print(f"  {label:<50} {np.mean([per[w][0] for w in sc]):>6.3f} {np.mean([per[w][1] for w in sc]):>7.3f}")
    print("per word P@5 / AP (today -> fused renamed):")
    t, f = res["rows"][WORDS_RUNS[0][0]], res["rows"]["words: fused (renamed files)"]
    print("  " + "; ".join(f"{w} {t[w][0]:.1f}/{t[w][1]:.2f} -> {f[w][0]:.1f}/{f[w][1]:.2f}" for w in words))
    for label, (m, qs) in res["exact"].items():
        print(f"exact-label ImageNet nouns ({len(qs)}: {', '.join(qs[:8])}...): {label} mAP {m:.3f}")


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
    print(f"\nfirst text query on an empty text cache: {first * 1000:.0f} ms; second: {second * 1000:.0f} ms; "
          f"ratio {first / max(second, 1e-9):.1f}x (open library {opened:.2f} s)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--classes", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-emoji", action="store_true", help="only the issue-14 stamp set and first-query timing")
    ap.add_argument("--splits", default="a,b,all")
    a = ap.parse_args()
    if a.skip_emoji:
        for split in a.splits.split(","):
            print_stamps(split, stamp_split(split, a.seed))
        first_query(DATA_ROOT / f"stamp-words-{a.splits.split(',')[0]}-ren.db")
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
