"""Compare, copy search, dedup and explain on real photos with real edits, the real model and the real CLI."""
from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageFilter, ImageOps

from conftest import GALLERY, run_cli

pytestmark = pytest.mark.integration


def jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def crop(im: Image.Image, box: tuple[float, float, float, float]) -> Image.Image:
    w, h = im.size
    return im.crop((int(box[0] * w), int(box[1] * h), int(box[2] * w), int(box[3] * h)))


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("lib") / "lib.db"
    run_cli("index", GALLERY, "--db", db)
    return db


def region_rows(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(db) as con:
        return con.execute("SELECT COUNT(*) FROM regions").fetchone()[0]


@pytest.mark.parametrize("at_index", [False, True], ids=["regions-on-first-use", "index-regions"])
def test_cropped_rotated_jpeg_copy_is_top_hit_in_copy_mode(indexed, tmp_path, at_index):
    """Plain `index` stores no regions (fast indexing); `search --copies` describes its candidates on
    first use and keeps them. `index --regions` describes every image while indexing."""
    db = indexed
    if at_index:
        db = tmp_path / "regions.db"
        run_cli("index", GALLERY, "--db", db, "--regions")
        assert region_rows(db) == 22
    src = Image.open(GALLERY / "coffee.jpg")
    edited = jpeg(crop(src, (0.3, 0.2, 0.9, 0.85)).rotate(15, Image.Resampling.BILINEAR, expand=True), 20)
    query = tmp_path / "coffee-edited.jpg"
    edited.save(query)
    res = json.loads(run_cli("search", query, "--db", db, "--copies", "-k", "3", "--json").stdout)
    hits = res["results"][0]["hits"]
    assert Path(hits[0]["path"]).name == "coffee.jpg"
    assert hits[0]["score"] > hits[1]["score"]
    # with --regions all 22 are stored; without, they are described on first use only if the cascade needed
    # regions for this query (all 22 gallery photos are candidates of the 100-hit shortlist; see the batch test)
    assert region_rows(db) == 22 if at_index else region_rows(db) in (0, 22)


def test_compare_calls_an_edited_copy_a_near_duplicate_and_different_photos_not(tmp_path):
    src = Image.open(GALLERY / "astronaut.jpg")
    copy = tmp_path / "copy.jpg"
    jpeg(ImageOps.mirror(crop(src, (0.1, 0.1, 0.9, 0.95))), 30).save(copy)
    same = json.loads(run_cli("compare", GALLERY / "astronaut.jpg", copy, "--json").stdout)
    assert same["verdict"] in ("near-duplicate", "identical")
    for other in ("chelsea.jpg", "rocket.jpg", "coffee.jpg"):
        diff = json.loads(run_cli("compare", GALLERY / "astronaut.jpg", GALLERY / other, "--json").stdout)
        assert diff["verdict"] in ("similar", "different"), (other, diff)
        assert diff["similarity"] < same["similarity"]


def test_dedup_returns_exactly_the_planted_groups(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("astronaut", "chelsea", "coffee", "rocket", "camera", "moon", "brick", "hubble_deep_field"):
        shutil.copy(GALLERY / f"{name}.jpg", folder)
    chelsea, rocket = Image.open(GALLERY / "chelsea.jpg"), Image.open(GALLERY / "rocket.jpg")
    chelsea.resize((chelsea.width // 2, chelsea.height // 2)).save(folder / "chelsea-small.jpg", quality=40)
    crop(chelsea, (0.05, 0.0, 0.9, 0.9)).save(folder / "chelsea-crop.jpg", quality=80)
    ImageOps.grayscale(rocket).save(folder / "rocket-grey.jpg", quality=85)
    moved = tmp_path / "moved"
    # by default only exact and edited copies; the crop and the greyscale copy are variants
    res = json.loads(run_cli("dedup", folder, "--json").stdout)
    assert sorted(sorted(Path(p).name for p in g["paths"]) for g in res["groups"]) == [["chelsea-small.jpg", "chelsea.jpg"]]
    res = json.loads(run_cli("dedup", folder, "--json", "--include-variants", "--html", tmp_path / "d.html").stdout)
    groups = sorted(sorted(Path(p).name for p in g["paths"]) for g in res["groups"])
    assert groups == [["chelsea-crop.jpg", "chelsea-small.jpg", "chelsea.jpg"], ["rocket-grey.jpg", "rocket.jpg"]]
    assert {Path(g["best"]).name for g in res["groups"]} == {"chelsea.jpg", "rocket.jpg"}
    assert {g["tier"] for g in res["groups"]} == {"variant"}
    assert len(list(folder.iterdir())) == 11 and "chelsea-crop.jpg" in (tmp_path / "d.html").read_text()
    res = json.loads(run_cli("dedup", folder, "--json", "--include-variants", "--move-to", moved).stdout)
    assert sorted(p.name for p in moved.iterdir()) == ["chelsea-crop.jpg", "chelsea-small.jpg", "rocket-grey.jpg"]
    assert (folder / "chelsea.jpg").exists() and (folder / "rocket.jpg").exists()


def test_explain_boxes_lie_on_the_shared_content(tmp_path):
    src = Image.open(GALLERY / "coffee.jpg")
    shared = (0.45, 0.0, 1.0, 1.0)  # b is the right part of a
    b = tmp_path / "b.jpg"
    jpeg(crop(src, shared), 50).save(b)
    out = tmp_path / "m.png"
    res = json.loads(run_cli("explain", GALLERY / "coffee.jpg", b, "--out", out, "--json").stdout)
    assert Image.open(out).format == "PNG"
    top = res["matches"][:3]
    assert len(top) == 3
    for m in top:
        x0, y0, x1, y1 = m["box_a"]
        assert (x0 + x1) / 2 >= shared[0], m  # the matched region of a sits inside the part b was cut from


def test_api_seams_give_a_verdict_and_duplicate_groups(tmp_path):
    from pixseek.api.backends import compare_backend, duplicates_backend
    from pixseek import open_library

    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("astronaut", "chelsea", "camera"):
        shutil.copy(GALLERY / f"{name}.jpg", folder)
    camera = Image.open(GALLERY / "camera.jpg")
    jpeg(camera, 20).save(folder / "camera-q20.jpg")
    with open_library(tmp_path / "lib.db") as lib:
        lib.add(folder)
        compare = compare_backend(lib)
        result = compare(Image.open(folder / "camera.jpg"), Image.open(folder / "camera-q20.jpg"))
        assert result.verdict in ("identical", "near-duplicate") and 0 <= result.similarity <= 1
        groups = duplicates_backend(lib)()
        paths = [sorted(Path(r.path).name for r in lib.items(ids)) for ids, *_ in groups]
        assert paths == [["camera-q20.jpg", "camera.jpg"]]
        (_, _, tier, keeper), = groups  # the seam also says the tier and the copy to keep
        assert tier in ("exact", "copy") and Path(keeper).name == "camera.jpg"


def test_shipped_projection_scores_like_projecting_first_and_ranks_the_copy_first(tmp_path):
    """The copy-detection projection ships for the default model; copy_scores with it equals scoring
    descriptors projected beforehand (reference), and an edited copy still outscores other photos."""
    import numpy as np

    from pixseek.compare.copies import CopyConfig, copy_scores
    from pixseek.compare.projection import load_projection
    from pixseek.compare.regions import describe_query
    from pixseek import open_library

    with open_library(tmp_path / "lib.db") as lib:
        proj = load_projection(lib.model_id)
        assert proj is not None and proj.matrix.shape == (lib.dim, 256)
        names = ("astronaut", "chelsea", "coffee", "rocket")
        ims = [Image.open(GALLERY / f"{n}.jpg").convert("RGB") for n in names]
        query = jpeg(ImageOps.grayscale(crop(ims[2], (0.1, 0.2, 0.8, 0.9)).resize((200, 150))).convert("RGB"), 20)
        vecs = lib.encoder.encode_images(ims + [query])
        refs = {i: describe_query(lib.encoder, im)[0] for i, im in enumerate(ims)}
        q = describe_query(lib.encoder, query)
        cfg = CopyConfig()
        got = copy_scores(q, vecs[-1], refs, dict(enumerate(vecs[:-1])), cfg, proj)
        want = copy_scores([proj.regions(r) for r in q], proj.vectors(vecs[-1]),
                           {i: proj.regions(r) for i, r in refs.items()},
                           {i: proj.vectors(v) for i, v in enumerate(vecs[:-1])}, cfg)
        assert got.keys() == want.keys() and np.allclose([got[i] for i in got], [want[i] for i in got], atol=1e-5)
        assert max(got, key=got.get) == 2
        assert np.allclose(np.linalg.norm(proj.vectors(refs[0].feats), axis=1), 1.0, atol=1e-4)


def test_copy_search_batches_queries_and_the_cascade_only_pays_when_ambiguous(tmp_path):
    """copy_search over many queries at once: an unedited resize stops at the global stage, a heavy edit
    goes on to regions; the cascade's top-1 equals running every stage; the CLI's --list gives the same."""
    from pixseek.compare.copies import CascadeStats, CopyConfig, copy_search
    from pixseek.search import open_library

    edits = {
        "coffee-small.jpg": lambda im: im.resize((im.width // 2, im.height // 2)),
        "coffee-heavy.jpg": lambda im: jpeg(ImageOps.mirror(crop(im, (0.35, 0.25, 0.85, 0.8))).rotate(
            12, Image.Resampling.BILINEAR, expand=True), 20),
        "rocket-grey.jpg": lambda im: ImageOps.grayscale(crop(im, (0.1, 0.1, 0.9, 0.9))).convert("RGB"),
        # a plain search misses this one (its top hit is another photo): the cascade must go on to regions
        "chelsea-heavy.jpg": lambda im: jpeg(ImageOps.mirror(crop(im, (0.3, 0.3, 0.7, 0.7))).rotate(
            15, Image.Resampling.BILINEAR, expand=True).filter(ImageFilter.GaussianBlur(2)), 15),
    }
    queries = []
    for name, edit in edits.items():
        edit(Image.open(GALLERY / (name.split("-")[0] + ".jpg")).convert("RGB")).save(tmp_path / name)
        queries.append(tmp_path / name)
    with open_library(tmp_path / "lib.db") as lib:  # no regions at indexing: described on first use
        lib.add(GALLERY)
        assert Path(lib.search([queries[-1]], 1)[0][0].path).name != "chelsea.jpg"
        stats = CascadeStats()
        hits = copy_search(lib, queries, k=3, stats=stats)
        described = region_rows(tmp_path / "lib.db")
        full = copy_search(lib, queries, k=3, cfg=CopyConfig(cascade=False))
    assert described == 22  # the ambiguous query's candidates (the whole gallery), described once and kept
    tops = [Path(h[0].path).name for h in hits]
    assert tops == ["coffee.jpg", "coffee.jpg", "rocket.jpg", "chelsea.jpg"]
    assert [Path(h[0].path).name for h in full] == tops
    assert sum(stats.stopped.values()) == 4 and stats.stopped["global"] >= 1
    assert stats.stopped["global"] < 4  # the heavy edit is not decided on the global vector alone
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{q}\n" for q in queries))
    res = json.loads(run_cli("search", "--list", listing, "--db", tmp_path / "lib.db", "--copies", "-k", "1",
                             "--json").stdout)
    assert [Path(r["hits"][0]["path"]).name for r in res["results"]] == tops
