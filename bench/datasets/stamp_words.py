"""Category-word dev set for text search: the photo stamps of Debian's ``tuxpaint-stamps-default``
(not used by bench/datasets/photos.py), 442 pictures of animals, plants, food, tools, vehicles..., plus
the 19 photographs of the ``lomiri-wallpapers*`` packages (not used there either) for scene words.

Labels: ``stamp_words.json`` (committed) maps each picture (path inside the package's stamps folder) to
the category words it is relevant for, from the package's own folder (animals/birds -> animal, bird) by
the FOLDER_WORDS table below, checked by eye on contact sheets; mirrored twins and symbol/letter/flag
folders are left out. The wallpapers (keys ``lomiri/...``) were labelled by viewing them (LOMIRI below). ``build(split)`` writes two copies under bench/data/stamp-words/:
``original/`` (the package's folders and file names, for the file-name baselines) and ``renamed-<split>/``
(neutral names ``img0001.png``, flat, so no name can leak the label). Pictures are flattened onto white.
Splits ``a`` / ``b``: two halves by a hash of the picture's path; ``all``: both.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from PIL import Image

from bench.datasets import DATA_ROOT, renamed, save_pair, split_of, words_split, write_labels  # noqa: F401 (split_of: re-exported)

PACKAGE = "tuxpaint-stamps-default"
STAMPS = "usr/share/tuxpaint/stamps"
LABELS = Path(__file__).with_name("stamp_words.json")
# package folder prefix -> category words (the most specific prefix that matches adds its words, and
# every shorter matching prefix adds its own)
FOLDER_WORDS = {
    "animals": ["animal"], "animals/birds": ["bird"], "animals/fish": ["fish"], "animals/insects": ["insect"],
    "animals/mammals": ["mammal"], "animals/mammals/rodents": ["rodent"], "animals/marsupials": ["mammal"],
    "food": ["food"], "food/fruit": ["fruit"], "food/vegetables": ["vegetable"], "food/nuts": ["nut"],
    "plants": ["plant"], "plants/flowers": ["flower"], "plants/trees": ["tree"],
    "clothes": ["clothing"], "clothes/hats": ["hat"],
    "hobbies/music": ["instrument"], "household/tools": ["tool"], "household/arttools": ["tool"],
    "household/dishes": ["dish"], "vehicles": ["vehicle"], "military/vehicles": ["vehicle"],
    "space/planets": ["planet"], "sports": ["ball"],
}
LOMIRI_PACKAGES = ("lomiri-wallpapers", "lomiri-wallpapers-16.04", "lomiri-wallpapers-20.04")
LOMIRI_DIR = "usr/share/backgrounds"
LOMIRI = {  # by eye, 2026-12-02
    "Bridge_by_Sander_Klootwijk.jpg": ["sky", "blue", "bridge"],
    "Dragonfly_by_Bolly.jpg": ["plant", "tree", "green"],
    "Fossa_by_Jasper_Roks.jpg": ["red", "purple"],
    "Infinite-Sea_by_Aury88.jpg": ["sea", "sky", "night", "star", "purple"],
    "Kleiber_by_Lukas_Baubkus.jpg": ["bird", "animal", "tree"],
    "Painting-Colors_by__herobrine7gamer.jpg": ["pink"],
    "Picture_0B_by_freespace.jpg": ["fruit", "food", "red", "dish"],
    "Picture_1A_by_freespace.jpg": ["brush", "tool"],
    "Wine_by_Jakkub_Mede.jpg": ["drum", "instrument", "room"],
    "aitzgorri_by_Aitzol_Berasategi.jpg": ["mountain", "forest", "grass", "green", "landscape"],
    "analogpattern_by_Peter_Nerlich.jpg": ["green", "purple"],
    "free_by_Peter_Nerlich.jpg": ["turtle", "lamp"],
    "friends_by_Aitzol_Berasategi.jpg": ["dog", "animal", "mammal"],
    "greentock_by_Peter_Nerlich.jpg": ["clock"],
    "life_by_Aitzol_Berasategi.jpg": ["forest", "river", "waterfall", "rock", "landscape", "tree"],
    "picosdeeuropa_by_Aitzol_Berasategi.jpg": ["mountain", "snow", "sky", "landscape"],
    "seeding_by_Clements_Engelhardt.jpg": ["flower", "plant", "grass"],
    "sunset_by_Aitzol_Berasategi.jpg": ["sunset", "sky", "mountain", "landscape"],
    "umang_by_Abhishek_Mudgal.jpg": [],
}
SCENE_WORDS = ("sky", "sea", "mountain", "forest", "landscape", "sunset", "snow", "river", "grass", "night")
MAX_SIDE = 1024
SKIP = ("symbols", "seasonal", "town/roadsigns", "town/flags", "town/cartoon", "plants/flowers/plastic",
        "animals/mammals/bears/toys", "people/toys")


def extract() -> Path:
    root = DATA_ROOT / "cache" / PACKAGE
    if not (root / STAMPS).exists():
        deb_dir = DATA_ROOT / "cache"
        deb_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", PACKAGE], cwd=deb_dir, check=True, capture_output=True)
        deb = sorted(deb_dir.glob(f"{PACKAGE}_*.deb"))[-1]
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root / STAMPS


def extract_lomiri() -> Path:
    root = DATA_ROOT / "cache" / "lomiri-wallpapers"
    if not (root / LOMIRI_DIR / "sunset_by_Aitzol_Berasategi.jpg").exists():
        deb_dir = DATA_ROOT / "cache"
        for pkg in LOMIRI_PACKAGES:
            subprocess.run(["apt-get", "download", pkg], cwd=deb_dir, check=True, capture_output=True)
            deb = sorted(deb_dir.glob(f"{pkg}_*.deb"))[-1]
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root / LOMIRI_DIR


def words_for(rel: str) -> list[str]:
    folder = rel.rsplit("/", 1)[0]
    out: list[str] = []
    for prefix, words in FOLDER_WORDS.items():
        if folder == prefix or folder.startswith(prefix + "/"):
            out += [w for w in words if w not in out]
    return out


def make_labels() -> dict[str, list[str]]:
    """The label table from the package's folders (written once to stamp_words.json, then committed)."""
    src = extract()
    out = {}
    for p in sorted(src.rglob("*.png")):
        rel = p.relative_to(src).as_posix()
        if "mirror" in p.stem or rel.startswith(SKIP) or "/" not in rel:
            continue
        out[rel] = words_for(rel)
    for name, words in LOMIRI.items():
        out[f"lomiri/{name}"] = words
    return out


def build(split: str = "all") -> tuple[Path, Path, dict[str, list[str]], dict[str, str]]:
    """(original folder, renamed folder, {original rel path: words}, {renamed name: original rel path})."""
    labels = words_split(json.loads(LABELS.read_text()), split)
    src, lom = extract(), extract_lomiri()
    orig = DATA_ROOT / "stamp-words" / f"original-{split}"
    ren = DATA_ROOT / "stamp-words" / f"renamed-{split}"
    names = renamed(labels, ".png")
    for name, rel in names.items():
        a, b = orig / rel, ren / name
        if a.exists() and b.exists():
            continue
        with Image.open(lom / rel[len("lomiri/"):] if rel.startswith("lomiri/") else src / rel) as im:
            save_pair(im, a, b, MAX_SIDE)
    return orig, ren, labels, names


if __name__ == "__main__":
    write_labels(LABELS, make_labels())
