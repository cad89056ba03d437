"""Relevance feedback and query expansion on real images with the real encoder (samples/gallery)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageEnhance, ImageOps

import pixseek
from pixseek.api import ApiSettings, create_app
from pixseek.errors import FeedbackError
from pixseek.index.flat import FlatIndex
from pixseek.search.feedback import MAX_MARKS, Feedback, Refined, alpha_qe, dba, validate_marks
from pixseek.wiring import feedback_projection

pytestmark = pytest.mark.integration

EDITED = ("coffee", "rocket", "chelsea", "astronaut")


def _copies(im: Image.Image) -> list[Image.Image]:
    w, h = im.size
    return [ImageOps.mirror(im), im.crop((w // 10, h // 10, w - w // 8, h - h // 8)),
            ImageEnhance.Color(ImageOps.grayscale(im).convert("RGB")).enhance(1.0).rotate(8)]


@pytest.fixture(scope="module")
def copies_dir(gallery, tmp_path_factory):
    """A folder of 3 edited copies each of 4 gallery images ("coffee~0.jpg" ...)."""
    out = tmp_path_factory.mktemp("fb")
    for stem in EDITED:
        with Image.open(next(p for p in gallery.iterdir() if p.stem == stem)) as im:
            for j, c in enumerate(_copies(im.convert("RGB"))):
                c.save(out / f"{stem}~{j}.jpg", quality=90)
    return out


@pytest.fixture(scope="module")
def collection(gallery, copies_dir):
    """(vectors, names): the 22 gallery images plus 3 edited copies each of 4 of them ("coffee~0" ...)."""
    paths = sorted(gallery.iterdir()) + sorted(copies_dir.iterdir())
    return pixseek.encode(paths), [p.stem for p in paths]


@pytest.fixture(scope="module")
def projection():
    """The copy-detection projection shipped for the default encoder, as the library gets it."""
    p = feedback_projection(pixseek.encoders.create_encoder().model_id)
    assert p is not None
    return p


def _ranks(scores: np.ndarray, names: list[str], excluded: set[str]) -> dict[str, int]:
    order = [names[i] for i in np.argsort(-scores, kind="stable") if names[i] not in excluded]
    return {n: r for r, n in enumerate(order)}


@pytest.mark.parametrize("method", ["rocchio", "ridge"])
def test_like_pulls_the_liked_items_neighbours_up(collection, method):
    x, names = collection
    at = {n: i for i, n in enumerate(names)}
    q, liked = at["moon"], at["coffee"]
    copies = [f"coffee~{j}" for j in range(3)]
    excluded = {"moon", "coffee"}
    before = _ranks(x @ x[q], names, excluded)
    refined = Feedback(method).fit(x[q], x[[liked]], (), x)
    after = _ranks(refined.score(x), names, excluded)
    assert all(after[c] < before[c] for c in copies), (before, after)
    # the liked picture's copies are now the three best of what is left
    assert sorted(after[c] for c in copies) == [0, 1, 2], after


@pytest.mark.parametrize("method", ["rocchio", "ridge"])
def test_unlike_pushes_the_unliked_items_neighbours_down(collection, method):
    x, names = collection
    at = {n: i for i, n in enumerate(names)}
    q = at["coffee~1"]
    s0 = x @ x[q]
    excluded = {"coffee~1", "rocket"}
    before = _ranks(s0, names, excluded)
    refined = Feedback(method).fit(x[q], (), x[[at["rocket"]]], x)
    after = _ranks(refined.score(x), names, excluded)
    copies = [f"rocket~{j}" for j in range(3)]
    assert all(after[c] >= before[c] for c in copies) and sum(after[c] for c in copies) > sum(before[c] for c in copies)
    # what the user wanted stays on top: the other coffee pictures
    assert {n for n, r in after.items() if r < 3} == {"coffee", "coffee~0", "coffee~2"}


def test_ridge_gives_the_liked_class_more_of_the_top_than_the_plain_query(collection):
    x, names = collection
    at = {n: i for i, n in enumerate(names)}
    # query: a cat crop; the user likes one cat copy and dislikes the astronaut the plain query confuses it with
    q = at["chelsea~1"]
    refined = Feedback("ridge").fit(x[q], x[[at["chelsea~0"]]], x[[at["astronaut"]]], x)
    excluded = {"chelsea~1", "chelsea~0", "astronaut"}
    after = _ranks(refined.score(x), names, excluded)
    assert after["chelsea"] <= 1 and after["chelsea~2"] <= 1, after


@pytest.mark.parametrize("liked", ["coffee~1", "chelsea~2", "rocket~2"])
def test_ridge_copy_pulls_the_liked_copys_siblings_to_the_top(collection, projection, liked):
    """Query an unrelated picture, like one edited copy: the original and the other copies, far down
    the plain ranking, become the top 3 of what is left; the projection changes the refined query."""
    x, names = collection
    at = {n: i for i, n in enumerate(names)}
    stem = liked.split("~")[0]
    siblings = [n for n in names if n.split("~")[0] == stem and n != liked]
    excluded = {"moon", liked}
    before = _ranks(x @ x[at["moon"]], names, excluded)
    refined = Feedback().fit(x[at["moon"]], x[[at[liked]]], (), x, projection=projection)
    after = _ranks(refined.score(x), names, excluded)
    assert refined.method == "ridge+copy" and abs(np.linalg.norm(refined.query) - 1) < 1e-5
    assert min(before[n] for n in siblings) >= 5, before  # the plain query does not find them
    assert sorted(after[n] for n in siblings) == [0, 1, 2], after
    # the copy-detection part is really there: without it (weight 0, or no projection) it is "ridge"
    plain_ridge = Feedback("ridge").fit(x[at["moon"]], x[[at[liked]]], (), x)
    no_copy = Feedback(copy_weight=0).fit(x[at["moon"]], x[[at[liked]]], (), x, projection=projection)
    no_proj = Feedback().fit(x[at["moon"]], x[[at[liked]]], (), x)
    assert no_copy.method == no_proj.method == "ridge"
    assert np.allclose(no_copy.query, plain_ridge.query) and np.allclose(no_proj.query, plain_ridge.query)
    assert float(refined.query @ plain_ridge.query) < 0.999
    more = Feedback(copy_weight=2.0).fit(x[at["moon"]], x[[at[liked]]], (), x, projection=projection)
    assert float(more.query @ plain_ridge.query) < float(refined.query @ plain_ridge.query)
    with pytest.raises(FeedbackError, match="projection"):
        Feedback().fit(x[0], x[[1]], (), projection=(projection[0][:10], projection[1]))


@pytest.fixture(scope="module")
def copies_library(gallery, copies_dir, tmp_path_factory):
    """A real library (pixseek.open: the front-ends' wiring) of the gallery plus the edited copies."""
    lib = pixseek.open(tmp_path_factory.mktemp("fblib") / "lib.db")
    report = lib.ingest(sorted(gallery.iterdir()) + sorted(copies_dir.iterdir()))
    assert not report.errors, report.to_dict()
    yield lib
    lib.close()


def test_library_and_api_refine_with_the_shipped_projection(copies_library, projection, gallery):
    """The library the front-ends open refines with "ridge+copy" and the shipped projection, and
    ``POST /api/search/image`` with ``like`` ranks the liked copy's siblings above where the plain
    search put them."""
    lib = copies_library
    id_of = {Path(it.path).stem: it.id for it in lib.items()}
    q, liked = lib.vectors([id_of["moon"]]), id_of["coffee~1"]
    # the background negative is the collection's centroid (the whole of a collection this small)
    background = lib.vectors(lib.item_ids()).mean(0, keepdims=True)
    expected = Feedback().fit(q[0], lib.vectors([liked]), (), background, projection=projection).query
    assert np.allclose(lib.refine(q, [liked])[0], expected, atol=1e-5)
    assert not np.allclose(expected, Feedback().fit(q[0], lib.vectors([liked]), (), projection=projection).query,
                           atol=1e-3)
    assert not np.allclose(lib.refine(q, [liked])[0], Feedback("ridge").fit(q[0], lib.vectors([liked])).query, atol=1e-3)
    siblings = {id_of[n] for n in ("coffee", "coffee~0", "coffee~2")}
    with TestClient(create_app(lib, ApiSettings())) as client:
        def ranks(**data):
            with open(gallery / "moon.jpg", "rb") as fh:
                r = client.post("/api/search/image", files={"file": ("moon.jpg", fh, "image/jpeg")}, data=data,
                                params={"k": 30, "stack": "false"})
            assert r.status_code == 200, r.text
            ids = [h["id"] for h in r.json()["hits"] if h["id"] not in (id_of["moon"], liked)]
            return {i: ids.index(i) if i in ids else 99 for i in siblings}
        before, after = ranks(), ranks(like=str(liked))
    assert all(after[i] < before[i] for i in siblings) and sorted(after.values()) == [0, 1, 2], (before, after)


def test_query_expansion_is_an_option_of_the_one_read_path(copies_library, gallery):
    """``expand`` (alpha-QE over the query's nearest allowed items): off by default; on, it is the
    plain search of ``alpha_qe(query, neighbours)``, the same through Library.query, HTTP and the CLI,
    and bad values are typed errors."""
    import json

    from conftest import run_cli

    lib = copies_library
    id_of = {Path(it.path).stem: it.id for it in lib.items()}
    q = lib.vectors([id_of["coffee~1"]])
    ids, scores = lib._nearest(q[0], 3, None)
    expected = alpha_qe(q[0], lib.vectors(ids), scores, 3.0)
    plain = [(h.id, round(h.score, 4)) for h in lib.query(q, 8, stack=False)[0]]
    expanded = [(h.id, round(h.score, 4)) for h in lib.query(q, 8, stack=False, expand=3)[0]]
    assert expanded == [(h.id, round(h.score, 4)) for h in lib.query(expected[None], 8, stack=False)[0]]
    assert expanded != plain and lib.query(q, 8, stack=False, expand=0)[0] == lib.query(q, 8, stack=False)[0]
    with pytest.raises(ValueError, match="expand"):
        lib.query(q, 8, expand=51)
    with TestClient(create_app(lib, ApiSettings())) as client:
        def hits(**params):
            with open(gallery / "coffee.jpg", "rb") as fh:
                return client.post("/api/search/image", files={"file": ("coffee.jpg", fh, "image/jpeg")},
                                   params={"k": 8, "stack": "false", **params})
        r = hits(expand=3)
        assert r.status_code == 200, r.text
        v = lib.embed([str(gallery / "coffee.jpg")])
        ids, scores = lib._nearest(v[0], 3, None)
        want = [h.id for h in lib.query(alpha_qe(v[0], lib.vectors(ids), scores, 3.0)[None], 8, stack=False)[0]]
        assert [h["id"] for h in r.json()["hits"]] == want
        assert hits(expand=99).status_code == 422
        item = client.get(f"/api/items/{id_of['coffee~1']}/similar", params={"k": 5, "expand": 2})
        assert item.status_code == 200 and id_of["coffee~1"] not in [h["id"] for h in item.json()["hits"]]
    out = run_cli("search", gallery / "coffee.jpg", "--db", lib.catalog.path, "--expand", "3", "-k", "8",
                  "--no-stack", "--json")
    assert [h["id"] for h in json.loads(out.stdout)["results"][0]["hits"]] == want
    bad = run_cli("search", "--text", "cup", "--db", lib.catalog.path, "--expand", "3", check=False)
    assert bad.returncode != 0 and "--expand" in bad.stderr


def test_no_marks_is_the_plain_query(collection):
    x, _ = collection
    for method in ("rocchio", "ridge"):
        r = Feedback(method).fit(x[0], (), (), x)
        assert isinstance(r, Refined) and np.allclose(r.query, x[0], atol=1e-6)
    # several query vectors (image + text, say) are averaged
    r = Feedback("rocchio").fit(x[:2], (), ())
    m = x[:2].mean(0)
    assert np.allclose(r.query, m / np.linalg.norm(m), atol=1e-6)


def test_refined_query_is_one_vector_for_the_index(collection):
    """The refined order is the FAISS inner-product order of ``refined.query``: one index search."""
    x, names = collection
    index = FlatIndex(x.shape[1])
    index.add(x, np.arange(len(x)))
    refined = Feedback("ridge").fit(x[0], x[[3, 5]], x[[7]], x)
    assert refined.query.shape == (x.shape[1],) and abs(np.linalg.norm(refined.query) - 1) < 1e-5
    _, ids = index.search(refined.query[None], len(x))
    assert list(ids[0][:10]) == list(np.argsort(-refined.score(x), kind="stable")[:10])


def test_validate_marks():
    known = set(range(100))
    assert validate_marks([3, 5, 3], [7], known) == ([3, 5], [7])
    with pytest.raises(FeedbackError, match="unknown item id.*101"):
        validate_marks([3, 101], [], known)
    with pytest.raises(FeedbackError, match="both like and unlike: 5"):
        validate_marks([3, 5], [5], known)
    with pytest.raises(FeedbackError, match=f"at most {MAX_MARKS}"):
        validate_marks(range(15), range(15, 30), known)
    with pytest.raises(FeedbackError, match="at most 2"):
        validate_marks([1, 2], [3], known, max_marks=2)
    with pytest.raises(FeedbackError, match="like: item ids are integers, got 'cat.jpg'"):
        validate_marks(["3", "cat.jpg"], [], known)
    with pytest.raises(FeedbackError, match="unlike: item ids are integers, got 2.5"):
        validate_marks([], [2.5], known)
    assert validate_marks(["3"], ["4"], range(10)) == ([3], [4])  # form fields arrive as strings
    assert issubclass(FeedbackError, ValueError)


def test_bad_vectors_are_typed_errors(collection):
    x, _ = collection
    with pytest.raises(FeedbackError, match="dimension"):
        Feedback("ridge").fit(x[0], x[:2, :10], ())
    with pytest.raises(FeedbackError, match="NaN"):
        Feedback("ridge").fit(x[0], np.full((1, x.shape[1]), np.nan), ())
    with pytest.raises(FeedbackError, match="unknown feedback method"):
        Feedback("magic")
    with pytest.raises(FeedbackError, match="nothing to refine"):
        Feedback("rocchio").fit((), (), ())


def test_alpha_qe_and_dba_on_real_vectors(collection):
    x, names = collection
    at = {n: i for i, n in enumerate(names)}
    index = FlatIndex(x.shape[1])
    index.add(x, np.arange(len(x)))
    q = x[at["coffee~1"]]
    s, i = index.search(q[None], 4)
    e = alpha_qe(q, x[i[0]], s[0], alpha=3)
    assert abs(np.linalg.norm(e) - 1) < 1e-5
    # the expanded query is closer to the whole coffee group than the plain one
    group = [at[n] for n in ("coffee", "coffee~0", "coffee~2")]
    assert (x[group] @ e).mean() > (x[group] @ q).mean()
    # batched == one at a time
    s2, i2 = index.search(x[:3], 4)
    assert np.allclose(alpha_qe(x[:3], x[i2], s2), np.stack([alpha_qe(x[j], x[i2[j]], s2[j]) for j in range(3)]),
                       atol=1e-6)
    # DBA: every vector moves towards its neighbours, never itself; -1 padding ignored
    s3, i3 = index.search(x, 3)
    i3[:, -1] = -1
    aug = dba(x, i3, s3)
    assert aug.shape == x.shape and np.allclose(np.linalg.norm(aug, axis=1), 1, atol=1e-5)
    c = at["coffee"]
    assert (x[group[1:]] @ aug[c]).mean() > (x[group[1:]] @ x[c]).mean()
    lone = np.full((len(x), 3), -1)
    assert np.allclose(dba(x, lone, np.zeros((len(x), 3))), x / np.linalg.norm(x, axis=1, keepdims=True), atol=1e-6)
