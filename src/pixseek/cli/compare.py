"""Commands: compare, dedup, explain (pixseek.compare). `search --copies` lives in core.py."""
from __future__ import annotations

import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from pixseek.cli.app import DbOption, JsonOption, ModelOption, app, console, emit_json, fail, out, progress_bar
from pixseek.encoders import create_encoder
from pixseek.errors import ImageError
from pixseek.io import load_image
from pixseek.wiring import open_library


def _load(path: Path):
    try:
        return load_image(path)
    except ImageError as err:
        raise fail(str(err)) from err


def _encoder(model):
    from pixseek.compare.regions import has_feature_maps

    encoder = create_encoder(model)
    if not has_feature_maps(encoder):
        raise fail(f"{encoder.model_id} exposes no CNN feature maps; compare needs one (the default encoder has)")
    return encoder


@app.command()
def compare(
    a: Annotated[Path, typer.Argument(help="First image.")],
    b: Annotated[Path, typer.Argument(help="Second image.")],
    model: ModelOption = None,
    as_json: JsonOption = False,
) -> None:
    """How similar two images are, in [0, 1], and a verdict: identical | near-duplicate | similar | different."""
    from pixseek.compare.verdict import compare as run_compare

    result = run_compare(_encoder(model), _load(a), _load(b))
    if as_json:
        emit_json({"a": str(a), "b": str(b)} | result.to_dict())
    else:
        d = result.details
        out.print(f"[bold]{result.verdict}[/bold]  similarity {result.similarity:.3f}  "
                  f"(global {d['global_cosine']:.3f}, regions {d['region_score']:.3f}, "
                  f"pHash {d['phash_bits']} bits, dHash {d['dhash_bits']} bits)")


@contextmanager
def stage_progress(enabled: bool = True):
    """A ``(what, done, total)`` callback drawing one Rich bar per stage on stderr (shown even when stdout is
    piped); a stage's bar appears only once it is seen to take more than a second or two."""
    if not enabled:
        yield None
        return
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console, transient=False) as prog:
        tasks: dict[str, int] = {}
        started = time.monotonic()

        def update(what: str, done: int, total: int) -> None:
            if what not in tasks:
                if done >= total and time.monotonic() - started < 2.0:
                    return  # a quick stage: no bar
                tasks[what] = prog.add_task(what, total=total)
            prog.update(tasks[what], completed=done, total=total)

        yield update


@app.command()
def dedup(
    folder: Annotated[Path, typer.Argument(help="Folder to look for duplicates in.")],
    db: DbOption = None,
    model: ModelOption = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write the groups as an HTML page.")] = None,
    threshold: Annotated[float | None, typer.Option("--threshold", help="Near-duplicate similarity (default: calibrated).")] = None,
    against: Annotated[Path | None, typer.Option("--against", help="Only report files of FOLDER that already exist in this folder.")] = None,
    include_variants: Annotated[bool, typer.Option("--include-variants", help="Also group variants (same picture, other colours or another crop).")] = False,
    move_to: Annotated[Path | None, typer.Option("--move-to", help="Move every non-best copy into this folder (with --against: only files of FOLDER).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Groups of duplicate images in FOLDER (tiers: exact, edited copy; --include-variants adds variants),
    the copy to keep marked (largest true resolution, then lossless, then largest file). Nothing is deleted;
    files move only with --move-to."""
    from pixseek.compare.dedup import DedupConfig, find_duplicates, groups_html, move_copies

    for f in (folder, against):
        if f is not None and not f.is_dir():
            raise fail(f"{f}: not a folder")
    tmp = None if db is not None else tempfile.TemporaryDirectory(prefix="pixseek-dedup-")
    root = os.path.abspath(folder).rstrip(os.sep) + os.sep
    other = os.path.abspath(against).rstrip(os.sep) + os.sep if against is not None else None
    errors = []
    try:
        with open_library(db or Path(tmp.name) / "dedup.db", model=model) as lib:
            for f in (folder, against):
                if f is None:
                    continue
                with progress_bar(f"indexing {f}") as bar:
                    errors += lib.add(f, prune=False, progress=bar).errors
            with stage_progress() as progress:
                groups = find_duplicates(lib, DedupConfig(threshold=threshold, include_variants=include_variants),
                                         prefix=root, progress=progress, against=other)
    finally:
        if tmp is not None:
            tmp.cleanup()
    if html_out is not None:
        html_out.write_text(groups_html(groups), encoding="utf-8")
    keep = {p for g in groups for p in g.paths if not p.startswith(root)} if other is not None else None
    moved = move_copies(groups, move_to, keep=keep) if move_to is not None else []
    if as_json:
        emit_json({"groups": [g.to_dict() for g in groups], "moved": [{"from": a, "to": b} for a, b in moved],
                   "errors": errors})
        return
    for i, g in enumerate(groups, 1):
        out.print(f"[bold]group {i}[/bold] {g.tier} ({len(g.paths)} files, min similarity {g.score:.3f})")
        for p in g.paths:
            w, h = g.sizes.get(p, [0, 0])
            out.print(f"  {'keep' if p == g.best else 'copy'}  {w}x{h}  {p}")
    console.print(f"{len(groups)} group(s); {sum(len(g.paths) - 1 for g in groups)} copies"
                  + (f"; moved {len(moved)} to {move_to}" if move_to is not None else "; nothing moved"))


@app.command()
def explain(
    a: Annotated[Path, typer.Argument(help="First image.")],
    b: Annotated[Path, typer.Argument(help="Second image.")],
    out_png: Annotated[Path, typer.Option("--out", help="PNG to write.")] = Path("match.png"),
    top: Annotated[int, typer.Option("--top", help="Region pairs to draw.")] = 6,
    model: ModelOption = None,
    as_json: JsonOption = False,
) -> None:
    """Draw which regions of A match which of B (same colour = matching regions)."""
    from pixseek.compare.explain import explain as run_explain

    matches = run_explain(_encoder(model), _load(a), _load(b), out_png, top=top)
    if as_json:
        emit_json({"out": str(out_png), "matches": [{"box_a": m.box_a, "box_b": m.box_b,
                                                     "similarity": round(m.similarity, 6)} for m in matches]})
    else:
        console.print(f"wrote {out_png} ({len(matches)} matched region pairs)")
