"""The Typer app, its console, and the shared edges: options, JSON output, errors -> exit codes."""
from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from pixseek.version import __version__
from pixseek.errors import PixseekError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="pixseek: index a folder of images, search by example, offline.")
console = Console(stderr=True)
out = Console(highlight=False, soft_wrap=True)

DbOption = Annotated[Path | None, typer.Option("--db", help="Catalog file (default: $PIXSEEK_DB or ~/.local/share/pixseek/library.db).")]
ModelOption = Annotated[str | None, typer.Option("--model", "-m", help="Encoder name or trained model file (default: the catalog's, or efficientnet_lite0).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


def _print_version(value: bool) -> None:
    if value:
        out.print(f"pixseek {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """pixseek: index a folder of images, search by example, offline."""


TagOption = Annotated[list[str] | None, typer.Option("--tag", help="Only images with this tag (repeatable: all of them; see `pixseek tags`).")]
NotTagOption = Annotated[list[str] | None, typer.Option("--not-tag", help="Leave out images with this tag (repeatable).")]
FolderOption = Annotated[list[Path] | None, typer.Option("--folder", help="Only files under this folder (repeatable: any of them).")]
NotFolderOption = Annotated[list[Path] | None, typer.Option("--not-folder", help="Leave out files under this folder (repeatable).")]
SinceOption = Annotated[str | None, typer.Option("--since", help="Taken on or after this day (YYYY-MM-DD; EXIF date, else file date).")]
UntilOption = Annotated[str | None, typer.Option("--until", help="Taken on or before this day (YYYY-MM-DD).")]
CameraOption = Annotated[str | None, typer.Option("--camera", help="Only pictures whose EXIF camera make/model contains this.")]
KindOption = Annotated[str | None, typer.Option("--kind", help="image | video")]
LikeOption = Annotated[list[str] | None, typer.Option("--like", help="More like this item (id or path from an earlier answer; repeatable): relevance feedback.")]
UnlikeOption = Annotated[list[str] | None, typer.Option("--unlike", help="Less like this item (id or path; repeatable).")]
StackOption = Annotated[bool, typer.Option("--stack/--no-stack", help="Stack near-duplicates under their best hit (listed as copies).")]


def parse_day(text: str | None, option: str):
    from datetime import date

    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise fail(f"{option} wants a day as YYYY-MM-DD, got '{text}'") from None


def make_filter(tag=None, not_tag=None, folder=None, not_folder=None, since=None, until=None, camera=None, kind=None):
    """The CLI's filter options as the library's one :class:`~pixseek.search.Filter`."""
    from pixseek.search import Filter

    if kind not in (None, "image", "video"):
        raise fail(f"--kind is image or video, got '{kind}'")
    return Filter.build(tags=tag or (), not_tags=not_tag or (), folders=[str(f) for f in folder or ()],
                        not_folders=[str(f) for f in not_folder or ()], since=parse_day(since, "--since"),
                        until=parse_day(until, "--until"), camera=camera, kind=kind)


def emit_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


@contextmanager
def progress_bar(description: str, enabled: bool = True):
    """Yield a ``(done, total)`` callback that drives a Rich progress bar on stderr."""
    if not enabled:
        yield None
        return
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                  console=console, transient=False) as prog:
        task = prog.add_task(description, total=None, rate="")

        def update(done: int, total: int | None) -> None:
            elapsed = prog.tasks[task].elapsed or 0
            rate = f"{done / elapsed:.1f} img/s" if elapsed > 0 and done else ""
            prog.update(task, completed=done, total=total, rate=rate)

        yield update


def fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def main() -> None:
    try:
        app()
    except PixseekError as exc:  # a typed error (a missing extra included): one line, exit 2
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("[yellow]stopped[/yellow]: committed batches are kept; re-run to resume")
        sys.exit(130)
