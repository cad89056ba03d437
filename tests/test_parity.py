"""CLI, Python API and HTTP API answer the same question the same way: they all read through
``Library.query`` (issue 12). One catalog holds images, a video and tags."""
from __future__ import annotations

import json
import shutil

import pytest
from fastapi.testclient import TestClient

from conftest import GALLERY, run_cli
from test_video import write_video

import pixseek
from pixseek.api import ApiSettings, create_app
from pixseek.search import Filter

pytestmark = pytest.mark.integration

QUERY = GALLERY / "astronaut.jpg"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity")
    media = root / "media"
    (media / "stills").mkdir(parents=True)
    write_video(media / "cam3.mp4")
    for p in sorted(GALLERY.glob("*.jpg"))[:14]:
        shutil.copy(p, media / "stills" / p.name)
    shutil.copy(GALLERY / "astronaut.jpg", media / "stills" / "astronaut-copy.jpg")  # a stack
    db = root / "lib.db"
    run_cli("index", media, "--db", db)
    return db, media


def key(hits: list[dict]) -> list[tuple]:
    return [(h["id"], h.get("t_start"), h.get("t_end"), sorted(c["id"] for c in h.get("copies", []))) for h in hits]


def same(*answers: list[dict]) -> bool:
    """Same hits in the same order, with the same stacks and shot spans, and the same scores (to 1e-3:
    the HTTP API rounds to 5 digits, the CLI to 6)."""
    first = answers[0]
    return all(key(a) == key(first) and all(abs(x["score"] - y["score"]) < 1e-3 for x, y in zip(a, first))
               for a in answers)


def cli_hits(db, *args) -> list[dict]:
    return json.loads(run_cli("search", QUERY, "--db", db, "-k", "6", "--json", *args).stdout)["results"][0]["hits"]


def python_hits(db, flt=Filter(), **kw) -> list[dict]:
    with pixseek.open(db) as lib:
        return [h.to_dict() for h in lib.search(QUERY, 6, filter=flt, **kw)[0]]


def http_hits(db, **params) -> list[dict]:
    with pixseek.open(db) as lib, TestClient(create_app(lib, ApiSettings())) as client:
        with open(QUERY, "rb") as fh:
            r = client.post("/api/search/image", files={"file": ("q.jpg", fh, "image/jpeg")}, params={"k": 6, **params})
        assert r.status_code == 200, r.text
        return r.json()["hits"]


def test_same_hits_through_cli_python_and_http(catalog):
    db, _ = catalog
    cli, py, http = cli_hits(db), python_hits(db), http_hits(db)
    assert same(cli, py, http), (key(cli), key(py), key(http))
    assert any(h.get("kind") == "video" and h["t_end"] > h["t_start"] for h in cli), "a video shot merged into one hit"
    top = cli[0]
    assert top["path"].endswith("astronaut.jpg") or top["path"].endswith("astronaut-copy.jpg")
    assert len(top["copies"]) == 1  # its copy is stacked under it, in all three
    assert len(cli) == 6


def test_same_hits_with_filters_everywhere(catalog):
    db, media = catalog
    with pixseek.open(db) as lib:
        tag = lib.top_labels(lib.vector_ids_of(media / "stills" / "coffee.jpg")[0], 1)[0][0]
    cli = cli_hits(db, "--folder", media / "stills", "--no-stack")
    py = python_hits(db, Filter.build(folder=str(media / "stills")), stack=False)
    http = http_hits(db, folder="stills", stack="false")
    assert same(cli, py, http), (key(cli), key(py), key(http))
    assert all("/stills/" in h["path"] for h in cli)
    cli = cli_hits(db, "--tag", tag)
    assert same(cli, python_hits(db, Filter(tags=(tag,))), http_hits(db, tag=tag))
    assert cli and any(h["path"].endswith("coffee.jpg") for h in cli)
    assert same(cli_hits(db, "--kind", "video"), python_hits(db, Filter(kind="video")))


