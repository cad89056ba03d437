"""Every index type: exact top-1 for planted duplicates, a recall floor against exact search,
delete + add consistency, save/load round trip; hash-code quality against the float vectors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import run_cli
from pixseek.hashing import create_coder, hamming_rank
from pixseek.index import create_index, list_index_kinds, load_index

DIM = 64
PARAMS = {"flat": {}, "hnsw": {}, "ivfpq": {"m": 16, "nlist": 32}, "binary": {"bits": 64}}
RECALL_FLOOR = {"flat": 1.0, "hnsw": 0.95, "ivfpq": 0.9, "binary": 0.8}


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
    return x, ids, q, labels


def build(kind, x, ids):
    index = create_index(kind, DIM, **PARAMS[kind])
    if not index.is_trained:
        index.train(x)
    index.add(x, ids)
    return index


def test_all_kinds_are_registered():
    assert set(PARAMS) <= set(list_index_kinds())


@pytest.mark.parametrize("kind", sorted(PARAMS))
def test_planted_duplicates_recall_and_round_trip(kind, data, tmp_path):
    x, ids, q, _ = data
    index = build(kind, x, ids)
    exact = create_index("flat", DIM)
    exact.add(x, ids)
    _, want = exact.search(q, 10)
    scores, got = index.search(q, 10)
    assert (got[:, 0] == ids[:100]).all(), f"{kind} missed a planted duplicate"
    assert (np.diff(scores, axis=1) <= 1e-6).all()
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, want)])
    assert recall >= RECALL_FLOOR[kind], f"{kind} recall@10 {recall:.3f}"
    index.save(tmp_path / "i")
    again = load_index(tmp_path / "i", kind)
    np.testing.assert_array_equal(again.search(q, 10)[1], got)


@pytest.mark.parametrize("kind", sorted(PARAMS))
def test_delete_then_add_stays_consistent(kind, data):
    x, ids, q, _ = data
    index = build(kind, x, ids)
    gone = ids[:50]
    assert index.remove(gone) == 50
    assert index.ntotal == len(ids) - 50
    _, got = index.search(q[:50], 5)
    assert not np.isin(got, gone).any()
    index.add(x[:50], gone)  # back again
    _, got = index.search(q[:50], 1)
    assert (got[:, 0] == gone).all()


@pytest.mark.parametrize("coder", ["lsh", "itq"])
def test_hash_codes_keep_neighbours(coder, data):
    x, _, q, labels = data
    c = create_coder(coder, DIM, 64)
    c.train(x)
    codes = c.encode(x[:2000])
    assert codes.shape == (2000, 8) and codes.dtype == np.uint8
    d = hamming_rank(c.encode(q[:50]), codes)
    assert (d.argmin(axis=1) == np.arange(50)).mean() > 0.9  # the planted duplicate is nearest in Hamming


def test_cli_index_types_end_to_end(tmp_path, gallery):
    for kind in ("hnsw", "auto"):
        db = tmp_path / f"{kind}.db"
        out = json.loads(run_cli("index", gallery, "--db", db, "--index", kind, "--json").stdout)
        assert out["added"] == 22
        res = json.loads(run_cli("search", gallery / "moon.jpg", "--db", db, "-k", "1", "--json").stdout)
        assert res["results"][0]["hits"][0]["path"].endswith("moon.jpg")
    assert out["index"] == "flat" and "auto" in out["index_note"]
