"""A Copydays-style copy-detection dev set from real photos shipped in packages.

Pool (``pool()``): scikit-image's sample photos plus the wallpapers / backgrounds of Debian
packages (``make bench-deps``: desktop-base, mate-backgrounds, ukui-wallpapers,
plasma-workspace-wallpapers, gnome-backgrounds) -- one file per picture (the largest of a wallpaper's
sizes, no dark/light or recoloured twins). The pool is cut into two disjoint halves by a hash of the
picture's name: split ``"cal"`` (thresholds are calibrated on it) and split ``"dev"`` (figures are
reported on it), so reported figures are on pictures calibration never saw.

For a (split, seed): 60 % of the split's pictures are originals, the rest (plus 3 random 50 %-area
crops of each) are distractors; each original gets one seeded edited copy per edit family and
``combos`` copies with 3-4 edits chained. Everything is written under
``bench/data/copydet-<split>-s<seed>/``: ``db/`` (originals + distractors, what is indexed),
``queries/`` and ``manifest.json``.
"""
from __future__ import annotations

import hashlib
import io
import json
import random
import re
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps, ImageStat

from bench.datasets import DATA_ROOT

SKIMAGE = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg",
           "camera.png", "moon.png", "coins.png", "retina.jpg", "ihc.png", "brick.png", "grass.png", "gravel.png",
           "page.png", "text.png", "color.png", "cell.png", "microaneurysms.png", "horse.png"]
DESKTOP_BASE = Path("/usr/share/desktop-base")
PLASMA = Path("/usr/share/wallpapers")  # <Name>/contents/images/<w>x<h>.<ext> (plasma-workspace-wallpapers)
BACKGROUNDS = Path("/usr/share/backgrounds")  # ukui-wallpapers, mate-backgrounds, gnome-backgrounds
SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}
MAX_SIDE = 1024
# recoloured twins of one design count as one picture (the key they collapse to)
TWINS = re.compile(r"(_\d+x\d+|-[dl]|-(Dark|Light|Cold|Warm|Radioactive)(-no-logo)?)$")


def _area(p: Path) -> int:
    try:
        with Image.open(p) as im:
            return im.width * im.height if im.width >= im.height and min(im.size) >= 480 else 0
    except OSError:
        return 0


def sources() -> list[tuple[str, Path]]:
    """(picture name, file) for every picture found, one file per picture, in a fixed order."""
    import skimage.data

    root = Path(skimage.data.__file__).parent
    out = [(Path(s).stem, root / s) for s in SKIMAGE if (root / s).exists()]
    if DESKTOP_BASE.exists():  # one per theme: its 16:9 boot screen (the theme's picture, no text)
        themes = {p.resolve(): p.parent.parent.name for p in sorted(DESKTOP_BASE.glob("*/grub/grub-16x9.png"))
                  if not p.parent.parent.is_symlink() and "inksplat" not in str(p)}
        out += [(name, p) for p, name in sorted(themes.items(), key=lambda kv: kv[1])]
    if PLASMA.exists():
        for d in sorted(PLASMA.glob("*/contents/images")):
            files = [p for p in d.iterdir() if p.suffix.lower() in SUFFIXES and not p.is_symlink()]
            best = max(files, key=_area, default=None)
            if best is not None and _area(best) and "desktop-base" not in str(best.resolve()):
                out.append((f"plasma-{d.parent.parent.name}", best))
    seen = set()
    for p in sorted(BACKGROUNDS.rglob("*")) if BACKGROUNDS.exists() else []:
        if p.suffix.lower() not in SUFFIXES or p.is_symlink() or "desktop-base" in str(p.resolve()):
            continue
        key = TWINS.sub("", p.stem)
        if key not in seen and _area(p):
            seen.add(key)
            out.append((f"bg-{key}", p))
    return out


def in_split(name: str, split: str) -> bool:
    return (hashlib.sha1(name.encode()).digest()[0] % 2 == 0) == (split == "cal")


def pool(split: str | None = None) -> list[tuple[str, Image.Image]]:
    """(name, RGB image at most MAX_SIDE px) for every picture of ``split`` ("cal" | "dev" | None: all)."""
    out = []
    for name, path in sources():
        if split is not None and not in_split(name, split):
            continue
        with Image.open(path) as im:
            im.draft("RGB", (MAX_SIDE, MAX_SIDE))
            if "A" in im.getbands() and im.getchannel("A").getextrema()[0] < 250:
                continue  # a transparent overlay, not a picture
            im = im.convert("RGB")
        im.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
        if ImageStat.Stat(im.convert("L")).stddev[0] < 6:
            continue  # (almost) flat colour
        out.append((name, im))
    return out


# -- edits: (image, rng) -> image ------------------------------------------------------------------
def crop50(im, rng):
    """Crop to 50 % of the area (about 71 % of each side), anywhere."""
    w, h = im.size
    cw, ch = int(w * 0.5 ** 0.5), int(h * 0.5 ** 0.5)
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    return im.crop((x, y, x + cw, y + ch))


