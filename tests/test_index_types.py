"""Every index type: exact top-1 for planted duplicates, a recall floor against exact search,
delete + add consistency, save/load round trip; background compaction / re-fit with concurrent
writes; the library end to end through the CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import run_cli
from pixseek.errors import IndexFileError, IndexSpecError, UnknownIndexError
from pixseek.index import create_index, index_factory, list_index_kinds, load_index, normalize_spec, parse_spec
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


@pytest.fixture(scope="module")
def built(data, tmp_path_factory):
    """``built(name)``: the index of ``name`` over all of ``data``, trained once per module (OPQ training is
    most of this file's time) and saved; every test gets its own copy, loaded from that file."""
    x, ids, _ = data
    folder = tmp_path_factory.mktemp("built")

    def get(name):
        path = folder / name
        if not path.exists():
            build(name, x, ids).save(path)
        return load_index(path, CONFIGS[name][0])

    return get


def recall(got, want):
    return float(np.mean([len(set(a) & set(b) - {-1}) / want.shape[1] for a, b in zip(got, want)]))


def test_all_kinds_are_registered():
    assert {kind for kind, _ in CONFIGS.values()} <= set(list_index_kinds())


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_planted_duplicates_recall_and_round_trip(name, data, exact, built, tmp_path):
    x, ids, q = data
    index = built(name)
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
def test_delete_then_add_stays_consistent(name, data, built, tmp_path):
    x, ids, q = data
    index = built(name)
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
    index = create_index("ivfpq", DIM, m=16, opq=False)  # the re-fit is the same with OPQ, which costs 5x to train
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


SPECS = ["flat", "hnsw,M=16,ef=48", "ivfpq,nlist=32,m=16,nprobe=8", "binary,bits=64,coder=lsh,structure=hnsw,ef=96"]


@pytest.mark.parametrize("spec", SPECS)
def test_a_spec_string_builds_the_index_and_the_saved_file_says_what_it_is(spec, data, tmp_path):
    x, ids, q = data
    index = index_factory(spec, DIM)
    kind, params = parse_spec(spec)
    assert index.kind == kind and normalize_spec(index.spec) == index.spec
    assert all(index.params[index.aliases.get(k, k)] == v for k, v in params.items())
    if not index.is_trained:
        index.train(x[:2000])  # enough for 32 lists; the recall of each kind is tested above
    index.add(x, ids)
    index.save(tmp_path / "i")
    with open(tmp_path / "i", "rb") as fh:
        assert fh.readline() == b"pixseek-index/1\n"
        header = json.loads(fh.readline())
    assert (header["kind"], header["dim"], header["spec"]) == (kind, DIM, index.spec)
    again = load_index(tmp_path / "i")  # no kind given, no side file consulted
    assert type(again) is type(index) and again.spec == index.spec and again.ntotal == len(ids)
    np.testing.assert_array_equal(again.search(q, 5)[1], index.search(q, 5)[1])
    assert index_factory(index.spec, DIM).params == index.params  # the canonical spec builds the same index


def test_set_params_is_the_one_way_to_change_search_parameters(data, built):
    x, ids, q = data
    index = built("hnsw")
    index.set_params(ef=16)  # alias of ef_search
    assert index.ef_search == 16 and "ef_search=16" in index.spec
    narrow = index.search(q, 10)[1]
    index.set_params(ef_search=256)
    wide = index.search(q, 10)[1]
    assert (wide[:, 0] == ids[:100]).all() and narrow.shape == wide.shape
    with pytest.raises(IndexSpecError, match="M cannot change after the index is built"):
        index.set_params(M=8)
    with pytest.raises(IndexSpecError, match="unknown parameter 'nprobe' for hnsw"):
        index.set_params(nprobe=3)
    with pytest.raises(IndexSpecError, match="unknown parameter .ef. for flat"):
        create_index("flat", DIM).set_params(ef=3)
    ivf = built("ivfpq")
    ivf.set_params(nprobe=1, shortlist=2)
    assert (ivf.nprobe, ivf.shortlist) == (1, 2)
    ivf.tune(nprobe=32)  # the former name still works
    assert ivf.nprobe == 32


@pytest.mark.parametrize("bad", ["", "hnsw,M", "M=3", "hnsw,Q=3", "hnsw,M=3,M=4", "nosuch,M=3"])
def test_a_bad_spec_is_a_clear_error(bad):
    with pytest.raises((IndexSpecError, UnknownIndexError)):
        index_factory(bad, DIM)


def test_an_index_file_saved_before_headers_still_loads_with_its_kind(data, tmp_path):
    import faiss

    x, ids, q = data
    old = create_index("flat", DIM)
    old.add(x, ids)
    faiss.write_index(old._index, str(tmp_path / "old.index"))  # the format before pixseek-index/1
    again = load_index(tmp_path / "old.index", "flat")
    assert again.ntotal == len(ids) and (again.search(q, 1)[1][:, 0] == ids[:100]).all()
    with pytest.raises(IndexFileError, match="not a self-describing pixseek index"):
        load_index(tmp_path / "old.index")


@pytest.mark.parametrize("damage", ["empty", "garbage", "truncated", "bad-header"])
def test_a_damaged_index_file_is_a_typed_error_naming_the_file(damage, data, tmp_path):
    x, ids, _ = data
    path = tmp_path / "x.index"
    index = create_index("hnsw", DIM)
    index.add(x[:500], ids[:500])
    index.save(path)
    raw = path.read_bytes()
    path.write_bytes({"empty": b"", "garbage": b"\x00garbage" * 100, "truncated": raw[:len(raw) // 2],
                      "bad-header": b"pixseek-index/1\n{not json\n" + raw}[damage])
    with pytest.raises(IndexFileError, match=str(path)):
        load_index(path, "hnsw")
    with pytest.raises(IndexFileError, match="no such index file"):
        load_index(tmp_path / "missing.index")


def test_flat_few_queries_answer_as_faiss_batches_do():
    """A few queries are scored over the flat index's storage directly (no FAISS thread toggling):
    same ids and scores as FAISS answers the same queries in a batch, after removals, and with k
    beyond the stored count padded with id -1."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3000, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    index = create_index("flat", DIM)
    index.add(x, np.arange(3000) * 5 + 11)
    assert index.remove(np.array([11, 16, 21])) == 3
    batch = np.concatenate([x[100:102], rng.standard_normal((30, DIM)).astype(np.float32)])
    s_batch, i_batch = index.search(batch, 20)  # >= 8 rows: FAISS itself
    s_few, i_few = index.search(batch[:2], 20)
    assert np.array_equal(i_few, i_batch[:2]) and np.allclose(s_few, s_batch[:2], atol=1e-5)
    assert i_few[0, 0] == 100 * 5 + 11
    s_all, i_all = index.search(batch[:1], 3005)
    assert (i_all[0, :2997] >= 0).all() and (i_all[0, 2997:] == -1).all() and np.isneginf(s_all[0, 2997:]).all()
    assert set(i_all[0, :2997]) == set(range(26, 3000 * 5 + 11, 5))
