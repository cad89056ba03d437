"""Near-duplicates stack into one hit (issue 13): 10 photos with 4 copies each (half size, PNG, q60,
2 % crop); a mirrored copy of each photo finds the whole group as the top hit's stack, and the top 5
hits hold no two members of one group."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import GALLERY, REPO, run_cli

sys.path.insert(0, str(REPO))
from bench.stacks import EDITS, group_of, make_group  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stacked(tmp_path_factory):
    root = tmp_path_factory.mktemp("stacks")
    folder, queries = root / "g", root / "q"
    folder.mkdir()
    queries.mkdir()
    for p in sorted(GALLERY.glob("*.jpg"))[:10]:
        make_group(p, folder, queries)
    run_cli("index", folder, "--db", root / "s.db")
    return root / "s.db", sorted(queries.iterdir())


def test_mirrored_copy_returns_the_group_as_one_stack(stacked):
    db, queries = stacked
    res = json.loads(run_cli("search", *queries, "--db", db, "-k", "5", "--json").stdout)["results"]
    for q, r in zip(queries, res):
        top = r["hits"][0]
        assert {group_of(h["path"]) for h in [top, *top["copies"]]} == {q.stem}, (q.name, top)
        assert len(top["copies"]) == len(EDITS)
        groups = [group_of(h["path"]) for h in r["hits"]]
        assert len(groups) == len(set(groups)) == 5, groups


def test_no_stack_lists_the_copies_as_hits(stacked):
    db, queries = stacked
    r = json.loads(run_cli("search", queries[0], "--db", db, "-k", "5", "--no-stack", "--json").stdout)["results"][0]
    assert [group_of(h["path"]) for h in r["hits"]] == [queries[0].stem] * 5
    assert all("copies" not in h for h in r["hits"])
