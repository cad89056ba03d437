"""The library core's invariants (issue 12/13): many writers lose nothing, damaged index files are
rebuilt, reading commands never create or modify a catalog, and the filters of the one read path."""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageOps

from conftest import GALLERY, run_cli
from pixseek import open_library
from pixseek.errors import CatalogNotFoundError, ForeignCatalogError
from pixseek.search import Filter, UnknownTagError

pytestmark = pytest.mark.system


def distinct_photos(folder, n: int, offset: int = 0) -> list[str]:
    """``n`` distinct real pictures: crops of the sample photos at different places and scales,
    some mirrored (a crop of a photo is another photo; its own file is its only exact match)."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(GALLERY.glob("*.jpg"))
    boxes = [(0, 0, .6, .6), (.4, .4, 1, 1), (0, .4, .6, 1), (.4, 0, 1, .6), (.2, .2, .8, .8), (0, 0, 1, .5),
             (0, .5, 1, 1), (.1, 0, .6, 1)]
    out = []
    for j in range(offset, offset + n):
        src, (x0, y0, x1, y1) = sources[j % len(sources)], boxes[(j // len(sources)) % len(boxes)]
        im = Image.open(src).convert("RGB")
        w, h = im.size
        im = im.crop((int(x0 * w), int(y0 * h), int(x1 * w), int(y1 * h)))
        if j % 3 == 0:
            im = ImageOps.mirror(im)
        im = im.rotate(90 * (j // (len(sources) * len(boxes))), expand=True)  # past one cycle: turned
        path = folder / f"p{j:03d}.jpg"
        im.save(path, quality=90)
        out.append(str(path))
    return out


def cli_proc(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from pixseek.cli import main; main()", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def assert_all_rank1(db, paths) -> None:
    listing = db.parent / "queries.txt"
    listing.write_text("\n".join(paths) + "\n")
    res = json.loads(run_cli("search", "--list", listing, "--db", db, "-k", "1", "--no-stack", "--json").stdout)
    tops = {r["query"]: r["hits"][0]["path"] if r["hits"] else None for r in res["results"]}
    missing = [p for p in paths if tops.get(p) != p]
    assert not missing, f"{len(missing)} of {len(paths)} images not found at rank 1: {missing[:5]}"


def test_two_concurrent_index_runs_lose_nothing(tmp_path):
    db = tmp_path / "x.db"
    every = []
    for rnd in range(2):  # two rounds: a new catalog, then one both writers already know
        a = distinct_photos(tmp_path / f"a{rnd}", 60, offset=120 * rnd)
        b = distinct_photos(tmp_path / f"b{rnd}", 60, offset=120 * rnd + 60)
        procs = [cli_proc("index", tmp_path / f"{x}{rnd}", "--db", db, "--batch-size", "4", "--json") for x in "ab"]
        for p in procs:
            stdout, stderr = p.communicate(timeout=600)
            assert p.returncode == 0, stderr
            assert json.loads(stdout)["added"] == 60
        every += a + b
        info = json.loads(run_cli("info", "--db", db, "--json").stdout)
        assert info["files"] == info["vectors"] == info["index_ntotal"] == len(every)
        assert_all_rank1(db, every)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_damaged_index_file_is_rebuilt(tmp_path, damage):
    db = tmp_path / "d.db"
    photos = distinct_photos(tmp_path / "p", 12)
    run_cli("index", tmp_path / "p", "--db", db)
    index = tmp_path / "d.db.index"
    data = index.read_bytes()
    index.write_bytes({"garbage": os.urandom(len(data)), "truncated": data[: len(data) // 3], "empty": b""}[damage])
    res = run_cli("search", photos[0], "--db", db, "-k", "1", "--json")
    assert json.loads(res.stdout)["results"][0]["hits"][0]["path"] == photos[0]
    assert "rebuilding" in res.stderr
    assert_all_rank1(db, photos)
    run_cli("index", tmp_path / "p", "--db", db)  # a writer saves a good index again
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))
    assert "rebuilding" not in run_cli("search", photos[1], "--db", db, "-k", "1").stderr


def said(proc) -> str:
    """stderr with Rich's line wrapping undone."""
    return " ".join(proc.stderr.split())


