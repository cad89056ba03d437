"""End to end through the real CLI: index -> search, incremental re-index, JSON, contact sheet,
embed, eval, tags, bad input, model mismatch."""
from __future__ import annotations

import json
import os
import shutil
import time

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from conftest import run_cli
from hostile import hostile_corpus

pytestmark = pytest.mark.integration


def edited_copy(src, dst):
    """Crop, rotate, desaturate and re-encode at low quality."""
    im = Image.open(src).convert("RGB")
    w, h = im.size
    im = im.crop((int(w * .12), int(h * .1), int(w * .85), int(h * .9))).rotate(10, fillcolor=(255, 255, 255))
    ImageEnhance.Color(im).enhance(0.5).save(dst, quality=35)
    return dst


def test_index_then_search_finds_the_source(tmp_path, gallery_copy):
    db = tmp_path / "lib.db"
    out = json.loads(run_cli("index", gallery_copy, "--db", db, "--json").stdout)
    assert out["added"] == 22 and out["errors"] == [] and out["total"] == 22
    q1 = edited_copy(gallery_copy / "chelsea.jpg", tmp_path / "q-cat.jpg")
    q2 = edited_copy(gallery_copy / "rocket.jpg", tmp_path / "q-rocket.jpg")
    sheet = tmp_path / "hits.png"
    res = json.loads(run_cli("search", q1, q2, "--db", db, "-k", "5", "--json", "--sheet", sheet).stdout)
    assert [r["query"] for r in res["results"]] == [str(q1), str(q2)]
    top = [os.path.basename(r["hits"][0]["path"]) for r in res["results"]]
    assert top == ["chelsea.jpg", "rocket.jpg"]
    scores = [h["score"] for h in res["results"][0]["hits"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == 5
    im = Image.open(sheet)
    assert im.size[0] > 5 * 160 and im.size[1] >= 2 * 160
    # --list and plain text output
    (tmp_path / "q.txt").write_text(f"{q1}\n")
    text = run_cli("search", "--list", tmp_path / "q.txt", "--db", db, "-k", "1").stdout
    assert "chelsea.jpg" in text


def test_incremental_reindex_touches_only_changes(tmp_path, gallery_copy):
    db = tmp_path / "lib.db"
    run_cli("index", gallery_copy, "--db", db)
    again = json.loads(run_cli("index", gallery_copy, "--db", db, "--json").stdout)
    assert (again["added"], again["updated"], again["unchanged"], again["removed"]) == (0, 0, 22, 0)
    # change one file's content, touch another (same bytes), add one, delete one
    Image.open(gallery_copy / "coffee.jpg").transpose(Image.Transpose.FLIP_TOP_BOTTOM).save(gallery_copy / "coffee.jpg")
    os.utime(gallery_copy / "moon.jpg", (time.time() + 5, time.time() + 5))
    shutil.copy(gallery_copy / "rocket.jpg", gallery_copy / "rocket2.jpg")
    os.remove(gallery_copy / "text.jpg")
    r = json.loads(run_cli("index", gallery_copy, "--db", db, "--json").stdout)
    assert (r["added"], r["updated"], r["removed"]) == (1, 1, 1)
    assert r["unchanged"] == 21 - 1  # 22 - coffee - text(removed) + moon(hash unchanged)
    info = json.loads(run_cli("info", "--db", db, "--json").stdout)
    assert info["files"] == info["vectors"] == info["index_ntotal"] == 22
    res = json.loads(run_cli("search", gallery_copy / "rocket.jpg", "--db", db, "-k", "2", "--json").stdout)
    top = res["results"][0]["hits"][0]  # the copy is stacked under the original's hit
    assert {os.path.basename(h["path"]) for h in [top, *top["copies"]]} == {"rocket.jpg", "rocket2.jpg"}
    res = json.loads(run_cli("search", gallery_copy / "rocket.jpg", "--db", db, "-k", "2", "--no-stack", "--json").stdout)
    assert {os.path.basename(h["path"]) for h in res["results"][0]["hits"]} == {"rocket.jpg", "rocket2.jpg"}


def test_hostile_corpus_is_reported_and_skipped(tmp_path, gallery):
    folder = tmp_path / "photos"
    expected = hostile_corpus(folder)
    for name in ("chelsea.jpg", "coffee.jpg"):
        shutil.copy(gallery / name, folder / name)
    proc = run_cli("index", folder, "--db", tmp_path / "lib.db", "--json")
    out = json.loads(proc.stdout)
    assert out["added"] == 2
    got = {os.path.basename(e["path"]): e["error"] for e in out["errors"]}
    assert got == expected
    # wide enough for the summary: at the default 80 columns a long tmp path (pytest-xdist's popen-gw1/...)
    # pushed "5 file(s) skipped" into the truncated part of the line
    human = run_cli("index", folder, "--db", tmp_path / "lib2.db", env={"COLUMNS": "400"})
    assert "5 file(s) skipped" in human.stderr and "bomb.png" in human.stderr


def test_search_with_unreadable_query_is_a_clean_error(tmp_path, gallery):
    db = tmp_path / "lib.db"
    run_cli("index", gallery / "chelsea.jpg", "--db", db)
    bad = tmp_path / "bad.jpg"
    bad.write_text("nope")
    proc = run_cli("search", bad, "--db", db, "--json", check=False)
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["errors"][0]["error"] == "not-an-image"
    assert "Traceback" not in proc.stderr


def test_model_mismatch_is_refused(tmp_path, gallery):
    db = tmp_path / "lib.db"
    run_cli("index", gallery / "chelsea.jpg", "--db", db)
    proc = run_cli("search", gallery / "coffee.jpg", "--db", db, "--model", "efficientnet_lite0_int8", check=False)
    assert proc.returncode == 2
    assert "was built with model" in proc.stderr and "Traceback" not in proc.stderr


def test_embed_and_eval_and_tags(tmp_path, gallery):
    names = ["chelsea.jpg", "coffee.jpg", "rocket.jpg"]
    lst = tmp_path / "paths.txt"
    lst.write_text("".join(f"{gallery / n}\n" for n in names) + f"{tmp_path / 'missing.jpg'}\n")
    out = tmp_path / "emb.npy"
    res = json.loads(run_cli("embed", "--list", lst, "--out", out, "--json").stdout)
    vecs = np.load(out)
    assert vecs.shape == (3, 1280) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-5)
    assert res["errors"][0]["path"].endswith("missing.jpg")
    # a labelled folder: 3 classes, each an image and its edited copies
    data = tmp_path / "labelled"
    for n in names:
        (data / n[:-4]).mkdir(parents=True)
        shutil.copy(gallery / n, data / n[:-4] / n)
        edited_copy(gallery / n, data / n[:-4] / f"edit-{n}")
        Image.open(gallery / n).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(data / n[:-4] / f"flip-{n}")
    m = json.loads(run_cli("eval", data, "--json").stdout)
    assert m["images"] == 9 and m["classes"] == 3
    assert m["map"] > 0.9 and m["recall@1"] == 1.0
    tags = json.loads(run_cli("tags", gallery / "coffee.jpg", "-k", "3", "--json").stdout)
    assert tags["results"][0]["labels"][0]["label"] == "espresso"


def test_every_command_prints_its_help():
    """Help text goes through Rich markup: a stray '[...]' in an option's help once crashed `index --help`."""
    from typer.testing import CliRunner

    from pixseek.cli import app

    names = sorted(c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands)
    assert {"index", "search", "serve", "compare", "train", "bench-index"} <= set(names)
    runner = CliRunner()
    for name in names:
        res = runner.invoke(app, [name, "--help"], env={"COLUMNS": "200"})
        assert res.exit_code == 0 and "Usage" in res.output, (name, res.output, res.exception)
