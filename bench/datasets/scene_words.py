"""Third words dev set for text search: SCENE words (sky, cloud, sunset, lake, water, flower, grass, leaf,
forest...) on real photographs from the Debian wallpaper packages that ``make bench-deps`` installs (the
ones bench/datasets/photos.py also draws on): ``plasma-workspace-wallpapers``
(/usr/share/wallpapers/<Name>/contents/images/<W>x<H>.<ext>: one picture per wallpaper, its largest
file) and /usr/share/backgrounds/** (``mate-backgrounds``, ``ukui-wallpapers``, ``gnome-backgrounds``).
The ``desktop-base`` themes (the plasma folders that link into /usr/share/desktop-base) and the SVG
backgrounds are vector art and are not candidates; ``lomiri-wallpapers`` is left to another set.

What is kept: every candidate (:func:`sources`: 30 plasma wallpapers + 58 raster backgrounds = 88) was
viewed on contact sheets (2026-12-03) and only real photographs were kept: 23 (11 plasma, the 12
``mate/nature`` photos); the 65 others are abstract art, illustrations, logos, renders, gradients, flat
colours (all of ukui's and gnome's, mate's abstract/desktop folders, and 19 plasma designs) or the twins
of those (dark/light, sizes).

Labels (``scene_words.json``, committed, written by hand while viewing): the scene words clearly visible
in each photo, from a fixed vocabulary (sky, cloud, sunset, night, snow, ice, forest, tree, leaf, flower,
grass, field, mountain, hill, rock, desert, sand, beach, sea, lake, river, waterfall, water, city, building,
bridge, road, animal, bird, fish), conservative (a word only where a person would agree at a glance),
plus the words a user would type for the main subject (boat, kite, pier, cup, ladybird, dandelion...).
Every label counts as a scene word here (:data:`SCENE_WORDS`), so bench/text_search.py reports this set
in its scene columns only. Counts over the 23: water 7, sky 7, flower 5, lake 4, cloud 4, leaf 3,
grass 3, sunset 2, drop 2, and once each sea, road, storm, mountain, forest, tree, path, autumn, boat,
kite, pier, cup, moss, wood, dandelion, ladybird, ladybug, insect; one photo (plasma/Grey, a wavy facade
seen close up) has no word and is a distractor.

``build(split)`` writes two copies under bench/data/scene-words/: ``original-<split>/`` (the package's
folders and file names: ``plasma/Kite/contents/images/2560x1600.jpg``,
``backgrounds/mate/nature/Storm.jpg``, for the file-name baselines) and ``renamed-<split>/`` (neutral
names ``img0001.jpg``, flat, so no name can leak the label); JPEG, longest side at most 1600 px.
Splits ``a`` / ``b``: two halves by a hash of the key; ``all``: both.
"""
from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from bench.datasets import DATA_ROOT, renamed, save_pair, split_of, words_split  # noqa: F401 (split_of: re-exported)

LABELS = Path(__file__).with_name("scene_words.json")
PLASMA = Path("/usr/share/wallpapers")  # <Name>/contents/images/<w>x<h>.<ext> (plasma-workspace-wallpapers)
BACKGROUNDS = Path("/usr/share/backgrounds")  # mate-backgrounds, ukui-wallpapers, gnome-backgrounds
PACKAGES = ("plasma-workspace-wallpapers", "mate-backgrounds", "ukui-wallpapers", "gnome-backgrounds")
SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
MAX_SIDE = 1600
# every word of scene_words.json: the vocabulary's scene words first, then the subject words
SCENE_WORDS = ("sky", "cloud", "sunset", "forest", "tree", "leaf", "flower", "grass", "mountain", "sea", "lake",
               "water", "road", "storm", "autumn", "drop", "path", "boat", "kite", "pier", "cup", "moss", "wood",
               "dandelion", "ladybird", "ladybug", "insect")


def _area(p: Path) -> int:
    try:
        with Image.open(p) as im:
            return im.width * im.height
    except OSError:
        return 0


