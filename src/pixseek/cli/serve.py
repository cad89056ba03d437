"""``pixseek serve``: the HTTP API and web page over a catalog, served by uvicorn (one process,
encoder loaded once; searches on a thread pool, writes serialised)."""
from __future__ import annotations

import os
import socket
import stat
from pathlib import Path
from typing import Annotated

import typer

from pixseek._extras import require
from pixseek.cli.app import DbOption, ModelOption, app, console, fail
from pixseek.wiring import open_library
from pixseek.search.wiring import default_db_path


def _read_key_file(path: Path) -> str:
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise fail(f"{path}: --api-key-file is not a regular file")
        key = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"{path}: cannot read the API key file ({exc})") from exc
    if not key:
        raise fail(f"{path}: the API key file is empty")
    if st.st_mode & 0o077:
        console.print(f"[yellow]note:[/yellow] {path} is readable by other users (chmod 600 it)")
    return key


@app.command()
def serve(
    db: DbOption = None,
    model: ModelOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    api_key: Annotated[str | None, typer.Option("--api-key", help="Key that write endpoints require (none = read-only). Visible to other users in `ps`: prefer --api-key-file or $PIXSEEK_API_KEY.", show_default=False)] = None,
    api_key_file: Annotated[Path | None, typer.Option("--api-key-file", help="Read the API key from this file (whitespace stripped; keep it chmod 600). Also read from $PIXSEEK_API_KEY.", show_default=False)] = None,
    allowed_host: Annotated[list[str] | None, typer.Option("--allowed-host", help="Also answer requests whose Host header is NAME (repeatable; default: the --host address, plus localhost/127.0.0.1/[::1] on loopback). Other hosts get 400 invalid host.")] = None,
    root: Annotated[list[Path] | None, typer.Option("--root", help="Folder that images may be served or indexed from (repeatable; default: the folders the catalog holds).")] = None,
    max_upload_mb: Annotated[float | None, typer.Option(help="Largest request body in MiB (default 20).")] = None,
    max_pixels: Annotated[int | None, typer.Option(help="Largest decoded image in pixels (default 40M).")] = None,
    cors_origin: Annotated[list[str] | None, typer.Option("--cors-origin", help="Allow this browser origin (repeatable; default: CORS off).")] = None,
    threads: Annotated[int | None, typer.Option(help="Search threads (default: cores, at most 4).")] = None,
    blas_threads: Annotated[int, typer.Option("--blas-threads", min=1, help="Threads one search's matrix products may use (default 1: searches already run side by side on --threads; more oversubscribes the cores: bench/RESULTS.md, issue 7).")] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Serve the HTTP API and web page: open http://HOST:PORT/ and drop an image."""
    uvicorn = require("server", "uvicorn", "fastapi", "python_multipart", "fastapi_offline", "threadpoolctl",
                      feature="'pixseek serve'")
    from threadpoolctl import threadpool_info, threadpool_limits

    from pixseek.api import create_app, settings_from_env
    from pixseek.api.app import server_config
    from pixseek.api.settings import hosts_for, is_loopback

    path = Path(db) if db is not None else default_db_path()
    if not path.exists():
        raise fail(f"{path}: no catalog here; build one first with `pixseek index FOLDER --db {path}`")
    if api_key is not None and api_key_file is not None:
        raise fail("give --api-key or --api-key-file, not both")
    if api_key is not None:
        console.print("[yellow]note:[/yellow] --api-key is visible to other users in `ps`; "
                      "prefer --api-key-file PATH or $PIXSEEK_API_KEY")
    if api_key_file is not None:
        api_key = _read_key_file(api_key_file)
    names = list(allowed_host or ())
    if host in ("0.0.0.0", "::"):  # every interface: also this machine's own name
        names += [socket.gethostname(), socket.getfqdn()]
        if not allowed_host:
            console.print("[yellow]note:[/yellow] listening on every interface: only requests to localhost or "
                          f"{socket.gethostname()} are answered; add the names or addresses clients use with --allowed-host")
    settings = settings_from_env(
        allowed_hosts=hosts_for(host, names), api_key=api_key, roots=tuple(root) if root else None,
        cors_origins=tuple(cors_origin) if cors_origin else None,
        max_upload_bytes=int(max_upload_mb * 1024 * 1024) if max_upload_mb else None, max_pixels=max_pixels,
        search_threads=threads)
    # the process's BLAS thread policy is the server's to set (the library changes no process-wide state):
    # many small searches at once, each on one thread, instead of each one's products on every core
    with threadpool_limits(limits=blas_threads, user_api="blas"), open_library(path, model=model) as lib:
        web_app = create_app(lib, settings)
        mode = "read-only (no API key)" if settings.read_only else "writes need the API key"
        if not is_loopback(host):
            console.print(f"[yellow]note:[/yellow] listening on {host}: reachable from other machines over plain HTTP")
        blas = sorted({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
        console.print(f"[bold]pixseek[/bold] serving {len(lib)} images from {path} ({lib.model_id}); {mode}; "
                      f"searches on {settings.search_threads} threads, matrix products on "
                      f"{'/'.join(map(str, blas)) or '?'} BLAS thread{'s' if blas != [1] else ''} each")
        console.print(f"open [link]http://{host if ':' not in host else f'[{host}]'}:{port}/[/link]  (Ctrl+C to stop)")
        config = server_config(web_app, settings, host=host, port=port, log_level="info", access_log=access_log,
                               timeout_graceful_shutdown=5)
        uvicorn.Server(config).run()
