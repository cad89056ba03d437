"""Every index type: exact top-1 for planted duplicates, a recall floor against exact search,
delete + add consistency, save/load round trip; background compaction / re-fit with concurrent
writes; the library end to end through the CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import run_cli
from pixseek.index import create_index, list_index_kinds, load_index
from pixseek.index.auto import resolve_kind

pytestmark = pytest.mark.integration

DIM = 64
CONFIGS = {
    "flat": ("flat", {}),
    "hnsw": ("hnsw", {}),
    "ivfpq": ("ivfpq", {"m": 16, "nlist": 32}),
    "ivfpq-noopq": ("ivfpq", {"m": 16, "nlist": 32, "opq": False}),
    "binary-ivf": ("binary", {"bits": 64}),
    "binary-hnsw": ("binary", {"bits": 64, "structure": "hnsw"}),
    "binary-lsh": ("binary", {"bits": 128, "coder": "lsh"}),
}
RECALL_FLOOR = {"flat": 1.0, "hnsw": 0.95, "ivfpq": 0.9, "ivfpq-noopq": 0.9, "binary-ivf": 0.8,
                "binary-hnsw": 0.8, "binary-lsh": 0.8}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((40, DIM)).astype(np.float32)
    labels = rng.integers(0, 40, 6000)
    x = centres[labels] + 0.6 * rng.standard_normal((6000, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = np.arange(6000, dtype=np.int64) * 3 + 7  # sparse, like catalog ids after deletions
    q = x[:100] + 0.02 * rng.standard_normal((100, DIM)).astype(np.float32)  # planted near-duplicates
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return x, ids, q


@pytest.fixture(scope="module")
def exact(data):
    x, ids, _ = data
    index = create_index("flat", DIM)
    index.add(x, ids)
    return index


def build(name, x, ids, **extra):
    kind, params = CONFIGS[name]
    index = create_index(kind, DIM, **params, **extra)
    if not index.is_trained:
        index.train(x)
    index.add(x, ids)
    return index


def recall(got, want):
    return float(np.mean([len(set(a) & set(b) - {-1}) / want.shape[1] for a, b in zip(got, want)]))


def test_all_kinds_are_registered():
    assert {kind for kind, _ in CONFIGS.values()} <= set(list_index_kinds())


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_planted_duplicates_recall_and_round_trip(name, data, exact, tmp_path):
    x, ids, q = data
    index = build(name, x, ids)
    _, want = exact.search(q, 10)
    scores, got = index.search(q, 10)
    assert (got[:, 0] == ids[:100]).all(), f"{name} missed a planted duplicate"
    assert (np.diff(scores, axis=1) <= 1e-6).all()
    assert recall(got, want) >= RECALL_FLOOR[name], f"{name} recall@10 {recall(got, want):.3f}"
    index.save(tmp_path / "i")
    again = load_index(tmp_path / "i", CONFIGS[name][0])
    assert again.ntotal == index.ntotal == len(ids)
    np.testing.assert_array_equal(again.search(q, 10)[1], got)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_delete_then_add_stays_consistent(name, data, exact, tmp_path):
    x, ids, q = data
    index = build(name, x, ids)
    gone = ids[:50]
    assert index.remove(gone) == 50
    assert index.remove(gone) == 0  # already gone
    assert index.ntotal == len(ids) - 50
    _, got = index.search(q[:50], 5)
    assert not np.isin(got, gone).any()
    index.save(tmp_path / "i")  # deletions survive a round trip
    index = load_index(tmp_path / "i", CONFIGS[name][0])
    assert not np.isin(index.search(q[:50], 5)[1], gone).any()
    index.add(x[:50], gone)  # back again, at once
    _, got = index.search(q[:50], 1)
    assert (got[:, 0] == gone).all()
    assert index.ntotal == len(ids)


def test_hnsw_compacts_in_the_background_while_writes_continue(data):
    x, ids, q = data
    index = build("hnsw", x, ids, compact_at=0.3)
    index.remove(ids[:1000])
    assert index.rebuilder.completed == 0 and not index.rebuilder.running
    index.remove(ids[1000:1900])  # 1900 / 6000 dead: a compaction starts in a thread
    started = index.rebuilder.running or index.rebuilder.completed == 1
    index.remove(ids[2000:2010])  # both land in the journal if the rebuild is still running
    index.add(x[:5], ids[:5])
    index.rebuilder.wait()
    assert started and index.rebuilder.completed == 1 and index.rebuilder.error is None
    assert index.dead_fraction < 0.01  # only the journal's removes are dead in the new graph
    live = np.setdiff1d(ids, np.concatenate([ids[5:1900], ids[2000:2010]]))
    assert index.ntotal == len(live)
    _, got = index.search(q, 1)
    want = np.where(np.isin(ids[:100], live), ids[:100], -2)
    assert (got[:, 0][want >= 0] == want[want >= 0]).all()
    assert not np.isin(got, np.concatenate([ids[5:1900], ids[2000:2010]])).any()


def test_compressed_index_refits_when_it_outgrows_its_training_set(data, exact):
    x, ids, q = data
    index = create_index("ivfpq", DIM, m=16)
    index.refit_min = 1000
    index.train(x[:800])  # a library that started small: 20 lists for 800 vectors
    lists_before = index.lists
    index.add(x[:3000], ids[:3000])  # 3000 < 4 x 800: no drift yet
    assert index.rebuilder.completed == 0
    index.add(x[3000:], ids[3000:])
    index.rebuilder.wait()
    assert index.rebuilder.completed == 1 and index.trained_on == 6000 and index.lists > lists_before
    _, got = index.search(q, 10)
    assert (got[:, 0] == ids[:100]).all()
    assert recall(got, exact.search(q, 10)[1]) >= 0.9


def test_auto_says_what_it_picked():
    kind, note = resolve_kind("auto", 1_000, 1280)
    assert kind == "flat" and "flat" in note
    kind, note = resolve_kind("auto", 1_000_000, 1280, memory_budget=16 << 30)
    assert kind == "hnsw" and "HNSW" in note
    kind, note = resolve_kind("auto", 10_000_000, 1280, memory_budget=16 << 30)
    assert kind == "ivfpq" and "IVF-PQ" in note
    assert resolve_kind("ivfpq", 100, 1280)[0] == "flat"  # too few vectors to train: exact until then


def test_cli_library_end_to_end_with_hnsw(tmp_path, gallery_copy):
    db = tmp_path / "lib.db"
    out = json.loads(run_cli("index", gallery_copy, "--db", db, "--index", "hnsw", "--json").stdout)
    assert out["added"] == 22 and out["index"] == "hnsw"
    res = json.loads(run_cli("search", gallery_copy / "moon.jpg", "--db", db, "-k", "3", "--json").stdout)
    assert res["results"][0]["hits"][0]["path"].endswith("moon.jpg")
    run_cli("remove", gallery_copy / "moon.jpg", "--db", db)
    res = json.loads(run_cli("search", gallery_copy / "moon.jpg", "--db", db, "-k", "22", "--json").stdout)
    paths = [h["path"] for h in res["results"][0]["hits"]]
    assert len(paths) == 21 and not any(p.endswith("moon.jpg") for p in paths)
    info = json.loads((tmp_path / "lib.db.index.json").read_text())
    assert info["kind"] == "hnsw" and info["ntotal"] == 21


def test_cli_auto_and_codes_say_what_they_built(tmp_path, gallery):
    out = json.loads(run_cli("index", gallery, "--db", tmp_path / "a.db", "--index", "auto", "--json").stdout)
    assert out["index"] == "flat" and "auto" in out["index_note"]
    out = json.loads(run_cli("index", gallery, "--db", tmp_path / "c.db", "--codes", "128", "--json").stdout)
    assert out["index"] == "flat" and "binary" in out["index_note"]  # 22 images: too few to learn codes
