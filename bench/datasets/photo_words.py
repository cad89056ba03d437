"""Photos with words: scikit-image's bundled photographs under their original file names, each with a
name query and a paraphrase, for text-to-image search (bench/text_search.py).

    .venv/bin/python -m bench.datasets.photo_words

copies the originals from the installed ``skimage/data/`` (PyPI ``scikit-image``) into
``bench/data/photo-words/`` under the names the package gives them (``chelsea.png``, ``coffee.png``):
the names a user who has these files would have, so the file-name keyword baseline is fair. Every
photo stays in the ranked set; the ones listed in ``QUERIES`` are also queries, with exactly one
relevant image each. The queries were written by hand for this set (one person, before looking at
pixseek's answers) and are the set's main limit, beside its size: 23 images, 16 queried subjects.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from bench.datasets import DATA_ROOT

# file stem -> (the subject's name, a paraphrase a person might type instead)
QUERIES: dict[str, tuple[str, str]] = {
    "chelsea": ("cat", "a tabby kitten"),
    "coffee": ("coffee", "an espresso in a saucer"),
    "rocket": ("rocket", "a spacecraft launching"),
    "astronaut": ("astronaut", "a woman in a space suit"),
    "motorcycle_left": ("motorcycle", "a motorbike"),
    "horse": ("horse", "a pony silhouette"),
    "moon": ("moon", "the lunar surface"),
    "coins": ("coins", "money"),
    "clock_motion": ("clock", "a wall clock showing the time"),
    "camera": ("camera man", "a photographer with a tripod"),
    "page": ("page of text", "a scanned book page"),
    "hubble_deep_field": ("galaxies", "a deep space telescope image"),
    "brick": ("brick wall", "masonry"),
    "grass": ("grass", "a lawn"),
    "gravel": ("gravel", "small stones"),
    "retina": ("retina", "the back of an eye"),
}
SKIP = {"lbpcascade_frontalface_opencv", "chessboard_GRAY", "phantom", "motorcycle_right"}  # not photos / duplicates


def source_dir() -> Path:
    import skimage

    return Path(skimage.__file__).parent / "data"


def build(out: Path | None = None) -> Path:
    """Copy the photos (once); returns the folder."""
    out = out or DATA_ROOT / "photo-words"
    out.mkdir(parents=True, exist_ok=True)
    for src in sorted(source_dir().iterdir()):
        if src.suffix.lower() in (".png", ".jpg", ".jpeg") and src.stem not in SKIP:
            dst = out / src.name
            if not dst.exists() or dst.stat().st_size != src.stat().st_size:
                shutil.copyfile(src, dst)
    missing = [s for s in QUERIES if not any(out.glob(f"{s}.*"))]
    if missing:
        raise FileNotFoundError(f"scikit-image data lacks {missing} (in {source_dir()})")
    return out


if __name__ == "__main__":
    folder = build()
    print(f"{folder}: {sum(1 for _ in folder.iterdir())} images")
