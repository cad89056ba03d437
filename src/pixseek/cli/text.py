"""``pixseek search --text ... [--not ...] [IMAGE]``: the text branch of the search command."""
from __future__ import annotations

from pathlib import Path

from PIL import Image

from pixseek.cli.app import console, emit_json, fail, out
from pixseek.cli.hits import item_ids, print_hits
from pixseek.errors import ImageError
from pixseek.preprocess import load_for
from pixseek.report import contact_sheet
from pixseek.wiring import open_library
from pixseek.search.video import hit_label, hit_picture


def describe(texts: list[str], nots: list[str], image: str | None) -> str:
    parts = ([f"like {image}"] if image else []) + [f"+{t!r}" for t in texts] + [f"-{t!r}" for t in nots]
    return " ".join(parts)


def text_search_command(texts: list[str], nots: list[str], images: list[str], db, model, k: int,
                        sheet: Path | None, method: str | None, as_json: bool, *, filter=None,  # noqa: A002
                        stack: bool = True, like: list[str] = (), unlike: list[str] = ()) -> None:
    """The text branch of ``pixseek search``: the same filters, stacks, weak-match line and relevance
    feedback as an image search (the library's one read path)."""
    from pixseek.text import TextQuery, TextSearchConfig, TextSearcher

    if len(images) > 1:
        raise fail("text search takes at most one query image (\"like this, but ...\")")
    image_path = images[0] if images else None
    with open_library(db, model=model, readonly=True) as lib:
        lib.require_items()
        for t in (filter.tags + filter.not_tags) if filter is not None else ():
            lib.tag_names(t)  # an unknown tag is an error, not an empty answer
        marks = {"like": item_ids(lib, like), "unlike": item_ids(lib, unlike)}
        try:
            searcher = TextSearcher(lib, TextSearchConfig(method=method))
        except ValueError as exc:
            raise fail(str(exc)) from exc
        picture, vector = None, None
        if image_path is not None:
            try:
                picture = load_for(lib.encoder.preprocess, image_path)
            except ImageError as err:
                raise fail(f"{err.path}: {err.cause}") from err
            vector = lib.embed([picture])[0]
        result = searcher.search(TextQuery(tuple(texts), tuple(nots), vector), k, filter, stack=stack, **marks)
        query = describe(texts, nots, image_path)
        rows = [(picture if picture is not None else Image.new("RGB", (64, 64), "white"), query,
                 [(hit_picture(h) if sheet is not None else h.path, f"{hit_label(h)}\n{h.score:.3f}")
                  for h in result.hits])]
    if sheet is not None:
        contact_sheet(rows, sheet)
    if as_json:
        emit_json({"results": [{"query": query, **result.to_dict()}], "errors": []})
        return
    for w in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")
    for t in result.terms:
        if t.matched and t.labels:
            sign = "-" if t.negative else "+"
            more = t.classes - sum(1 for n, _, _ in t.labels[:5] if not n.startswith("colour "))
            out.print(f"  {sign}{t.text!r} -> " + ", ".join(f"{n} {w:.2f}" for n, _, w in t.labels[:5])
                      + (f" (+{more} more classes)" if more > 0 else ""))
    print_hits(f"{query}  ({result.method})", [h.to_dict() for h in result.hits], filter)
    if sheet is not None:
        console.print(f"contact sheet: {sheet}")