def _plasma_file(folder: Path) -> Path | None:
    """The largest raster file of a plasma wallpaper (the other sizes are symlinks to it or smaller)."""
    images = folder / "contents" / "images"
    if not images.is_dir() or "desktop-base" in str(images.resolve()):
        return None
    files = sorted(p for p in images.iterdir() if p.suffix.lower() in SUFFIXES and not p.is_symlink())
    return max(files, key=_area, default=None)


def sources() -> dict[str, Path]:
    """{key: file} of every candidate picture installed (before viewing): ``plasma/<Name>`` and
    ``backgrounds/<path without extension>``."""
    out: dict[str, Path] = {}
    for d in sorted(PLASMA.iterdir()) if PLASMA.is_dir() else []:
        f = _plasma_file(d)
        if f is not None:
            out[f"plasma/{d.name}"] = f
    for p in sorted(BACKGROUNDS.rglob("*")) if BACKGROUNDS.is_dir() else []:
        if p.suffix.lower() in SUFFIXES and not p.is_symlink() and "desktop-base" not in str(p.resolve()):
            out["backgrounds/" + p.relative_to(BACKGROUNDS).with_suffix("").as_posix()] = p
    return out


def source(key: str) -> Path | None:
    """The installed file of one key, or None when its package is missing."""
    kind, rel = key.split("/", 1)
    if kind == "plasma":
        return _plasma_file(PLASMA / rel)
    hits = sorted(p for p in (BACKGROUNDS / rel).parent.glob(Path(rel).name + ".*")
                  if p.suffix.lower() in SUFFIXES and not p.is_symlink()) if (BACKGROUNDS / rel).parent.is_dir() else []
    return hits[0] if hits else None


def original_name(key: str) -> str:
    """The picture's package path (as .jpg) inside the original-names copy:
    ``plasma/Kite/contents/images/2560x1600.jpg``, ``backgrounds/mate/nature/Storm.jpg``."""
    if key.startswith("plasma/"):
        f = source(key)
        if f is None:
            _missing([key])
        return f"{key}/contents/images/{f.stem}.jpg"
    return key + ".jpg"


def _missing(keys: list[str]) -> None:
    raise RuntimeError(f"scene-words set: {len(keys)} source pictures not installed ({', '.join(keys[:5])}...); "
                       f"`make bench-deps` installs the wallpaper packages ({', '.join(PACKAGES)})")


def build(split: str = "all") -> tuple[Path, Path, dict[str, list[str]], dict[str, str]]:
    """(original folder, renamed folder, {key: words}, {renamed name: key}); pictures as JPEG, longest
    side at most MAX_SIDE, transparency flattened onto white."""
    labels = words_split(json.loads(LABELS.read_text()), split)
    files = {k: source(k) for k in labels}
    if missing := sorted(k for k, f in files.items() if f is None):
        _missing(missing)
    orig = DATA_ROOT / "scene-words" / f"original-{split}"
    ren = DATA_ROOT / "scene-words" / f"renamed-{split}"
    names = renamed(labels, ".jpg", start=1)
    for name, key in names.items():
        a, b = orig / original_name(key), ren / name
        if a.exists() and b.exists():
            continue
        with Image.open(files[key]) as im:
            im.draft("RGB", (MAX_SIDE, MAX_SIDE))
            save_pair(im, a, b, MAX_SIDE, Image.Resampling.LANCZOS, quality=92)
    return orig, ren, labels, names


if __name__ == "__main__":  # the candidates not kept, and the word counts of the kept ones
    table = json.loads(LABELS.read_text())
    cands = sources()
    print(len(cands), "candidates,", len(table), "kept; rejected:", ", ".join(k for k in cands if k not in table))
    counts: dict[str, int] = {}
    for ws in table.values():
        for w in ws:
            counts[w] = counts.get(w, 0) + 1
    print(dict(sorted(counts.items(), key=lambda kv: -kv[1])))
    assert set(counts) == set(SCENE_WORDS), set(counts) ^ set(SCENE_WORDS)