def test_relevance_feedback_same_everywhere_and_checked(catalog):
    db, media = catalog
    with pixseek.open(db) as lib:
        first = lib.search(QUERY, 6, stack=False)[0]
        like, unlike = first[2].id, first[1].id
        refined = [h.to_dict() for h in lib.search(QUERY, 6, stack=False, like=[like], unlike=[unlike])[0]]
        rank = {h["id"]: r for r, h in enumerate(refined)}
        assert rank.get(like, 99) < 2 and rank.get(unlike, 99) > rank.get(like, 99)
        assert lib.catalog.count_vectors() == len(lib.item_ids())  # nothing stored
    cli = cli_hits(db, "--no-stack", "--like", str(like), "--unlike", str(unlike))
    with pixseek.open(db) as lib, TestClient(create_app(lib, ApiSettings())) as client:
        with open(QUERY, "rb") as fh:
            r = client.post("/api/search/image", files={"file": ("q.jpg", fh, "image/jpeg")},
                            data={"like": str(like), "unlike": str(unlike)}, params={"k": 6, "stack": "false"})
        assert same(cli, refined, r.json()["hits"])
        with open(QUERY, "rb") as fh:
            bad = client.post("/api/search/image", files={"file": ("q.jpg", fh, "image/jpeg")}, data={"like": "987654"})
        assert bad.status_code == 400 and "unknown item" in bad.text
        assert client.get(f"/api/items/{like}/similar", params={"like": f"{like},{unlike}", "unlike": str(like)}).status_code == 400
    proc = run_cli("search", QUERY, "--db", db, "--like", "987654", check=False)
    assert proc.returncode == 2 and "unknown item" in proc.stderr


def text_hits_cli(db, *args) -> list[dict]:
    return json.loads(run_cli("search", "--text", "animal", "--db", db, "-k", "6", "--json", *args).stdout
                      )["results"][0]["hits"]


def text_hits_http(db, **params) -> list[dict]:
    with pixseek.open(db) as lib, TestClient(create_app(lib, ApiSettings())) as client:
        r = client.get("/api/search/text", params={"q": "animal", "k": 6, **params})
        assert r.status_code == 200, r.text
        return r.json()["hits"]


def test_text_search_same_everywhere_with_filters_and_feedback(catalog):
    """Text queries read through the same path: the same hits, filters, stacks and marks in all three."""
    from pixseek.text import TextSearcher

    db, media = catalog
    with pixseek.open(db) as lib:
        searcher = TextSearcher(lib)
        py = [h.to_dict() for h in searcher.search("animal", 6).hits]
        stills = Filter.build(folder=str(media / "stills"))
        py_stills = [h.to_dict() for h in searcher.search("animal", 6, stills, stack=False).hits]
        like, unlike = py_stills[2]["id"], py_stills[0]["id"]
        py_marked = [h.to_dict() for h in searcher.search("animal", 6, stills, stack=False, like=[like],
                                                           unlike=[unlike]).hits]
    assert py and same(text_hits_cli(db), py, text_hits_http(db))
    cli = text_hits_cli(db, "--folder", media / "stills", "--no-stack")
    assert same(cli, py_stills, text_hits_http(db, folder="stills", stack="false"))
    assert all("/stills/" in h["path"] for h in cli)
    rank = {h["id"]: r for r, h in enumerate(py_marked)}
    assert rank.get(like, 99) < 2 and rank.get(unlike, 99) > rank[like]  # the marks moved the ranking
    cli = text_hits_cli(db, "--folder", media / "stills", "--no-stack", "--like", str(like), "--unlike", str(unlike))
    assert same(cli, py_marked, text_hits_http(db, folder="stills", stack="false", like=str(like), unlike=str(unlike)))
    with pixseek.open(db) as lib, TestClient(create_app(lib, ApiSettings())) as client:
        bad = client.get("/api/search/text", params={"q": "animal", "like": "987654"})
        assert bad.status_code == 400 and "unknown item" in bad.text
