"""Labelled dev set for metric learning: characters and symbols rendered in many fonts.

Each class is one character (Latin, Greek, Cyrillic letters, digits, symbols); its instances are that
character drawn by different font files from Debian font packages (``make bench-deps`` installs them),
each with a mild augmentation (small rotation, scale, shift, grey levels, blur). Classes are split in two
DISJOINT halves, the CUB / Stanford Online Products protocol: train on one half, measure on the other.

    .venv/bin/python -m bench.datasets.glyphs [--per-class 64] [--seed 0]

writes ``bench/data/glyphs/{train,test}/<class>/<font>.png`` and ``bench/data/glyphs/classes.json``.
Glyphs sit in a fixed em box (not fitted to their bounding box), so ``o`` and ``O`` stay different.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import unicodedata
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from bench.datasets import DATA_ROOT

# The font packages `make bench-deps` installs (one per line); their font files are the instances.
FONT_PACKAGES = tuple(line.strip() for line in (Path(__file__).with_name("glyph_fonts.txt")).read_text().splitlines()
                      if line.strip() and not line.startswith("#"))

# Candidate characters; a class is kept when enough font files draw it. Lower-case letters that are
# only a smaller copy of their capital (c o s v w x z) and l (vs I) are left out.
CHARSET = (
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ" "abdefghijkmnpqrtuy" "0123456789"
    "&@#$%?!§¶€£¥+=<>*/\\()[]{}~^" "ßæÆøØðþÞŒœŋçÇñ"
    "ΓΔΘΛΞΠΣΦΨΩ" "αβγδεζηθκλμξπρςστφχψω"
    "БГДЖЗИЛПФЦЧШЩЪЫЬЭЮЯ" "бвгджзилнптфцчшщъыьэюя"
    "∞±×÷√∑∫≈≠≤≥←→↑↓♠♣♥♦★●■▲"
)
SIZE = 112  # rendered canvas (px); the encoder resizes to its own input
EM = 72  # font size in px


def font_files(packages=FONT_PACKAGES) -> list[Path]:
    """TrueType / OpenType files of the installed font packages, sorted."""
    files: set[Path] = set()
    for pkg in packages:
        proc = subprocess.run(["dpkg", "-L", pkg], capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"font package {pkg} is not installed: run `make bench-deps`")
        files |= {Path(p) for p in proc.stdout.splitlines() if p.lower().endswith((".ttf", ".otf"))}
    return sorted(f for f in files if f.is_file())


def coverage(path: Path) -> set[str]:
    """Characters of CHARSET the font maps and actually draws (non-empty ink)."""
    from fontTools.ttLib import TTFont

    try:
        cmap = TTFont(path, lazy=True, fontNumber=0).getBestCmap() or {}
        font = ImageFont.truetype(str(path), EM)
    except Exception:  # a font file fontTools/FreeType cannot read is simply not used
        return set()
    out = set()
    for ch in CHARSET:
        if ord(ch) in cmap:
            box = font.getbbox(ch)
            if box[2] - box[0] > 2 and box[3] - box[1] > 2:
                out.add(ch)
    return out


def class_name(ch: str) -> str:
    name = unicodedata.name(ch, f"U+{ord(ch):04X}").lower().replace(" ", "_").replace("-", "_")
    return f"u{ord(ch):04x}_{name}"


def render(ch: str, path: Path, rng: random.Random) -> Image.Image:
    """One glyph in a fixed em box with a mild random augmentation."""
    scale = rng.uniform(0.85, 1.1)
    font = ImageFont.truetype(str(path), int(EM * scale))
    ink, paper = rng.randint(0, 70), rng.randint(200, 255)
    canvas = 2 * SIZE
    im = Image.new("L", (canvas, canvas), paper)
    draw = ImageDraw.Draw(im)
    ascent, descent = font.getmetrics()
    width = font.getlength(ch)
    x = canvas / 2 - width / 2 + rng.uniform(-6, 6)
    y = canvas / 2 - (ascent + descent) / 2 + rng.uniform(-6, 6)
    draw.text((x, y), ch, font=font, fill=ink)
    im = im.rotate(rng.uniform(-8, 8), resample=Image.Resampling.BILINEAR, fillcolor=paper)
    off = (canvas - SIZE) // 2
    im = im.crop((off, off, off + SIZE, off + SIZE))
    if rng.random() < 0.3:
        im = im.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    return im.convert("RGB")


def build(out: Path | None = None, per_class: int = 64, seed: int = 0, test_fraction: float = 0.5) -> Path:
    """Build (or reuse) ``out/{train,test}/<class>/*.png``; returns ``out``."""
    out = out or DATA_ROOT / "glyphs"
    marker = out / "classes.json"
    key = {"per_class": per_class, "seed": seed, "test_fraction": test_fraction, "version": 1}
    if marker.exists() and json.loads(marker.read_text()).get("_build") == key:
        return out
    if out.exists():
        shutil.rmtree(out)
    fonts = font_files()
    cover = {f: coverage(f) for f in fonts}
    by_char = {ch: [f for f in fonts if ch in cover[f]] for ch in CHARSET}
    chars = [ch for ch in CHARSET if len(by_char[ch]) >= per_class]
    rng = random.Random(seed)
    order = chars[:]
    rng.shuffle(order)
    n_test = int(round(len(order) * test_fraction))
    split = {ch: ("test" if i < n_test else "train") for i, ch in enumerate(order)}
    info: dict = {}
    for ch in chars:
        name = class_name(ch)
        folder = out / split[ch] / name
        folder.mkdir(parents=True, exist_ok=True)
        crng = random.Random(f"{seed}-{ord(ch)}")
        for f in crng.sample(by_char[ch], per_class):  # file stems repeat across packages: prefix the font's rank
            render(ch, f, crng).save(folder / f"{fonts.index(f):03d}-{f.stem}.png")
        info[name] = {"char": ch, "split": split[ch], "fonts_covering": len(by_char[ch])}
    info["_build"] = key
    marker.write_text(json.dumps(info, indent=1, ensure_ascii=False))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--per-class", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    path = build(a.out, a.per_class, a.seed)
    for part in ("train", "test"):
        n_cls = sum(1 for p in (path / part).iterdir() if p.is_dir())
        n_img = sum(1 for _ in (path / part).glob("*/*.png"))
        print(f"{path / part}: {n_cls} classes, {n_img} images")


if __name__ == "__main__":
    main()
