"""A Copydays-style copy-detection dev set from photos shipped in packages.

Pool: scikit-image's sample photos plus Debian's desktop-base theme wallpapers (``make bench-deps``).
For a ``seed``, 60 % of the pool are originals, the rest (plus random crops of them) are
distractors; each original gets one seeded edited copy per edit family and ``combos`` copies
with 3-4 edits chained. Everything is written under ``bench/data/copydays-s<seed>/``:
``db/`` (originals + distractors, what is indexed), ``queries/`` and ``manifest.json``.
"""
from __future__ import annotations

import io
import json
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from bench.datasets import DATA_ROOT

SKIMAGE = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg",
           "camera.png", "moon.png", "coins.png", "retina.jpg", "ihc.png", "brick.png", "grass.png", "gravel.png",
           "page.png", "text.png", "color.png", "cell.png", "microaneurysms.png", "horse.png"]
WALLPAPER_ROOTS = ["/usr/share/desktop-base", "/usr/share/wallpapers", "/usr/share/backgrounds"]
MAX_SIDE = 1024


def pool() -> list[tuple[str, Image.Image]]:
    """(name, RGB image at most MAX_SIDE px) for every usable source photo, in a fixed order."""
    import skimage.data

    root = Path(skimage.data.__file__).parent
    paths = [root / s for s in SKIMAGE if (root / s).exists()]
    seen = set()
    for base in WALLPAPER_ROOTS:
        for p in sorted(Path(base).rglob("*")) if Path(base).exists() else []:
            if p.suffix.lower() in {".png", ".jpg"} and p.is_file() and p.resolve() not in seen:
                try:
                    with Image.open(p) as im:
                        ok = min(im.size) >= 480 and p.name == "grub-16x9.png"  # one wallpaper per theme
                except OSError:
                    ok = False
                if ok:
                    seen.add(p.resolve())
                    paths.append(p)
    out = []
    for p in paths:
        im = Image.open(p).convert("RGB")
        im.thumbnail((MAX_SIDE, MAX_SIDE))
        out.append((f"{p.parent.parent.name}-{p.stem}" if "desktop-base" in str(p) else p.stem, im))
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


def build(seed: int = 0, combos: int = 3, out: Path | None = None) -> Path:
    out = out or DATA_ROOT / f"copydays-s{seed}"
    if (out / "manifest.json").exists():
        return out
    rng = random.Random(seed)
    items = pool()
    rng.shuffle(items)
    cut = int(len(items) * 0.6)
    originals, others = items[:cut], items[cut:]
    (out / "db").mkdir(parents=True, exist_ok=True)
    (out / "queries").mkdir(parents=True, exist_ok=True)
    manifest = {"seed": seed, "originals": [], "distractors": [], "queries": []}
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