def md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_foreign_sqlite_file_is_refused_and_unchanged(tmp_path):
    foreign = tmp_path / "notes.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    con.execute("INSERT INTO notes(body) VALUES ('keep me')")
    con.commit()
    con.close()
    before = md5(foreign)
    photo = GALLERY / "chelsea.jpg"
    for args in (("search", photo), ("info",), ("index", GALLERY)):
        proc = run_cli(*args, "--db", foreign, check=False)
        assert proc.returncode == 2, proc.stderr
        assert "not a pixseek catalog" in said(proc)
        assert md5(foreign) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]
    with pytest.raises(ForeignCatalogError):
        open_library(foreign)


def test_reading_commands_never_create_a_catalog(tmp_path):
    missing = tmp_path / "typo.db"
    for args in (("search", GALLERY / "chelsea.jpg"), ("info",), ("search", "--text", "cat")):
        proc = run_cli(*args, "--db", missing, check=False)
        assert proc.returncode == 2 and "no such catalog" in said(proc), proc.stderr
    assert not list(tmp_path.iterdir())
    with pytest.raises(CatalogNotFoundError):
        open_library(missing, readonly=True)


def test_cli_errors_for_bad_k_unknown_tag_and_folder_query(tmp_path):
    db = tmp_path / "g.db"
    run_cli("index", GALLERY, "--db", db)
    for k in ("0", "-1"):
        proc = run_cli("search", GALLERY / "chelsea.jpg", "--db", db, "-k", k, check=False)
        assert proc.returncode == 2 and "at least 1" in said(proc)
    proc = run_cli("search", GALLERY / "chelsea.jpg", "--db", db, "--tag", "unicorn", check=False)
    assert proc.returncode == 2 and "unicorn" in said(proc)
    proc = run_cli("search", GALLERY, "--db", db, "--json", check=False)
    assert json.loads(proc.stdout)["errors"][0]["error"] == "not-a-file"


def test_filters_select_in_sql(tmp_path):
    photos = distinct_photos(tmp_path / "top" / "a", 8) + distinct_photos(tmp_path / "top" / "b", 8, offset=8)
    with open_library(tmp_path / "f.db") as lib:
        lib.ingest(tmp_path / "top")
        q = lib.embed([photos[0]])
        under_b = lib.query(q, 20, Filter.build(folder=str(tmp_path / "top" / "b")), stack=False)[0]
        assert {os.path.dirname(h.path) for h in under_b} == {str(tmp_path / "top" / "b")} and len(under_b) == 8
        not_b = lib.query(q, 20, Filter.build(not_folders=[str(tmp_path / "top" / "b")]), stack=False)[0]
        assert len(not_b) == 8 and not_b[0].path == photos[0]
        assert lib.query(q, 5, Filter(kind="video"))[0] == []
        with pytest.raises(UnknownTagError):
            lib.query(q, 5, Filter(tags=("unicorn",)))
        # a tag filter keeps exactly the images stored with a matching label
        top_label = lib.top_labels(lib.vector_ids_of(photos[0])[0], 1)[0][0]
        tagged = lib.query(q, 20, Filter(tags=(top_label,)), stack=False)[0]
        ids = set(lib.item_ids(Filter(tags=(top_label,))).tolist())
        assert {h.id for h in tagged} == ids
        exclude = lib.query_items(lib.vector_ids_of(photos[0]), 3, stack=False)[0]
        assert photos[0] not in {h.path for h in exclude}
        assert np.isclose(lib.query(q, 1)[0][0].score, 1.0, atol=1e-4)


