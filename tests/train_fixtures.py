"""A tiny real labelled set for the training tests: each class is one scikit-image photo, its images are
random crops of it (different regions and scales), so the pretrained encoder is good but not perfect."""
from __future__ import annotations

import random
from pathlib import Path

import skimage
from PIL import Image

SKIMAGE_DATA = Path(skimage.__file__).parent / "data"
PHOTOS = ("astronaut.png", "brick.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "grass.png",
          "gravel.png", "rocket.jpg", "retina.jpg")


def crops_folder(root: Path, classes: int = 8, per_class: int = 8, size: int = 96, seed: int = 0) -> Path:
    """``root/<photo>/<i>.png``: ``per_class`` random crops (1-9 % of the area) of each photo."""
    rng = random.Random(seed)
    for name in PHOTOS[:classes]:
        im = Image.open(SKIMAGE_DATA / name).convert("RGB")
        w, h = im.size
        folder = root / Path(name).stem
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            side = int(min(w, h) * rng.uniform(0.12, 0.3))
            x, y = rng.randint(0, w - side), rng.randint(0, h - side)
            im.crop((x, y, x + side, y + side)).resize((size, size), Image.Resampling.BILINEAR).save(folder / f"{i}.png")
    return root
