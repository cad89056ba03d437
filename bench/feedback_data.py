"""Dev sets for the relevance-feedback benchmark (bench/feedback.py), embedded once with the shipped
encoder and cached under ``bench/data/feedback/`` (vectors + group labels; nothing else is cached).

- ``emoji``: bench/datasets/emoji.py, all classes embedded once; a run draws ``classes`` of them with its
  seed (a different seed draws a different subset). Relevant = the same emoji by the other vendors (3).
- ``photos``: bench/datasets/photos.py (``make bench-deps``), split and seed as there. The collection is
  the db (originals + distractors with their crops) plus every edited copy; one group = an original and
  its 13 edited copies (relevant to each other), distractors are relevant to nothing. Queries: the copies.
- ``categories``: bench/datasets/real_words.py (``build("all")``: 274 real photos from the Debian packages
  gcompris-qt-data and palapeli-data, fetched with ``apt-get download``), category-level similarity ("more
  pictures like these" in a photo collection). Each photo gets ONE category: the first word of
  :data:`CATEGORIES` among its labels (bench/datasets/real_words.json). Photos with none of them (the
  generic "tool", "monument", "animal", "building" only, scene words only, household odds) and photos of a
  category with fewer than 3 photos in the seed's draw are distractors, relevant to nothing. A seed draws
  a random 80 % of the 274 photos; every labelled photo of the draw queries.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench.datasets import DATA_ROOT, emoji, photos, real_words
from pixseek.search import encode_paths

CACHE = DATA_ROOT / "feedback"


def _embed(name: str, paths: list[str], labels: list[int]) -> tuple[np.ndarray, np.ndarray]:
    CACHE.mkdir(parents=True, exist_ok=True)
    f = CACHE / f"{name}.npz"
    if f.exists():
        z = np.load(f)
        return z["vectors"], z["labels"]
    vectors, ok, errors = encode_paths(paths)
    if errors:
        raise RuntimeError(f"{name}: {errors[:3]}")
    np.savez(f, vectors=vectors.astype(np.float32), labels=np.asarray(labels, np.int64))
    return vectors, np.asarray(labels, np.int64)


def emoji_set(classes: int | None = 400, seed: int = 0):
    """(vectors, labels, query indices) for ``classes`` emoji drawn with ``seed`` (None: all of them)."""
    folder = emoji.build()
    names = sorted(p.name for p in folder.iterdir() if p.is_dir())
    paths = [str(p) for n in names for p in sorted((folder / n).glob("*.png"))]
    labels = [names.index(Path(p).parent.name) for p in paths]
    vectors, labels = _embed("emoji-all", paths, labels)
    if classes is None:
        return vectors, labels, np.arange(len(labels))
    rng = np.random.default_rng(seed)
    keep = np.isin(labels, rng.choice(np.unique(labels), classes, replace=False))
    vectors, labels = vectors[keep], labels[keep]
    return vectors, labels, np.arange(len(labels))


def photo_set(split: str = "dev", seed: int = 0):
    """(vectors, labels, query indices); a distractor's label is unique (relevant to nothing)."""
    root = photos.build(split, seed)
    m = json.loads((root / "manifest.json").read_text())
    group = {o: i for i, o in enumerate(m["originals"])}
    paths, labels = [], []
    for o in m["originals"]:
        paths.append(str(root / "db" / o))
        labels.append(group[o])
    for j, d in enumerate(m["distractors"]):
        paths.append(str(root / "db" / d))
        labels.append(len(group) + j)
    first_query = len(paths)
    for q in m["queries"]:
        paths.append(str(root / "queries" / q["file"]))
        labels.append(group[q["source"]])
    vectors, labels = _embed(f"photos-{split}-s{seed}", paths, labels)
    return vectors, labels, np.arange(first_query, len(labels))


# Priority order: the first of these words among a photo's labels is its category. Specific object words
# only (the generic "animal", "tool", "monument", "building" and the scene words sky/water/grass/... are not
# categories). Where a photo has two, the narrower or more visible one comes first: "bridge" before "tower"
# (Tower Bridge), "fort" before "castle" (Castillo de San Marcos), "church" before "castle" (Mont St Michel),
# "pyramid" before "building" words (the Louvre's pyramid), "castle" before "palace" (Schwerin), "temple"
# before "tower"; the FanoeWindmill background is a windmill. "dish" (cup, plate, buffet set) is the one
# household word with 3 photos; "ball" (2) and single household objects fall to the < 3 rule.
CATEGORIES = ("fish", "bird", "mammal", "reptile", "insect",
              "hammer", "screwdriver", "scissors", "pliers", "measuring tape",
              "windmill", "dam", "solar panel", "instrument", "planet", "dish", "ball",
              "pyramid", "statue", "bridge", "fort", "church", "temple", "castle", "palace", "tower")
MIN_CATEGORY = 3


def category_of(words: list[str]) -> str | None:
    return next((c for c in CATEGORIES if c in words), None)


def categories_set(seed: int = 0, fraction: float = 0.8):
    """(vectors, labels, query indices) of a random ``fraction`` of the real photos, drawn with ``seed``;
    label = category index, distractors (no category, or one with < MIN_CATEGORY photos in the draw) get
    unique labels and do not query."""
    _, folder, words, names = real_words.build("all")
    order = sorted(names)  # img0000.jpg ...: a fixed order, so the embedding cache is seed-independent
    cats = [category_of(words[names[n]]) for n in order]
    vectors, _ = _embed("categories-all", [str(folder / n) for n in order], [-1] * len(order))
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(order), int(round(fraction * len(order))), replace=False))
    drawn = [cats[i] for i in keep]
    counts = {c: drawn.count(c) for c in set(drawn) if c is not None}
    ok = sorted(c for c, n in counts.items() if n >= MIN_CATEGORY)
    labels = np.array([ok.index(c) if c in ok else len(ok) + j for j, c in enumerate(drawn)], np.int64)
    queries = np.flatnonzero(labels < len(ok))
    return vectors[keep], labels, queries


def dev_sets(seed: int, classes: int = 400):
    """The three dev sets for one seed, by name."""
    return {"emoji": emoji_set(classes, seed), "photos": photo_set("dev", seed), "categories": categories_set(seed)}


if __name__ == "__main__":
    import sys

    for s in [int(x) for x in sys.argv[1:]] or [0]:
        for name, (v, y, q) in dev_sets(s).items():
            print(f"seed {s} {name}: {len(v)} vectors, {len(q)} queries, dim {v.shape[1]}", flush=True)
    v, y, q = photo_set("cal", 0)
    print(f"photos cal s0: {len(v)} vectors, {len(q)} queries")
