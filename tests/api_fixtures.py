"""Helpers for the API and browser tests: a real index of the sample gallery, a real uvicorn server."""
from __future__ import annotations

import io
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from PIL import Image

import pixseek
from pixseek.api import ApiSettings, create_app

REPO = Path(__file__).resolve().parents[1]
GALLERY = REPO / "samples" / "gallery"
QUERIES = REPO / "samples" / "queries"
API_KEY = "test-key-0123456789"


def indexed_copy(dst: Path, names: list[str] | None = None):
    """Copy (some of) the gallery to ``dst/gallery`` and index it into ``dst/lib.db``; returns the open library."""
    folder = dst / "gallery"
    folder.mkdir(parents=True, exist_ok=True)
    for p in sorted(GALLERY.iterdir()):
        if names is None or p.name in names:
            shutil.copy2(p, folder / p.name)
    lib = pixseek.open(dst / "lib.db")
    report = lib.add(folder)
    assert report.added == len(list(folder.iterdir())) and not report.errors, report.to_dict()
    return lib


def jpeg_bytes(path: Path, *, scale: float = 1.0, quality: int = 85, mirror: bool = False, crop: float = 0.0) -> bytes:
    """An edited copy of ``path`` (a planted near-neighbour) as JPEG bytes."""
    im = Image.open(path).convert("RGB")
    if crop:
        w, h = im.size
        im = im.crop((int(w * crop), int(h * crop), int(w * (1 - crop)), int(h * (1 - crop))))
    if mirror:
        im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if scale != 1.0:
        im = im.resize((max(1, int(im.width * scale)), max(1, int(im.height * scale))))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(library, settings: ApiSettings | None = None):
    """Run ``create_app(library, settings)`` under a real uvicorn on a free loopback port (in a thread)."""
    app = create_app(library, settings or ApiSettings())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if server.started and httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("test server did not become ready")
        time.sleep(0.1)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=15)
