"""Stacks of near-duplicates (issue 13): does a mirrored copy of a photo bring back its whole group of
copies as the top hit's stack, and do the first hits then show distinct pictures?

    .venv/bin/python bench/stacks.py [--photos 22]

Gallery: each sample photo plus 4 copies (half size, PNG, JPEG q60, 2 % crop); queries: a mirrored
copy of each photo. Figures: the fraction of queries whose top hit's stack is exactly its group
(completeness; a member of another group in it counts as a failure), and the fraction of queries
whose top 5 hits are 5 distinct groups, with stacking and without it (the baseline, same run).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pixseek import open_library  # noqa: E402

EDITS = ("half", "png", "q60", "crop")


def make_group(src: Path, folder: Path, queries: Path) -> None:
    im = Image.open(src).convert("RGB")
    w, h = im.size
    stem = src.stem
    im.save(folder / f"{stem}.jpg", quality=95)
    im.resize((w // 2, h // 2)).save(folder / f"{stem}-half.jpg", quality=90)
    im.save(folder / f"{stem}-png.png")
    im.save(folder / f"{stem}-q60.jpg", quality=60)
    dx, dy = int(w * .02), int(h * .02)
    im.crop((dx, dy, w - dx, h - dy)).save(folder / f"{stem}-crop.jpg", quality=90)
    ImageOps.mirror(im).save(queries / f"{stem}.jpg", quality=90)


def group_of(path: str) -> str:
    return Path(path).stem.split("-")[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=22)
    args = ap.parse_args()
    photos = sorted((ROOT / "samples" / "gallery").glob("*.jpg"))[: args.photos]
    with tempfile.TemporaryDirectory() as tmp:
        folder, queries = Path(tmp) / "g", Path(tmp) / "q"
        folder.mkdir()
        queries.mkdir()
        for p in photos:
            make_group(p, folder, queries)
        with open_library(Path(tmp) / "s.db") as lib:
            lib.ingest(folder)
            qs = sorted(queries.iterdir())
            stacked = lib.search(qs, 5)
            flat = lib.search(qs, 5, stack=False)
        complete = distinct = distinct_flat = 0
        for q, hits, plain in zip(qs, stacked, flat):
            g = q.stem
            members = {group_of(h.path) for h in [hits[0], *hits[0].copies]}
            complete += members == {g} and len(hits[0].copies) == len(EDITS)
            distinct += len({group_of(h.path) for h in hits}) == 5
            distinct_flat += len({group_of(h.path) for h in plain}) == 5
        n = len(qs)
        print(f"{n} groups of 5: top hit's stack is exactly its group {complete}/{n} = {complete / n:.3f}; "
              f"top 5 hits from 5 distinct groups: stacked {distinct / n:.3f}, without stacks (baseline) "
              f"{distinct_flat / n:.3f}")


if __name__ == "__main__":
    main()
