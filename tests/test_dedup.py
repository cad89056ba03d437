"""Dedup a person can act on: true-resolution keeper, tiers, near-empty graphics, --against, the cache.
Real gallery photos, edits made here, the real model and the real CLI."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

from conftest import GALLERY, run_cli

pytestmark = pytest.mark.integration


def names(groups) -> list[list[str]]:
    return sorted(sorted(Path(p).name for p in g["paths"]) for g in groups)


def test_keeper_is_the_largest_true_resolution(tmp_path):
    """A 4000-px original is kept over a 1000-px PNG and a 1600-px q60 copy of it (the catalog's own
    width/height come from a reduced JPEG decode; the keeper reads the file headers)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    src = Image.open(GALLERY / "chelsea.jpg").convert("RGB")
    big = src.resize((4000, round(4000 * src.height / src.width)), Image.Resampling.LANCZOS)
    big.save(folder / "a-original.jpg", quality=90)
    big.resize((1000, round(1000 * big.height / big.width))).save(folder / "b-copy.png")
    big.resize((1600, round(1600 * big.height / big.width))).save(folder / "c-copy.jpg", quality=60)
    for other in ("astronaut", "coffee", "rocket"):
        shutil.copy(GALLERY / f"{other}.jpg", folder)
    res = json.loads(run_cli("dedup", folder, "--json").stdout)
    assert names(res["groups"]) == [["a-original.jpg", "b-copy.png", "c-copy.jpg"]]
    g = res["groups"][0]
    assert Path(g["best"]).name == "a-original.jpg"
    assert g["sizes"][g["best"]] == [4000, big.height]
    moved = tmp_path / "moved"
    run_cli("dedup", folder, "--json", "--move-to", moved)
    assert sorted(p.name for p in moved.iterdir()) == ["b-copy.png", "c-copy.jpg"]
    assert (folder / "a-original.jpg").exists()


def test_exif_rotated_size_is_upright(tmp_path):
    from pixseek.compare.dedup import true_size

    im = Image.open(GALLERY / "coffee.jpg").convert("RGB")  # 600 x 400
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 on display
    im.save(tmp_path / "r.jpg", exif=exif)
    assert true_size(tmp_path / "r.jpg") == (im.height, im.width)
    assert true_size(GALLERY / "coffee.jpg") == im.size


