"""Index types compared on real embeddings: the emoji dev set's vectors as cluster centres, jittered
to --n points (the same code as `pixseek bench-index --images DIR`).

    .venv/bin/python bench/bench_index.py [--n 100000] [--queries 1000]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.datasets import emoji  # noqa: E402
from pixseek.io import IMAGE_EXTENSIONS, walk_files  # noqa: E402
from pixseek.search import encode_paths  # noqa: E402
from pixseek.search.bench_index import DEFAULT_CONFIGS, run  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--classes", type=int, default=400)
    ap.add_argument("--kinds", default=",".join(DEFAULT_CONFIGS))
    a = ap.parse_args()
    folder = emoji.build(emoji.DATA_ROOT / f"emoji{a.classes}", classes=a.classes)
    centres, _, _ = encode_paths([str(p) for p in walk_files(folder, IMAGE_EXTENSIONS)])
    print(f"{a.n} vectors: {len(centres)} real emoji embeddings jittered; {a.queries} queries; truth = exact search")
    run(a.n, centres.shape[1], a.queries, tuple(a.kinds.split(",")), centres)


if __name__ == "__main__":
    main()
