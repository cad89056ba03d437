"""First text query vs the second, on an empty cache, same run (issue 14: "fast from the first query").

    .venv/bin/python bench/text_first_query.py [--folder samples/gallery] [--repeat 3]

Indexes the folder once (set-up: the image encoder's ONNX copy is built then, in the normal cache), then
points ``PIXSEEK_CACHE`` at an EMPTY folder and measures, with nothing warmed:

* **CLI** -- ``pixseek search --text`` as a user types it, one process per query: the first query on the
  empty cache, then a second (other words), wall time of each process;
* **HTTP** -- a server started on the catalog (its start-up warms the text searcher): the first
  ``GET /api/search/text`` after start vs the second, in one process;
* **in process** -- ``TextSearcher.search`` in a fresh Python: the first call (which loads the shipped
  lexicon and this library's label probabilities and file words) vs the second.

Prints each pair and its ratio (the issue's floor: first <= 3x second), and whether anything was written
into the empty cache (nothing should be: no model is exported or embedded for text at query time).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
PIXSEEK = [PY, "-c", "from pixseek.cli import main; main()"]

IN_PROCESS = r"""
import json, sys, time
t0 = time.perf_counter()
from pixseek.wiring import open_library
from pixseek.text import TextSearcher
lib = open_library(sys.argv[1], readonly=True)
s = TextSearcher(lib)
t1 = time.perf_counter(); s.search(sys.argv[2], 10); t2 = time.perf_counter(); s.search(sys.argv[3], 10)
t3 = time.perf_counter()
print(json.dumps({"first": t2 - t1, "second": t3 - t2}))
"""

HTTP = r"""
import json, sys, time
from fastapi.testclient import TestClient
import pixseek
from pixseek.api import ApiSettings, create_app
with pixseek.open(sys.argv[1]) as lib, TestClient(create_app(lib, ApiSettings())) as c:
    while c.get("/readyz").status_code != 200:
        time.sleep(0.05)
    t1 = time.perf_counter(); r1 = c.get("/api/search/text", params={"q": sys.argv[2]})
    t2 = time.perf_counter(); r2 = c.get("/api/search/text", params={"q": sys.argv[3]}); t3 = time.perf_counter()
    assert r1.status_code == r2.status_code == 200
print(json.dumps({"first": t2 - t1, "second": t3 - t2}))
"""


def timed(cmd: list[str], env: dict) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, default=ROOT / "samples" / "gallery")
    ap.add_argument("--repeat", type=int, default=3, help="fresh empty caches, one full measurement each")
    ap.add_argument("--words", nargs=2, default=["dog", "red car"], help="the first and the second query")
    args = ap.parse_args()
    base = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    with tempfile.TemporaryDirectory(prefix="pixseek-text-first-") as tmp:
        db = Path(tmp) / "lib.db"
        subprocess.run([*PIXSEEK, "index", str(args.folder), "--db", str(db)], env=base, check=True,
                       capture_output=True)
        print(f"library: {args.folder} indexed into {db}; queries {args.words[0]!r} then {args.words[1]!r}")
        rows = []
        for r in range(args.repeat):
            cache = Path(tmp) / f"empty-cache-{r}"
            cache.mkdir()
            env = dict(base, PIXSEEK_CACHE=str(cache))
            cli = [timed([*PIXSEEK, "search", "--text", w, "--db", str(db), "--json"], env) for w in args.words]
            proc = json.loads(subprocess.run([PY, "-c", IN_PROCESS, str(db), *args.words], env=env, check=True,
                                             capture_output=True, text=True).stdout)
            http = json.loads(subprocess.run([PY, "-c", HTTP, str(db), *args.words], env=env, check=True,
                                             capture_output=True, text=True).stdout)
            written = sorted(str(p.relative_to(cache)) for p in cache.rglob("*"))
            rows.append((cli, proc, http, written))
        print("\n| run | CLI first / second (s) | ratio | HTTP first / second (ms) | ratio | in process first / second (ms) | ratio | written to the empty cache |")
        print("|---|---|---|---|---|---|---|---|")
        for r, (cli, proc, http, written) in enumerate(rows):
            print(f"| {r} | {cli[0]:.2f} / {cli[1]:.2f} | {cli[0] / cli[1]:.2f}x | {http['first'] * 1e3:.1f} / "
                  f"{http['second'] * 1e3:.1f} | {http['first'] / http['second']:.2f}x | {proc['first'] * 1e3:.1f} / "
                  f"{proc['second'] * 1e3:.1f} | {proc['first'] / proc['second']:.2f}x | {', '.join(written) or 'nothing'} |")
        print("\nfloor: first <= 3x second (CLI and HTTP: what a user waits for; in process: the first call also"
              " loads the shipped lexicon and this library's label probabilities)")


if __name__ == "__main__":
    main()
