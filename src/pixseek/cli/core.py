"""Core commands: index, search, embed, eval, tags, info, models, remove."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from pixseek.cli.hits import item_ids, print_hits
from pixseek.cli.app import (CameraOption, DbOption, FolderOption, JsonOption, KindOption, LikeOption, ModelOption,
                             NotFolderOption, NotTagOption, SinceOption, StackOption, TagOption, UnlikeOption, UntilOption,
                             app, console, emit_json, fail, make_filter, out, progress_bar)
from pixseek.encoders import create_encoder, list_encoders
from pixseek.errors import ImageError
from pixseek.index import list_index_kinds
from pixseek.preprocess import load_for
from pixseek.report import contact_sheet
from pixseek.search import IngestStopped, encode_paths
from pixseek.search.library import MAX_EXPAND
from pixseek.wiring import open_library
from pixseek.search.evaluate import evaluate_folder
from pixseek.search.video import fold_time_into, hit_label, hit_picture


def read_list(path: Path | None) -> list[str]:
    if path is None:
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(f"{path}: cannot read list ({exc.strerror or exc})") from exc
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def print_errors(errors: list[dict]) -> None:
    if not errors:
        return
    table = Table(title=f"{len(errors)} file(s) skipped", title_style="yellow", show_lines=False)
    table.add_column("file", overflow="fold")
    table.add_column("error")
    table.add_column("cause", overflow="fold")
    for e in errors:
        table.add_row(e["path"], e["error"], e["cause"])
    console.print(table)


@app.command()
def index(
    folder: Annotated[Path, typer.Argument(help="Folder (or file) to index; re-runs are incremental.")],
    db: DbOption = None,
    model: ModelOption = None,
    index_kind: Annotated[str | None, typer.Option("--index", help=f"Index type: auto, {', '.join(list_index_kinds())} (default: the catalog's, else flat).")] = None,
    codes: Annotated[int | None, typer.Option("--codes", help="Compact binary codes of this many bits (ITQ), Hamming search + exact re-rank.")] = None,
    batch_size: Annotated[int, typer.Option(help="Images per encoder batch.")] = 32,
    prune: Annotated[bool, typer.Option(help="Drop catalog entries whose files are gone.")] = True,
    backend: Annotated[str | None, typer.Option("--backend", help="Keep the vectors in a vector database: milvus://host:port\\[/collection]\\[?index=HNSW&M=32&ef=64] (remembered by the catalog).")] = None,
    ray: Annotated[str | None, typer.Option("--ray", help="Encode on Ray: 'auto' starts a local Ray, else a cluster address (ray://head:10001).")] = None,
    ray_workers: Annotated[int, typer.Option("--ray-workers", help="Encoder actors with --ray.")] = 2,
    regions: Annotated[bool | None, typer.Option("--regions/--no-regions", help="Also store region descriptors for copy detection (search --copies, dedup; indexing ~3.6x slower). Remembered; without it they are made on first use.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Index images under FOLDER into the catalog (new and changed files only)."""
    if not folder.exists():
        raise fail(f"{folder}: no such file or folder")
    index_params = None
    if codes is not None:
        if codes <= 0 or codes % 8:
            raise fail(f"--codes must be a positive multiple of 8, got {codes}")
        index_kind, index_params = "binary", {"bits": codes}
    with open_library(db, model=model, index=index_kind, index_params=index_params, batch_size=batch_size,
                      backend=backend, regions=regions) as lib:
        with progress_bar(f"indexing {folder}", enabled=not as_json) as progress:
            files, video = fold_time_into(progress) if progress else (None, None)
            strategy = None
            if ray is not None:
                from pixseek.distributed.ray_encode import RayConfig, ray_strategy

                strategy = ray_strategy(RayConfig(address=ray, workers=ray_workers, batch_size=batch_size))
            try:
                report = lib.ingest(folder, prune=prune, progress=files, video_progress=video, encode=strategy)
            except IngestStopped as stop:
                report = stop.report
        summary = report.to_dict() | {"db": str(lib.db_path), "model_id": lib.model_id,
                                      "index": lib.index_kind, "index_note": lib.index_note, "total": len(lib)}
    if as_json:
        emit_json(summary)
        if report.stopped:
            raise typer.Exit(130)
        return
    print_errors(report.errors)
    if report.stopped:
        console.print(f"[yellow]stopped[/yellow]; {report.encoded} files committed, re-run to resume")
        raise typer.Exit(130)
    console.print(
        f"[green]done[/green] in {report.seconds:.1f}s: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.removed} removed, {len(report.errors)} skipped; "
        f"{summary['total']} files in {summary['db']}"
    )
    if summary["index_note"]:
        console.print(f"index: {summary['index']} — {summary['index_note']}")


