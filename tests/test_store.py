"""Catalog and index consistency: kill -9 mid-run, resume, atomic index files, schema version."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageOps

from conftest import run_cli
from pixseek.errors import CatalogError
from pixseek.index import create_index, load_index
from pixseek.store import SCHEMA_VERSION, Catalog

pytestmark = pytest.mark.integration


def many_images(folder, gallery, copies=8):
    """Real photos, made distinct: each gallery image in several crops/flips/sizes."""
    folder.mkdir()
    n = 0
    for src in sorted(gallery.iterdir()):
        im = Image.open(src).convert("RGB")
        w, h = im.size
        for i in range(copies):
            v = im.crop((i * 3, i * 2, w - i * 2, h - i * 3))
            v = ImageOps.mirror(v) if i % 2 else v
            v.save(folder / f"{src.stem}-{i}.jpg", quality=70 + i)
            n += 1
    return n


def count(db, table):
    with sqlite3.connect(db) as con:
        return con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


@pytest.mark.parametrize(("fault", "batches"), [
    ("ingest.after_catalog:3", 3),  # 3 batches in the catalog, the 3rd not yet in the index
    ("ingest.after_index:3", 3),    # 3 batches in catalog + in-memory index, nothing saved
    ("save.after_index_file", None),  # all in the catalog, index file written, its metadata not
])
def test_kill_9_during_index_then_resume(tmp_path, gallery, fault, batches):
    """The indexer is SIGKILLed at a named point (PIXSEEK_FAULT, pixseek/faults.py) -- the same as a
    `kill -9` there, on any machine speed; the next run keeps every committed batch and adds the rest."""
    folder = tmp_path / "photos"
    n = many_images(folder, gallery, copies=3)
    db = tmp_path / "lib.db"
    cmd = [sys.executable, "-c", "from pixseek.cli import main; main()", "index", str(folder), "--db", str(db),
           "--batch-size", "4"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "PIXSEEK_FAULT": fault})
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr[-2000:])
    committed = count(db, "vectors")
    assert committed == (n if batches is None else 4 * batches)
    assert count(db, "files") == committed  # batches are all-or-nothing
    out = json.loads(run_cli("index", folder, "--db", db, "--json").stdout)
    assert out["unchanged"] == committed and out["added"] == n - committed
    info = json.loads(run_cli("info", "--db", db, "--json").stdout)
    assert info["files"] == info["vectors"] == info["index_ntotal"] == n
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(DISTINCT path) FROM files").fetchone()[0] == n
    res = json.loads(run_cli("search", folder / "coffee-2.jpg", "--db", db, "-k", "1", "--json").stdout)
    assert res["results"][0]["hits"][0]["path"].endswith("coffee-2.jpg")


def test_stale_index_is_rebuilt_from_catalog(tmp_path, gallery):
    db = tmp_path / "lib.db"
    run_cli("index", gallery, "--db", db)
    # simulate a crash after the catalog commit but before the index was saved
    meta = json.loads((tmp_path / "lib.db.index.json").read_text())
    meta["generation"] -= 1
    (tmp_path / "lib.db.index.json").write_text(json.dumps(meta))
    os.remove(tmp_path / "lib.db.index")
    res = json.loads(run_cli("search", gallery / "moon.jpg", "--db", db, "-k", "1", "--json").stdout)
    assert res["results"][0]["hits"][0]["path"].endswith("moon.jpg")


def test_schema_version_and_foreign_catalog(tmp_path):
    cat = Catalog(tmp_path / "a.db")
    assert cat.schema_version == SCHEMA_VERSION
    cat.close()
    with sqlite3.connect(tmp_path / "a.db") as con:
        con.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(CatalogError, match="newer"):
        Catalog(tmp_path / "a.db")
    (tmp_path / "junk.db").write_bytes(b"definitely not sqlite" * 100)
    with pytest.raises(CatalogError, match="junk.db"):
        Catalog(tmp_path / "junk.db")


def test_flat_index_contract_and_atomic_save(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 64)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = np.arange(1000, 1500)
    index = create_index("flat", 64)
    index.add(x, ids)
    scores, found = index.search(x[:10], 3)
    assert (found[:, 0] == ids[:10]).all()
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)
    assert index.remove(ids[:5]) == 5 and index.ntotal == 495
    assert not np.isin(index.search(x[:5], 3)[1], ids[:5]).any()
    index.save(tmp_path / "x.index")
    assert [p.name for p in tmp_path.iterdir()] == ["x.index"]  # no temporary left behind
    again = load_index(tmp_path / "x.index", "flat")
    np.testing.assert_array_equal(again.search(x[10:20], 3)[1], index.search(x[10:20], 3)[1])
