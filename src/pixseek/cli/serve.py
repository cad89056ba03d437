"""``pixseek serve``: the HTTP API and web page over a catalog, served by uvicorn (one process,
encoder loaded once; searches on a thread pool, writes serialised)."""
from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from pixseek._extras import require
from pixseek.cli.app import DbOption, ModelOption, app, console, fail
from pixseek.search import open_library
from pixseek.search.wiring import default_db_path


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
def serve(
    db: DbOption = None,
    model: ModelOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    api_key: Annotated[str | None, typer.Option("--api-key", help="Key that write endpoints require (default: $PIXSEEK_API_KEY; none = read-only).", show_default=False)] = None,
    root: Annotated[list[Path] | None, typer.Option("--root", help="Folder that images may be served or indexed from (repeatable; default: the folders the catalog holds).")] = None,
    max_upload_mb: Annotated[float | None, typer.Option(help="Largest request body in MiB (default 20).")] = None,
    max_pixels: Annotated[int | None, typer.Option(help="Largest decoded image in pixels (default 40M).")] = None,
    cors_origin: Annotated[list[str] | None, typer.Option("--cors-origin", help="Allow this browser origin (repeatable; default: CORS off).")] = None,
    threads: Annotated[int | None, typer.Option(help="Search threads (default: cores, at most 4).")] = None,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Serve the HTTP API and web page: open http://HOST:PORT/ and drop an image."""
    uvicorn = require("server", "uvicorn", "fastapi", "python_multipart", "fastapi_offline", feature="'pixseek serve'")
    from pixseek.api import create_app, settings_from_env

    path = Path(db) if db is not None else default_db_path()
    if not path.exists():
        raise fail(f"{path}: no catalog here; build one first with `pixseek index FOLDER --db {path}`")
    settings = settings_from_env(
        api_key=api_key, roots=tuple(root) if root else None, cors_origins=tuple(cors_origin) if cors_origin else None,
        max_upload_bytes=int(max_upload_mb * 1024 * 1024) if max_upload_mb else None, max_pixels=max_pixels,
        search_threads=threads)
    with open_library(path, model=model) as lib:
        web_app = create_app(lib, settings)
        mode = "read-only (no API key)" if settings.read_only else "writes need the API key"
        if not _is_loopback(host):
            console.print(f"[yellow]note:[/yellow] listening on {host}: reachable from other machines over plain HTTP")
        console.print(f"[bold]pixseek[/bold] serving {len(lib)} images from {path} ({lib.model_id}); {mode}")
        console.print(f"open [link]http://{host if ':' not in host else f'[{host}]'}:{port}/[/link]  (Ctrl+C to stop)")
        uvicorn.run(web_app, host=host, port=port, log_level="info", access_log=access_log,
                    timeout_graceful_shutdown=5, server_header=False)