def resize(im, rng):
    s = rng.uniform(0.25, 0.6)
    return im.resize((max(32, int(im.width * s)), max(32, int(im.height * s))), Image.Resampling.BILINEAR)


def jpeg20(im, rng):
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=20)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def rotate(im, rng):
    return im.rotate(rng.choice([-1, 1]) * rng.uniform(10, 20), Image.Resampling.BILINEAR, expand=True)


def flip(im, rng):
    return ImageOps.mirror(im)


def colour(im, rng):
    im = ImageEnhance.Brightness(im).enhance(rng.uniform(0.6, 1.4))
    im = ImageEnhance.Contrast(im).enhance(rng.uniform(0.6, 1.4))
    im = ImageEnhance.Color(im).enhance(rng.uniform(0.3, 1.7))
    hsv = im.convert("HSV")
    h, s, v = hsv.split()
    shift = rng.randint(-25, 25)
    return Image.merge("HSV", (h.point(lambda x: (x + shift) % 256), s, v)).convert("RGB")


def grey(im, rng):
    return ImageOps.grayscale(im).convert("RGB")


def blur(im, rng):
    return im.filter(ImageFilter.GaussianBlur(rng.uniform(2, 4) * max(im.size) / 1024 * 2))


def overlay(im, rng):
    """A caption and a few emoji-like faces drawn over the picture."""
    im = im.copy()
    d = ImageDraw.Draw(im)
    w, h = im.size
    font = ImageFont.load_default(size=max(12, h // 9))
    words = rng.choice(["SALE 50%", "lol same", "#tbt 2019", "copyright?", "when you see it"])
    d.text((rng.randint(0, w // 4), rng.randint(h // 2, int(h * 0.8))), words, fill=(255, 255, 255), font=font,
           stroke_width=max(1, h // 150), stroke_fill=(0, 0, 0))
    for _ in range(rng.randint(1, 3)):
        r = rng.randint(min(w, h) // 14, min(w, h) // 8)
        x, y = rng.randint(r, w - r), rng.randint(r, h - r)
        d.ellipse((x - r, y - r, x + r, y + r), fill=(255, 204, 0), outline=(0, 0, 0), width=max(1, r // 10))
        d.ellipse((x - r // 2, y - r // 3, x - r // 4, y), fill=(0, 0, 0))
        d.ellipse((x + r // 4, y - r // 3, x + r // 2, y), fill=(0, 0, 0))
        d.arc((x - r // 2, y, x + r // 2, y + r // 2), 0, 180, fill=(0, 0, 0), width=max(1, r // 10))
    return im


def pad(im, rng):
    w, h = im.size
    p = [int(rng.uniform(0.05, 0.25) * s) for s in (w, h, w, h)]
    return ImageOps.expand(im, tuple(p), fill=tuple(rng.randint(0, 255) for _ in range(3)))


FAMILIES = {"crop50": crop50, "resize": resize, "jpeg20": jpeg20, "rotate": rotate, "flip": flip, "colour": colour,
            "grey": grey, "blur": blur, "overlay": overlay, "pad": pad}


def combo(im, rng):
    names = rng.sample([n for n in FAMILIES if n != "jpeg20"], rng.randint(2, 3)) + ["jpeg20"]
    rng.shuffle(names)
    for n in names:
        im = FAMILIES[n](im, rng)
    return im, "+".join(names)


def build(split: str = "dev", seed: int = 0, combos: int = 3, out: Path | None = None) -> Path:
    out = out or DATA_ROOT / f"copydet-{split}-s{seed}"
    if (out / "manifest.json").exists():
        return out
    rng = random.Random(seed)
    items = pool(split)
    rng.shuffle(items)
    cut = int(len(items) * 0.6)
    originals, others = items[:cut], items[cut:]
    (out / "db").mkdir(parents=True, exist_ok=True)
    (out / "queries").mkdir(parents=True, exist_ok=True)
    manifest = {"split": split, "seed": seed, "originals": [], "distractors": [], "queries": []}
    for name, im in originals:
        im.save(out / "db" / f"o-{name}.jpg", quality=92)
        manifest["originals"].append(f"o-{name}.jpg")
    for name, im in others:
        im.save(out / "db" / f"d-{name}.jpg", quality=92)
        manifest["distractors"].append(f"d-{name}.jpg")
        for j in range(3):
            c = crop50(im, rng)
            c.save(out / "db" / f"d-{name}-crop{j}.jpg", quality=92)
            manifest["distractors"].append(f"d-{name}-crop{j}.jpg")
    for name, im in originals:
        jobs = [(fam, lambda im=im, f=f: (f(im, rng), None)) for fam, f in FAMILIES.items()]
        jobs += [("combo", lambda im=im: combo(im, rng)) for _ in range(combos)]
        for i, (fam, job) in enumerate(jobs):
            edited, chain = job()
            fname = f"q-{name}-{i:02d}-{fam}.jpg"
            edited.convert("RGB").save(out / "queries" / fname, quality=92)
            manifest["queries"].append({"file": fname, "family": fam, "chain": chain or fam, "source": f"o-{name}.jpg"})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return out
