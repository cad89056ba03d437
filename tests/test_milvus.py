"""The Milvus backend against a real Milvus 2.3 standalone server on loopback (one per session):
same top-k as FAISS on the same data, the full CLI over ``--backend milvus://``, and consistency
with the catalog after crashes (pixseek killed mid-indexing, writes lost between catalog and
server, the server itself killed)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageOps

from conftest import GALLERY, run_cli
from milvus_server import milvus  # noqa: F401  (session fixture)
from pixseek.backends import parse_backend
from pixseek.errors import BackendError
from pixseek.index import create_index
from pixseek import open_library
from pixseek.store.catalog import NewFile

import pixseek.backends.milvus  # noqa: F401,E402  (registers "milvus")

pytestmark = pytest.mark.system

DIM = 64


def held(lib) -> list[int]:
    return lib.index.held_ids().tolist()


def catalog_ids(lib) -> list[int]:
    return sorted(int(i) for ids, _ in lib.catalog.iter_vectors(lib.dim) for i in ids)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((30, DIM)).astype(np.float32)
    x = centres[rng.integers(0, 30, 3000)] + 0.5 * rng.standard_normal((3000, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = np.arange(3000, dtype=np.int64) * 2 + 5
    q = x[:50] + 0.02 * rng.standard_normal((50, DIM)).astype(np.float32)  # planted near-duplicates
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return x, ids, q


@pytest.fixture()
def variants(tmp_path):
    """The gallery and three edited copies of each photo: 88 small real images."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for src in sorted(GALLERY.iterdir()):
        im = Image.open(src).convert("RGB")
        w, h = im.size
        edits = [im, ImageOps.mirror(im), im.crop((w // 8, h // 8, w - w // 8, h - h // 8)), im.rotate(8)]
        for i, e in enumerate(edits):
            e.save(folder / f"{src.stem}_{i}.jpg", quality=90)
    return folder


def test_same_top_k_as_faiss(milvus, data):  # noqa: F811
    x, ids, q = data
    exact = create_index("flat", DIM)
    exact.add(x, ids)
    want_s, want = exact.search(q, 10)
    flat = create_index("milvus", DIM, uri=milvus.uri, collection="t_flat", index_type="FLAT")
    flat.add(x, ids)
    got_s, got = flat.search(q, 10)
    np.testing.assert_array_equal(got, want)  # exact on both sides: the same ids in the same order
    np.testing.assert_allclose(got_s, want_s, atol=1e-4)

    hnsw = create_index("milvus", DIM, uri=milvus.uri, collection="t_hnsw", index_type="HNSW",
                        build={"M": 16, "efConstruction": 100}, search={"ef": 64})
    faiss_hnsw = create_index("hnsw", DIM, M=16, ef_construction=100, ef_search=64)
    for index in (hnsw, faiss_hnsw):
        index.add(x, ids)
    _, m_ids = hnsw.search(q, 10)
    _, f_ids = faiss_hnsw.search(q, 10)
    assert (m_ids[:, 0] == ids[:50]).all() and (f_ids[:, 0] == ids[:50]).all()
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(m_ids, f_ids)])
    assert overlap >= 0.95, f"Milvus and FAISS HNSW top-10 agree on only {overlap:.2f}"
    assert hnsw.remove(ids[:50]) == 50 and hnsw.remove(ids[:50]) == 0  # removing twice removes nothing
    assert hnsw.ntotal == len(ids) - 50
    _, after = hnsw.search(q, 10)
    assert not set(after.ravel()) & set(ids[:50].tolist())
    hnsw.add(x[:50], ids[:50])
    hnsw.add(x[:50], ids[:50])  # upserts: writing a batch twice keeps one row per id
    assert hnsw.ntotal == len(ids)
    for index in (flat, hnsw):
        index.drop()


def test_unreachable_server_is_a_typed_error(tmp_path):
    with pytest.raises(BackendError, match="127.0.0.1:1"):
        create_index("milvus", DIM, uri="http://127.0.0.1:1", collection="nowhere")
    with pytest.raises(BackendError, match="unsupported Milvus index type"):
        parse_backend("milvus://127.0.0.1:19530?index=DISKANN_X")


def test_cli_index_search_remove_over_milvus(milvus, tmp_path, gallery_copy):  # noqa: F811
    url = f"{milvus.url}/cli_gallery?index=HNSW&M=16&efConstruction=64&ef=32"
    db, ref = tmp_path / "m.db", tmp_path / "flat.db"
    summary = json.loads(run_cli("index", gallery_copy, "--db", db, "--backend", url, "--json").stdout)
    assert summary["added"] == 22 and summary["index"] == "milvus"
    run_cli("index", gallery_copy, "--db", ref, "--json")
    query = GALLERY.parent / "queries" / "cat-crop.jpg"
    hits = json.loads(run_cli("search", query, "--db", db, "-k", "5", "--json").stdout)["results"][0]["hits"]
    want = json.loads(run_cli("search", query, "--db", ref, "-k", "5", "--json").stdout)["results"][0]["hits"]
    assert [h["path"] for h in hits] == [h["path"] for h in want]
    assert hits[0]["path"].endswith("chelsea.jpg")
    np.testing.assert_allclose([h["score"] for h in hits], [h["score"] for h in want], atol=1e-4)

    with open_library(db) as lib:  # the catalog remembers the backend; the index params reached Milvus
        assert lib.index.kind == "milvus" and lib.index.params["collection"] == "cli_gallery"
        built = lib.index._coll.indexes[0].params
        assert built["index_type"] == "HNSW" and str(built["params"]["M"]) == "16"
        assert lib.index.search_settings == {"ef": 32}
    run_cli("remove", gallery_copy / "chelsea.jpg", "--db", db)
    info = json.loads(run_cli("info", "--db", db, "--json").stdout)
    assert info["index"] == "milvus" and info["index_ntotal"] == info["vectors"] == 21
    hits = json.loads(run_cli("search", query, "--db", db, "-k", "3", "--json").stdout)["results"][0]["hits"]
    assert not any(h["path"].endswith("chelsea.jpg") for h in hits)


def test_reconciles_after_writes_lost_between_catalog_and_server(milvus, tmp_path, gallery):  # noqa: F811
    db = tmp_path / "c.db"
    with open_library(db, backend=f"{milvus.url}/lost_writes") as lib:
        lib.add(gallery)
        assert held(lib) == catalog_ids(lib)
        # a crash after the catalog committed but before Milvus heard of it: one file replaced,
        # one removed, one added, none of it sent to Milvus and nothing saved
        first, second = (p for p, _ in zip(sorted(lib.catalog.file_states()), range(2)))
        vec = lib.catalog.get_vectors(lib.catalog.vectors_for_path(first), lib.dim)
        lib.catalog.write_files([NewFile(first, 1, 1, "x" * 64, vec), NewFile("/nowhere/new.jpg", 1, 1, "y" * 64, vec)])
        lib.catalog.remove_files([second])
        assert held(lib) != catalog_ids(lib)
    with open_library(db) as lib:
        assert held(lib) == catalog_ids(lib) and lib.index.ntotal == lib.catalog.count_vectors() == 22
        # the server loses rows behind pixseek's back: the count no longer matches -> reconciled on open
        lib.index._coll.delete(f"id in {held(lib)[:5]}")
        lib.index._coll.flush()
    with open_library(db) as lib:
        assert held(lib) == catalog_ids(lib)
        lib.index.drop()  # the whole collection gone: rebuilt from the catalog
    with open_library(db) as lib:
        assert held(lib) == catalog_ids(lib)
        hit = lib.search(gallery / "coffee.jpg", k=1)[0][0]
        assert hit.path.endswith("coffee.jpg") and hit.score > 0.99


def test_killed_indexer_and_killed_server_leave_nothing_inconsistent(milvus, tmp_path, variants):  # noqa: F811
    db = tmp_path / "k.db"
    url = f"{milvus.url}/killed"
    cmd = [sys.executable, "-c", "from pixseek.cli import main; main()", "index", str(variants), "--db", str(db),
           "--backend", url, "--batch-size", "8", "--json"]
    # killed (SIGKILL) right after its 3rd batch reached the catalog, before Milvus got it (pixseek/faults.py)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PIXSEEK_FAULT": "ingest.after_catalog:3"})
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr[-2000:])
    with open_library(db) as lib:  # generation mismatch -> reconciled with what the catalog committed
        n = lib.catalog.count_vectors()
        assert n == 24  # 3 batches of 8: the catalog is ahead of Milvus by the last one
        assert held(lib) == catalog_ids(lib)
    summary = json.loads(run_cli("index", variants, "--db", db, "--json").stdout)
    assert summary["added"] == 88 - n and summary["total"] == 88

    # the server is killed (no flush), restarted on the same data: open_library leaves it in step
    with open_library(db) as lib:
        extra = lib.catalog.get_vectors(catalog_ids(lib)[:3], lib.dim)
        lib.index.add(extra, np.array([10**9, 10**9 + 1, 10**9 + 2]))  # written to Milvus only, never saved
    milvus.kill()
    milvus.start()
    with open_library(db) as lib:
        ids = held(lib)
        assert ids == catalog_ids(lib) and len(ids) == 88
        hit = lib.search(variants / "coffee_0.jpg", k=1)[0][0]
        assert hit.path.endswith("coffee_0.jpg")
