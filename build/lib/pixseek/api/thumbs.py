"""Thumbnails, generated once per (content hash, size) and kept on disk next to the catalog."""
from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

from PIL import Image

from pixseek.io import load_image
from pixseek.io.video import frame_at

THUMB_QUALITY = 82


class ThumbnailCache:
    """``get(path, sha256)`` -> a JPEG file no larger than ``px`` on its longer side.

    Keyed by the file's content hash, so an edited file gets a new thumbnail and identical files
    share one. Written to a temporary name and renamed, so readers never see half a file; a
    per-key lock makes concurrent first requests generate it once.
    """

    def __init__(self, folder: Path, px: int = 320, max_pixels: int | None = None):
        self.folder = Path(folder)
        self.px = px
        self.max_pixels = max_pixels
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.generated = 0

    def path_for(self, sha256: str, t_sec: float | None = None) -> Path:
        at = "" if t_sec is None else f"@{t_sec:.3f}"  # a video's frame at t_sec
        return self.folder / sha256[:2] / f"{sha256}{at}-{self.px}.jpg"

    def etag(self, sha256: str, t_sec: float | None = None) -> str:
        return f'"{sha256[:24]}-{self.px}"' if t_sec is None else f'"{sha256[:24]}@{t_sec:.3f}-{self.px}"'

    def get(self, source: Path, sha256: str, t_sec: float | None = None) -> Path:
        target = self.path_for(sha256, t_sec)
        if target.exists():
            return target
        with self._guard:
            lock = self._locks.setdefault(sha256, threading.Lock())
        with lock:
            if not target.exists():
                self._make(source, target, t_sec)
                self.generated += 1
        with self._guard:
            self._locks.pop(sha256, None)
        return target

    def _make(self, source: Path, target: Path, t_sec: float | None = None) -> None:
        kwargs = {"min_side": self.px} if self.max_pixels is None else {"min_side": self.px, "max_pixels": self.max_pixels}
        im = load_image(source, **kwargs) if t_sec is None else frame_at(source, t_sec, short_side=self.px)
        im.thumbnail((self.px, self.px), Image.Resampling.LANCZOS, reducing_gap=2.0)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                im.save(fh, "JPEG", quality=THUMB_QUALITY, optimize=True, progressive=True)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
