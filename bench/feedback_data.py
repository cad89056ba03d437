"""Dev sets for the relevance-feedback benchmark (bench/feedback.py), embedded once with the shipped
encoder and cached under ``bench/data/feedback/`` (vectors + group labels; nothing else is cached).

- ``emoji``: bench/datasets/emoji.py, all classes embedded once; a run draws ``classes`` of them with its
  seed (a different seed draws a different subset). Relevant = the same emoji by the other vendors (3).
- ``photos``: bench/datasets/photos.py (``make bench-deps``), split and seed as there. The collection is
  the db (originals + distractors with their crops) plus every edited copy; one group = an original and
  its 13 edited copies (relevant to each other), distractors are relevant to nothing. Queries: the copies.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench.datasets import DATA_ROOT, emoji, photos
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


def dev_sets(seed: int, classes: int = 400):
    """The two dev sets for one seed, by name."""
    return {"emoji": emoji_set(classes, seed), "photos": photo_set("dev", seed)}


if __name__ == "__main__":
    import sys

    for s in [int(x) for x in sys.argv[1:]] or [0]:
        for name, (v, y, q) in dev_sets(s).items():
            print(f"seed {s} {name}: {len(v)} vectors, {len(q)} queries, dim {v.shape[1]}", flush=True)
    v, y, q = photo_set("cal", 0)
    print(f"photos cal s0: {len(v)} vectors, {len(q)} queries")