def test_true_sizes_and_exif_metadata_are_stored_and_filter(tmp_path):
    from datetime import date

    folder = tmp_path / "m"
    folder.mkdir()
    big = Image.open(GALLERY / "coffee.jpg").convert("RGB").resize((4224, 3168))
    exif = Image.Exif()
    exif[0x0112] = 6  # turned: stored as 3168 x 4224
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS 5D"
    exif.get_ifd(0x8769)[0x9003] = "2019:07:04 12:00:00"
    big.save(folder / "big.jpg", exif=exif, quality=85)
    Image.open(GALLERY / "chelsea.jpg").convert("RGB").resize((1000, 750)).save(folder / "small.png")
    with open_library(tmp_path / "m.db") as lib:
        lib.ingest(folder)
        rows = {os.path.basename(r.path): r for r in lib.items()}
        assert (rows["big.jpg"].width, rows["big.jpg"].height) == (3168, 4224)  # not the draft decode's size
        assert (rows["small.png"].width, rows["small.png"].height) == (1000, 750)
        assert rows["big.jpg"].camera == "Canon EOS 5D"
        q = lib.vectors(lib.item_ids())
        july = lib.query(q[:1], 5, Filter(since=date(2019, 7, 1), until=date(2019, 7, 31)), stack=False)[0]
        assert [os.path.basename(h.path) for h in july] == ["big.jpg"]
        assert [os.path.basename(h.path) for h in lib.query(q[:1], 5, Filter(camera="eos"), stack=False)[0]] == ["big.jpg"]


@pytest.mark.parametrize("point", ["atomic.before_replace", "ingest.after_catalog:2", "save.after_index_file"])
def test_killed_writer_loses_nothing_and_leaves_no_temporaries(tmp_path, point):
    """A writer killed (SIGKILL, by a fault-injection point) mid-save or between catalog and index:
    the next run finds every committed image and removes the half-written temporaries."""
    photos = distinct_photos(tmp_path / "p", 16)
    db = tmp_path / "k.db"
    killed = run_cli("index", tmp_path / "p", "--db", db, "--batch-size", "4", check=False,
                     env={"PIXSEEK_FAULT": point})
    assert killed.returncode == -9, killed.stderr
    run_cli("index", tmp_path / "p", "--db", db, "--batch-size", "4")
    assert_all_rank1(db, photos)
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_uploads_through_the_server_while_pixseek_index_runs(tmp_path):
    """Two writers of different kinds on one catalog: a server taking uploads (its write thread) and
    a `pixseek index` process. Every uploaded and every indexed image is found at rank 1, through the
    running server (which replays the other writer's commits) and through a fresh CLI."""
    import httpx

    from api_fixtures import API_KEY, live_server
    from pixseek.api import ApiSettings

    db = tmp_path / "u.db"
    seed = distinct_photos(tmp_path / "seed", 4, offset=200)
    uploads = distinct_photos(tmp_path / "up", 24, offset=100)
    folder = distinct_photos(tmp_path / "idx", 40)
    with open_library(db) as lib:
        lib.ingest(tmp_path / "seed")
        with live_server(lib, ApiSettings(api_key=API_KEY)) as base:
            proc = cli_proc("index", tmp_path / "idx", "--db", db, "--batch-size", "4")
            with httpx.Client(base_url=base, timeout=300, headers={"X-API-Key": API_KEY}) as c:
                stored = []
                for p in uploads:
                    with open(p, "rb") as fh:
                        r = c.post("/api/items", files=[("files", (os.path.basename(p), fh, "image/jpeg"))])
                    assert r.status_code == 200, r.text
                    stored += [it["path"] for it in r.json()["items"]]
                _, err = proc.communicate(timeout=600)
                assert proc.returncode == 0, err
                assert len(stored) == len(uploads)
                for p in [*stored[::3], *folder[::5], *seed]:
                    with open(p, "rb") as fh:
                        r = c.post("/api/search/image", files={"file": ("q.jpg", fh, "image/jpeg")},
                                   params={"k": 1, "stack": "false"})
                    assert r.json()["hits"][0]["path"] == p
                assert c.get("/readyz").status_code == 200
    info = json.loads(run_cli("info", "--db", db, "--json").stdout)
    assert info["files"] == info["vectors"] == info["index_ntotal"] == len(seed) + len(uploads) + len(folder)
    assert_all_rank1(db, [*seed, *stored, *folder])
