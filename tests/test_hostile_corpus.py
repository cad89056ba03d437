"""The whole hostile corpus plus the sample gallery through the real ``pixseek index``: exit 0, every
good photo found at rank 1, every bad entry indexed or reported with its cause, peak RSS bounded."""
from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from conftest import GALLERY, run_cli
from hostile import EITHER, INDEXED, REPORTED, Case, _jpeg, build_hostile_corpus, keep_rewriting
from pixseek.io import printable_path
from pixseek.store.catalog import Catalog
import pytest

pytestmark = pytest.mark.integration

PEAK_RSS_LIMIT_KB = 2_500 * 1024  # issue 16: under 2.5 GB while indexing the hostile corpus
PEAK_WRAPPER = """
import resource, sys
from pixseek.cli import main
sys.argv[0] = "pixseek"
try:
    main()
finally:
    sys.stderr.write(f"\\nPEAK_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n")
"""


def check_outcomes(cases: list[Case], indexed: set[str], errors: list[dict]) -> list[str]:
    """What went wrong for each case, as text (empty when every case has the outcome it must have)."""
    problems = []
    for case in cases:
        shown = printable_path(case.path)
        mine = [e for e in errors if e["path"] == shown or e["path"].startswith(shown + "/")]
        done = case.path in indexed
        if case.outcome == INDEXED and not done:
            problems.append(f"{shown!r}: not indexed ({mine})")
        elif case.outcome == REPORTED:
            if done or not mine:
                problems.append(f"{shown!r}: not reported (indexed={done})")
            elif case.kind and mine[0]["error"] != case.kind or case.cause and case.cause not in mine[0]["cause"]:
                problems.append(f"{shown!r}: reported as {mine[0]}, expected {case.kind} / {case.cause!r}")
        elif case.outcome == EITHER and not (done or mine):
            problems.append(f"{shown!r}: neither indexed nor reported")
        if any(not e["cause"] for e in mine):
            problems.append(f"{shown!r}: reported without a cause")
    return problems


def test_index_hostile_corpus_with_good_photos(tmp_path):
    corpus = tmp_path / "corpus"
    cases = build_hostile_corpus(corpus)
    good = corpus / "good"
    shutil.copytree(GALLERY, good)
    photos = sorted(good.iterdir())
    stop = threading.Event()
    rewritten = corpus / "rewritten.jpg"
    writer = keep_rewriting(rewritten, stop, _jpeg(99))
    cases.append(Case(str(rewritten), EITHER))
    db = tmp_path / "lib.db"
    try:
        # the indexer's own peak RSS (RUSAGE_CHILDREN would be the largest child of the whole test run)
        proc = subprocess.run([sys.executable, "-c", PEAK_WRAPPER, "index", str(corpus), "--db", str(db), "--json"],
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr
    finally:
        stop.set()
        writer.join(10)
    peak_kb = int(proc.stderr.rsplit("PEAK_KB ", 1)[1].split()[0])
    out = json.loads(proc.stdout)
    cat = Catalog(db)
    try:
        indexed = set(cat.file_states())
    finally:
        cat.close()
    problems = check_outcomes(cases, indexed, out["errors"])
    assert not problems, "\n".join(problems)
    assert {str(p) for p in photos} <= indexed
    known = {printable_path(c.path) for c in cases}
    strays = [e for e in out["errors"] if not any(e["path"] == k or e["path"].startswith(k + "/") for k in known)]
    assert not strays, strays  # nothing reported that the corpus did not plant
    assert peak_kb < PEAK_RSS_LIMIT_KB, f"peak RSS {peak_kb / 1024:.0f} MB"
    res = json.loads(run_cli("search", *photos, "--db", db, "-k", "1", "--json").stdout)
    top = [Path(r["hits"][0]["path"]) for r in res["results"]]
    assert top == photos  # every good photo found at rank 1
    again = json.loads(run_cli("index", corpus, "--db", db, "--json").stdout)  # a re-run: still exit 0
    assert again["added"] == 0 or again["added"] <= 1  # only the rewritten file may change
