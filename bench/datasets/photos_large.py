"""Camera-sized JPEGs for throughput benchmarks: scikit-image's sample photos, cropped, flipped and
resized to ``size`` (default 1280 px longest side), saved at quality 90. Distinct files, real decode cost."""
from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageOps

from bench.datasets import DATA_ROOT

SOURCES = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg",
           "camera.png", "moon.png", "coins.png", "retina.jpg", "ihc.png", "brick.png", "grass.png", "gravel.png"]


def build(n: int, size: int = 1280, out: Path | None = None, seed: int = 0) -> Path:
    import skimage.data

    out = out or DATA_ROOT / f"photos{size}-{n}"
    if out.exists() and sum(1 for _ in out.glob("*.jpg")) == n:
        return out
    out.mkdir(parents=True, exist_ok=True)
    root = Path(skimage.data.__file__).parent
    bases = [Image.open(root / s).convert("RGB") for s in SOURCES]
    rng = random.Random(seed)
    for i in range(n):
        im = bases[i % len(bases)]
        w, h = im.size
        fx, fy = rng.uniform(0, .2), rng.uniform(0, .2)
        im = im.crop((int(w * fx), int(h * fy), int(w * (fx + .8)), int(h * (fy + .8))))
        if rng.random() < .5:
            im = ImageOps.mirror(im)
        scale = size / max(im.size)
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.BILINEAR)
        im.save(out / f"img{i:06d}.jpg", quality=90)
    return out