@app.command()
def search(
    queries: Annotated[list[Path] | None, typer.Argument(help="Query image(s).")] = None,
    db: DbOption = None,
    model: ModelOption = None,
    k: Annotated[int, typer.Option("-k", "--top", help="Hits per query.")] = 10,
    query_list: Annotated[Path | None, typer.Option("--list", help="File with one query path per line.")] = None,
    sheet: Annotated[Path | None, typer.Option("--sheet", help="Write a contact sheet PNG of queries and hits.")] = None,
    tag: TagOption = None,
    not_tag: NotTagOption = None,
    folder: FolderOption = None,
    not_folder: NotFolderOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    camera: CameraOption = None,
    kind: KindOption = None,
    stack: StackOption = True,
    like: LikeOption = None,
    unlike: UnlikeOption = None,
    text: Annotated[list[str] | None, typer.Option("--text", help="Describe what to find (repeatable); with one query image: 'like this, but ...'.")] = None,
    not_text: Annotated[list[str] | None, typer.Option("--not", help="Describe what to avoid (repeatable).")] = None,
    text_method: Annotated[str | None, typer.Option("--text-method", help="probs | weights | text-tower (default: the model's text tower if it has one, else probs).")] = None,
    copies: Annotated[bool, typer.Option("--copies", help="Copy-detection mode: re-rank by region matching, finds heavily edited copies.")] = False,
    expand: Annotated[int, typer.Option("--expand", min=0, max=MAX_EXPAND, help="Query expansion: average in the query's N nearest items first, then search again (alpha-QE; 0 = off, the default: it helps collections of near-duplicate groups, hurts small categories).")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Find the K most similar indexed images to each query image, or to a description (--text / --not).

    Near-duplicates of a hit are stacked under it (`copies` in --json); hits below the model's
    calibrated relevance floor come after a "weaker matches" line (`"weak": true` in --json)."""
    if k < 1:
        raise fail(f"-k must be at least 1, got {k}")
    flt = make_filter(tag, not_tag, folder, not_folder, since, until, camera, kind)
    paths = [str(q) for q in (queries or [])] + read_list(query_list)
    if expand and (text or not_text or copies):
        raise fail("--expand works with query images, not with --text / --not or --copies")
    if text or not_text:
        from pixseek.cli.text import text_search_command

        return text_search_command(text or [], not_text or [], paths, db, model, k, sheet, text_method, as_json,
                                   filter=flt, stack=stack, like=like or [], unlike=unlike or [])
    if not paths:
        raise fail("give at least one query image (or --list FILE)")
    results, errors, rows = [], [], []
    with open_library(db, model=model, readonly=True) as lib:
        lib.require_items()
        for t in flt.tags + flt.not_tags:
            lib.tag_names(t)  # an unknown tag is an error, not an empty answer
        marks = {"like": item_ids(lib, like), "unlike": item_ids(lib, unlike)}
        good = []
        for p in paths:
            if os.path.isdir(p):
                errors.append({"path": p, "error": "not-a-file", "cause": "is a folder; give image files as queries"})
                continue
            try:
                good.append((p, load_for(lib.encoder.preprocess, p)))
            except ImageError as err:
                errors.append(err.to_dict())
        if copies:
            from pixseek.cli.compare import stage_progress
            from pixseek.compare import copy_search

            with stage_progress() as progress:
                hit_lists = copy_search(lib, [im for _, im in good], k, progress=progress)
        else:
            hit_lists = lib.search([im for _, im in good], k, filter=flt, stack=stack, expand=expand, **marks) \
                if good else []
        for (p, im), hits in zip(good, hit_lists):
            results.append({"query": p, "hits": [h.to_dict() for h in hits]})
            rows.append((im, Path(p).name, [(hit_picture(h) if sheet is not None else h.path,
                                             f"{hit_label(h)}\n{h.score:.3f}") for h in hits]))
    if sheet is not None and rows:
        contact_sheet(rows, sheet)
    if as_json:
        emit_json({"results": results, "errors": errors})
    else:
        for r in results:
            print_hits(r["query"], r["hits"], flt)
        print_errors(errors)
        if sheet is not None and rows:
            console.print(f"contact sheet: {sheet}")
    if errors and not results:
        raise typer.Exit(2)


@app.command()
def embed(
    paths: Annotated[list[Path] | None, typer.Argument(help="Image files.")] = None,
    path_list: Annotated[Path | None, typer.Option("--list", help="File with one image path per line.")] = None,
    output: Annotated[Path, typer.Option("--out", "-o", help="Output .npy (float32, n x d, L2-normalised).")] = Path("embeddings.npy"),
    model: ModelOption = None,
    as_json: JsonOption = False,
) -> None:
    """Encode images to an .npy matrix; row order follows the readable inputs (listed in OUT.paths.txt)."""
    files = [str(p) for p in (paths or [])] + read_list(path_list)
    if not files:
        raise fail("give image paths or --list FILE")
    encoder = create_encoder(model)
    vectors, ok, errors = encode_paths(files, encoder=encoder)
    np.save(output, vectors)
    Path(str(output) + ".paths.txt").write_text("".join(p + "\n" for p in ok), encoding="utf-8")
    summary = {"out": str(output), "shape": list(vectors.shape), "model_id": encoder.model_id, "errors": errors}
    if as_json:
        emit_json(summary)
    else:
        print_errors(errors)
        console.print(f"wrote {output} {vectors.shape} ({encoder.model_id})")


@app.command("eval")
def eval_cmd(
    folder: Annotated[Path, typer.Argument(help="Labelled folder: one sub-folder per class.")],
    model: ModelOption = None,
    as_json: JsonOption = False,
) -> None:
    """Retrieval quality on a labelled folder: mAP, mAP@R, Recall@1/5/10 (each image queries all others)."""
    result = evaluate_folder(folder, create_encoder(model))
    if as_json:
        emit_json(result)
        return
    print_errors(result["errors"])
    table = Table(title=f"{folder} — {result['images']} images, {result['classes']} classes, {result['model_id']}")
    for key in ("map", "map_at_r", "recall@1", "recall@5", "recall@10"):
        table.add_column(key)
    table.add_row(*(f"{result[k]:.4f}" for k in ("map", "map_at_r", "recall@1", "recall@5", "recall@10")))
    out.print(table)


@app.command()
def tags(
    images: Annotated[list[Path], typer.Argument(help="Image file(s).")],
    model: ModelOption = None,
    k: Annotated[int, typer.Option("-k", "--top", help="Labels per image.")] = 5,
    as_json: JsonOption = False,
) -> None:
    """Top class labels with probabilities (ImageNet-1k for the default encoder)."""
    encoder = create_encoder(model)
    if not encoder.labels:
        raise fail(f"encoder {encoder.model_id} has no classifier head")
    results, errors = [], []
    for path in images:
        try:
            im = load_for(encoder.preprocess, path)
        except ImageError as err:
            errors.append(err.to_dict())
            continue
        probs = encoder.embed_pixels(encoder.transform()(im)[None]).probs[0]
        labels = []
        for group, start, stop in encoder.label_groups():  # a trained tagger: its labels, then ImageNet's
            top = start + np.argsort(-probs[start:stop])[:k]
            labels += [{"label": encoder.labels[i], "prob": round(float(probs[i]), 5), "group": group} for i in top]
        results.append({"path": str(path), "labels": labels})
    if as_json:
        emit_json({"results": results, "errors": errors})
    else:
        for r in results:
            out.print(f"[bold]{r['path']}[/bold]")
            for lab in r["labels"]:
                out.print(f"  {lab['prob']:.3f}  {lab['label']}" + (f"  [{lab['group']}]" if lab["group"] != "labels" else ""))
        print_errors(errors)
    if errors and not results:
        raise typer.Exit(2)


@app.command()
def info(db: DbOption = None, as_json: JsonOption = False) -> None:
    """What a catalog holds: model, counts, index, schema version, last errors."""
    with open_library(db, readonly=True) as lib:
        data = lib.stats() | {"errors": lib.errors()}
    if as_json:
        emit_json(data)
    else:
        for key, val in data.items():
            if key != "errors":
                out.print(f"{key:>15}: {val}")
        print_errors(data["errors"])


@app.command()
def models(as_json: JsonOption = False) -> None:
    """List registered encoders."""
    rows = [{"name": s.name, "offline": s.offline, "description": s.description,
             "input_size": s.preprocess.input_size} for s in list_encoders()]
    if as_json:
        emit_json(rows)
        return
    table = Table("name", "offline", "description")
    for r in rows:
        table.add_row(r["name"], "yes" if r["offline"] else "needs hub download once", r["description"])
    out.print(table)


@app.command()
def remove(paths: Annotated[list[Path], typer.Argument(help="Files to drop from the catalog.")], db: DbOption = None) -> None:
    """Remove files from the catalog and index (the files themselves are not touched)."""
    with open_library(db) as lib:
        n = lib.remove([os.fspath(p) for p in paths])
    console.print(f"removed {n} vector(s)")
