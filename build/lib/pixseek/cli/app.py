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

from pixseek import __version__
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
        console.print("[yellow]interrupted[/yellow]: committed batches are kept; re-run to resume")
        sys.exit(130)
