"""How the search commands (image and text) read marks and print ranked hits: one way for both."""
from __future__ import annotations

from pixseek.cli.app import fail, out
from pixseek.io.video import format_timestamp


def item_ids(lib, marks: list[str] | None) -> list[int]:
    """``--like`` / ``--unlike`` values: item ids, or paths of indexed files (their first vector)."""
    found = []
    for m in marks or ():
        if m.isdigit():
            found.append(int(m))
            continue
        ids = lib.vector_ids_of(m)
        if not ids:
            raise fail(f"{m}: not an item id nor an indexed file")
        found.append(ids[0])
    return found


def print_hits(title: str, hits: list[dict], flt=None) -> None:
    """Ranked hits, a "weaker matches" line before the first weak one, stacked copies counted."""
    out.print(f"[bold]{title}[/bold]")
    if not hits:
        out.print("  no matches" + (" (with these filters)" if flt is not None and flt.active else ""))
    weak_shown = False
    for rank, h in enumerate(hits, 1):
        if h.get("weak") and not weak_shown:
            out.print("  [dim]── weaker matches ──[/dim]")
            weak_shown = True
        at = f" @ {format_timestamp(h['t_sec'])}" if h.get("kind") == "video" else ""
        if at and h["t_end"] > h["t_start"]:  # frames of one shot merged: the span they cover
            at += f"  ({format_timestamp(h['t_start'])}–{format_timestamp(h['t_end'])})"
        n = len(h.get("copies", ()))
        more = f"  [dim]+{n} {'copy' if n == 1 else 'copies'}[/dim]" if n else ""
        out.print(f"  {rank:>3}  {h['score']:.4f}  {h['path']}{at}{more}")
