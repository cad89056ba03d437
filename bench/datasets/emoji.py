"""Labelled dev set from the npm packages ``emoji-datasource-{apple,google,twitter,facebook}``.

Each class is one emoji (its short name); its instances are the same emoji as drawn by each vendor
(64 px PNGs with transparency). Different artists, same concept: a fair test of "same thing,
different picture", and every class has a natural-language name (``emoji.json``).

    .venv/bin/python -m bench.datasets.emoji [--classes N] [--categories "Animals & Nature,Food & Drink"]

writes ``bench/data/emoji/<short_name>/<vendor>.png`` and ``bench/data/emoji/classes.json``
(short name -> {name, category, subcategory}). The npm tarballs are fetched with ``npm pack`` into
``bench/data/cache/`` once.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import tarfile
from pathlib import Path

from bench.datasets import DATA_ROOT

VENDORS = ("apple", "google", "twitter", "facebook")
VERSION = "16.0.0"


def fetch(vendor: str, cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    tgz = cache / f"emoji-datasource-{vendor}-{VERSION}.tgz"
    if not tgz.exists():
        subprocess.run(["npm", "pack", f"emoji-datasource-{vendor}@{VERSION}", "--silent"], cwd=cache, check=True,
                       capture_output=True)
    return tgz


def build(out: Path | None = None, classes: int | None = None, categories: list[str] | None = None,
          seed: int = 0) -> Path:
    """Build (or reuse) the folder; returns its path."""
    out = out or DATA_ROOT / "emoji"
    marker = out / "classes.json"
    key = {"classes": classes, "categories": categories, "seed": seed}
    if marker.exists() and json.loads(marker.read_text()).get("_build") == key:
        return out
    if out.exists():
        shutil.rmtree(out)
    cache = DATA_ROOT / "cache"
    tars = {v: tarfile.open(fetch(v, cache), "r:gz") for v in VENDORS}
    with tarfile.open(fetch("apple", cache), "r:gz") as t:
        meta = json.load(t.extractfile("package/emoji.json"))
    members = {v: set(t.getnames()) for v, t in tars.items()}
    rows = []
    for e in meta:
        if e["category"] == "Component" or (categories and e["category"] not in categories):
            continue
        names = {v: f"package/img/{v}/64/{e['image']}" for v in VENDORS}
        if all(e.get(f"has_img_{v}") and names[v] in members[v] for v in VENDORS):
            rows.append((e, names))
    rng = random.Random(seed)
    rng.shuffle(rows)
    if classes:
        rows = rows[:classes]
    info = {}
    for v in VENDORS:  # one sequential pass per tarball (random access into a .tgz is very slow)
        wanted = {names[v]: e["short_name"] for e, names in rows}
        for member in tars[v]:
            if member.name in wanted:
                folder = out / wanted[member.name]
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{v}.png").write_bytes(tars[v].extractfile(member).read())
    for e, names in rows:
        info[e["short_name"]] = {"name": (e.get("name") or e["short_name"]).lower(), "category": e["category"],
                                 "subcategory": e["subcategory"]}
    info["_build"] = key
    marker.write_text(json.dumps(info, indent=1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--classes", type=int)
    ap.add_argument("--categories", help="comma-separated emoji categories")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    path = build(a.out, a.classes, a.categories.split(",") if a.categories else None, a.seed)
    n = sum(1 for _ in path.glob("*/*.png"))
    print(f"{path}: {n} images")


if __name__ == "__main__":
    main()
