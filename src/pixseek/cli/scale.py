"""``pixseek bench-index``: compare index types on one data set in one run."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from pixseek.cli.app import JsonOption, app, emit_json, out
from pixseek.search import encode_paths
from pixseek.search.bench_index import DEFAULT_CONFIGS, run


@app.command("bench-index")
def bench_index(
    n: Annotated[int, typer.Option("--n", help="Vectors in the index.")] = 100_000,
    queries: Annotated[int, typer.Option("--queries", help="Queries (ground truth: exact search).")] = 1000,
    images: Annotated[Path | None, typer.Option("--images", help="Folder whose real embeddings seed the clusters (default: synthetic clusters).")] = None,
    kinds: Annotated[str, typer.Option("--kinds", help="Comma-separated index types.")] = ",".join(DEFAULT_CONFIGS),
    as_json: JsonOption = False,
) -> None:
    """Recall@10, latency (p50/p99), batch QPS, build time and bytes per vector, per index type."""
    centres = None
    if images is not None:
        from pixseek.io import IMAGE_EXTENSIONS, walk_files

        centres, _, _ = encode_paths([str(p) for p in walk_files(images, IMAGE_EXTENSIONS)])
    dim = 1280 if centres is None else centres.shape[1]
    results = run(n, dim, queries, tuple(kinds.split(",")), centres, log=(lambda *_: None) if as_json else out.print)
    if as_json:
        emit_json({"n": n, "queries": queries, "data": "real embeddings + jitter" if images else "clustered synthetic",
                   "results": [asdict(r) for r in results]})