def test_tiers_exact_copy_variant(tmp_path):
    """Same picture re-encoded -> exact; resized + recompressed -> edited copy; greyscale / other colours /
    a crop -> variant, grouped only with --include-variants."""
    folder = tmp_path / "photos"
    folder.mkdir()
    src = Image.open(GALLERY / "astronaut.jpg").convert("RGB")
    src.save(folder / "astro.jpg", quality=95)
    src.save(folder / "astro-reencoded.jpg", quality=85)
    src.resize((src.width * 3 // 5, src.height * 3 // 5)).save(folder / "astro-small.jpg", quality=50)
    ImageOps.grayscale(src).save(folder / "astro-grey.jpg", quality=90)
    hsv = src.convert("HSV")
    h, s, v = hsv.split()
    Image.merge("HSV", (h.point(lambda x: (x + 90) % 256), s, v)).convert("RGB").save(folder / "astro-hue.jpg")
    for other in ("chelsea", "coffee", "rocket", "camera", "moon"):
        shutil.copy(GALLERY / f"{other}.jpg", folder)
    res = json.loads(run_cli("dedup", folder, "--json").stdout)
    assert names(res["groups"]) == [["astro-reencoded.jpg", "astro-small.jpg", "astro.jpg"]]
    assert res["groups"][0]["tier"] == "copy"
    assert Path(res["groups"][0]["best"]).name == "astro.jpg"  # same resolution: the larger (less compressed) file
    res = json.loads(run_cli("dedup", folder, "--json", "--include-variants").stdout)
    grouped = {n for g in names(res["groups"]) for n in g}
    assert {"astro-grey.jpg", "astro-hue.jpg"} <= grouped
    assert [g["tier"] for g in res["groups"]] == ["variant"]


def _sparse(size: int, seed: int) -> Image.Image:
    """A mostly transparent graphic: a few small shapes on a transparent canvas."""
    im = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    for j in range(3):
        x, y = 20 + (seed * 37 + j * 53) % (size - 60), 20 + (seed * 71 + j * 29) % (size - 60)
        d.ellipse((x, y, x + 12, y + 12), fill=(40 * seed % 255, 20, 200, 255))
    return im


def test_near_empty_graphics_are_not_grouped_unless_byte_identical(tmp_path):
    folder = tmp_path / "graphics"
    folder.mkdir()
    for i in range(5):
        _sparse(256, i).save(folder / f"dots-{i}.png")
    for i, colour in enumerate([(250, 250, 250), (245, 245, 248), (255, 255, 255)]):
        Image.new("RGB", (300, 200), colour).save(folder / f"flat-{i}.png")
    shutil.copy(folder / "flat-0.png", folder / "flat-0-copy.png")
    shutil.copy(GALLERY / "logo.png", folder)
    shutil.copy(GALLERY / "coffee.jpg", folder)
    res = json.loads(run_cli("dedup", folder, "--json", "--include-variants").stdout)
    assert names(res["groups"]) == [["flat-0-copy.png", "flat-0.png"]]
    assert res["groups"][0]["tier"] == "exact"


def test_against_lists_files_that_already_exist_elsewhere(tmp_path):
    a, b = tmp_path / "new", tmp_path / "archive"
    a.mkdir()
    b.mkdir()
    for n in ("chelsea", "coffee", "rocket"):
        shutil.copy(GALLERY / f"{n}.jpg", b)
    Image.open(GALLERY / "chelsea.jpg").convert("RGB").resize((300, 225)).save(a / "cat.jpg", quality=70)
    Image.open(GALLERY / "rocket.jpg").convert("RGB").save(a / "rocket.png")
    shutil.copy(GALLERY / "astronaut.jpg", a)
    shutil.copy(GALLERY / "camera.jpg", a)
    shutil.copy(GALLERY / "camera.jpg", a / "camera-again.jpg")  # a duplicate inside A only: not reported
    res = json.loads(run_cli("dedup", a, "--against", b, "--json").stdout)
    assert names(res["groups"]) == [["cat.jpg", "chelsea.jpg"], ["rocket.jpg", "rocket.png"]]
    moved = tmp_path / "moved"
    run_cli("dedup", a, "--against", b, "--json", "--move-to", moved)
    assert sorted(p.name for p in moved.iterdir()) == ["cat.jpg"]  # rocket.png: same size, lossless -> kept
    assert sorted(p.name for p in b.iterdir()) == ["chelsea.jpg", "coffee.jpg", "rocket.jpg"]


def test_cache_answers_unchanged_catalogs_and_recomputes_only_new_pairs(tmp_path):
    from pixseek.compare.dedup import cached_groups, pairs_path
    from pixseek.search import open_library

    folder = tmp_path / "photos"
    folder.mkdir()
    for n in ("astronaut", "chelsea", "camera", "coffee"):
        shutil.copy(GALLERY / f"{n}.jpg", folder)
    ImageEnhance.Brightness(Image.open(GALLERY / "camera.jpg").convert("RGB")).enhance(1.02).save(
        folder / "camera-q40.jpg", quality=40)
    with open_library(tmp_path / "lib.db", regions=True) as lib:
        lib.add(folder)
        first = [sorted(Path(p).name for p in g.paths) for g in cached_groups(lib)]
        assert first == [["camera-q40.jpg", "camera.jpg"]]
        side = pairs_path(lib)
        data = json.loads(side.read_text())
        # unchanged catalog: answered from the sidecar (a file gone behind the catalog's back is still listed)
        (folder / "camera-q40.jpg").rename(tmp_path / "away.jpg")
        assert [sorted(Path(p).name for p in g.paths) for g in cached_groups(lib)] == first
        (tmp_path / "away.jpg").rename(folder / "camera-q40.jpg")
        # mark the cached camera pair as dissimilar: if old pairs were recomputed, the group would come back
        cam = [k for k in data["pairs"] if data["pairs"][k][0] >= 0.78]
        assert len(cam) == 1
        data["pairs"][cam[0]][0] = 0.0
        side.write_text(json.dumps(data))
        Image.open(GALLERY / "chelsea.jpg").convert("RGB").resize((300, 225)).save(folder / "cat-small.jpg")
        lib.add(folder)
        after = [sorted(Path(p).name for p in g.paths) for g in cached_groups(lib)]
        assert after == [["cat-small.jpg", "chelsea.jpg"]]


def test_duplicates_tab_api_marks_the_keeper_and_moves_the_others(tmp_path):
    """GET /api/duplicates answers tier + keeper from the dedup cache; POST /api/duplicates/move (with
    the API key) moves the other copies into <db>.moved/ and drops them from the library."""
    from fastapi.testclient import TestClient

    from pixseek import open_library
    from pixseek.api import ApiSettings, create_app

    folder = tmp_path / "photos"
    folder.mkdir()
    big = Image.open(GALLERY / "chelsea.jpg").convert("RGB").resize((1600, 1200))
    big.save(folder / "chelsea.jpg", quality=92)
    big.resize((400, 300)).save(folder / "chelsea-small.png")
    shutil.copy(GALLERY / "coffee.jpg", folder / "coffee.jpg")
    with open_library(tmp_path / "d.db") as lib:
        lib.ingest(folder)
        with TestClient(create_app(lib, ApiSettings(api_key="k" * 20))) as c:
            groups = c.get("/api/duplicates").json()["groups"]
            assert len(groups) == 1
            g = groups[0]
            keeper = next(i for i in g["items"] if i["id"] == g["keeper"])
            assert keeper["name"] == "chelsea.jpg" and (keeper["width"], keeper["height"]) == (1600, 1200)
            others = [i["id"] for i in g["items"] if i["id"] != g["keeper"]]
            assert c.post("/api/duplicates/move", json={"keep": g["keeper"], "move": others}).status_code == 401
            r = c.post("/api/duplicates/move", json={"keep": g["keeper"], "move": others}, headers={"X-API-Key": "k" * 20})
            assert r.status_code == 200, r.text
            assert (tmp_path / "d.db.moved" / "chelsea-small.png").exists()
            assert not (folder / "chelsea-small.png").exists() and (folder / "chelsea.jpg").exists()
            assert sorted(os.path.basename(x.path) for x in lib.items()) == ["chelsea.jpg", "coffee.jpg"]
            assert c.post("/api/duplicates/move", json={"keep": g["keeper"], "move": [g["keeper"]]},
                          headers={"X-API-Key": "k" * 20}).status_code == 400
