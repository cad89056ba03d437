"""The shipped relevance floor (pixseek.encoders.relevance) on real images with the real default encoder."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from pixseek.encoders import create_encoder
from pixseek.encoders.relevance import floor_file, is_weak, relevance_floor
from pixseek.search.wiring import encode_paths

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.fixture(scope="module")
def encoder():
    return create_encoder(None)


def test_the_default_model_ships_a_calibrated_floor(encoder):
    floor = relevance_floor(encoder.model_id)
    assert floor is not None and 0.3 < floor < 0.95
    assert floor_file().is_file()
    assert relevance_floor("no-such-model/x") is None
    assert is_weak(floor - 1e-4, floor) and not is_weak(floor, floor) and not is_weak(-1.0, None)


def test_copies_are_strong_and_a_library_without_the_picture_has_no_strong_hit(encoder, tmp_path):
    floor = relevance_floor(encoder.model_id)
    gallery = sorted((SAMPLES / "gallery").iterdir())
    edits = {}
    for name in ("chelsea.jpg", "rocket.jpg", "astronaut.jpg"):
        with Image.open(SAMPLES / "gallery" / name) as im:
            im = im.convert("RGB")
        w, h = im.size
        small = tmp_path / f"half-q60-{name}"
        im.resize((w // 2, h // 2)).save(small, quality=60)
        crop = tmp_path / f"crop-mirror-{name}"
        ImageOps.mirror(im.crop((w // 50, h // 50, w - w // 50, h - h // 50))).save(crop, quality=90)
        edits[small], edits[crop] = name, name
    edits[SAMPLES / "queries" / "cat-crop.jpg"] = "chelsea.jpg"
    edits[SAMPLES / "queries" / "coffee-flipped.jpg"] = "coffee.jpg"
    vecs, ok, errors = encode_paths([*gallery, *edits], encoder=encoder)
    assert not errors
    g, q = vecs[: len(gallery)], vecs[len(gallery):]
    names = [p.name for p in gallery]
    scores = q @ g.T
    for (path, source), row in zip(edits.items(), scores):
        assert names[int(row.argmax())] == source, path
        assert not is_weak(float(row.max()), floor), (path.name, float(row.max()), floor)
    # leave one out: each gallery picture as a query against the others, none of which shows it
    within = g @ g.T
    np.fill_diagonal(within, -1.0)
    strong = [(names[i], names[int(r.argmax())], float(r.max())) for i, r in enumerate(within) if not is_weak(float(r.max()), floor)]
    assert not strong, strong
