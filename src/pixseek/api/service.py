"""The search service behind the HTTP API: a :class:`~pixseek.search.Library` made safe to share.

Searches run concurrently (decode and encode need no lock; the index is read under a shared lock);
writes take the exclusive lock, so the index and catalog never change under a running search.
A :class:`Snapshot` of item metadata, labels and roots is rebuilt after each write and read
lock-free by every request.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

from pixseek.api.backends import TextSearch
from pixseek.api.errors import ApiError
from pixseek.api.paths import PathGuard
from pixseek.api.rwlock import ReadWriteLock
from pixseek.api.settings import ApiSettings
from pixseek.errors import ImageError
from pixseek.preprocess import load_for
from pixseek.search import Filter, Hit, IndexReport, Library, UnknownTagError
from pixseek.store.catalog import ItemRow

TOP_LABELS = 3
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Filters:
    """The API's filter parameters (folders relative to the indexed roots), turned into the
    library's one :class:`~pixseek.search.Filter` by :meth:`SearchService.filter_for`."""

    tag: str | None = None
    folder: str | None = None
    since: date | None = None
    until: date | None = None
    not_tag: str | None = None
    not_folder: str | None = None
    camera: str | None = None

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.tag, self.folder, self.since, self.until, self.not_tag,
                                           self.not_folder, self.camera))


@dataclass(frozen=True)
class Snapshot:
    """What shaping an answer needs beyond the rows, for one catalog generation: the roots (and the
    guard over them). Small: it never copies the catalog."""

    generation: int
    guard: PathGuard
    roots: tuple[str, ...]


def upload_name(name: str | None) -> str:
    base = os.path.basename((name or "upload").replace("\\", "/")) or "upload"
    return base[:120]


class SearchService:
    """Every read runs under the read side of ``lock`` (text, duplicates and compare included) after
    the library has caught up with other writers' commits (a replay of the catalog's change log under
    the write side); writes take the write side. Filters are answered by the library in SQL."""

    def __init__(self, library: Library, settings: ApiSettings, text_search: TextSearch | None = None):
        self.library = library
        self.settings = settings
        self.text_search = text_search
        self.lock = ReadWriteLock()
        self.vocab = library.vocab
        self.upload_dir = Path(settings.upload_dir or library.layout.uploads)
        self.thumb_dir = Path(settings.thumb_dir or library.layout.thumbs)
        self._snap: Snapshot | None = None
        self._snap_lock = threading.Lock()
        self.ready = False

    # -- lifecycle ------------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Catch up with the catalog and run the encoder once, so the first user search is not the slow one."""
        self.refresh()
        self.library.encoder.encode_images([Image.new("RGB", (64, 64), (128, 128, 128))])
        if self.text_search is not None:
            with self.reading():
                self.text_search.warm()
        self.ready = True

    def catch_up(self) -> None:
        """Replay what other processes committed (e.g. `pixseek index` on the same catalog)."""
        if self.library.catalog_generation != self.library.generation:
            with self.lock.write():
                self.library.sync()

    @contextmanager
    def reading(self):
        """Read access after :meth:`catch_up`: the index a search sees is never behind a committed generation."""
        self.catch_up()
        with self.lock.read():
            yield

    @property
    def snapshot(self) -> Snapshot:
        snap = self._snap
        if snap is not None and snap.generation == self.library.catalog_generation:
            return snap
        return self.refresh()

    @property
    def current(self) -> Snapshot:
        """The latest snapshot without checking the catalog (for shaping answers on the event loop)."""
        return self._snap if self._snap is not None else self.refresh()

    def refresh(self) -> Snapshot:
        with self._snap_lock:
            gen = self.library.catalog_generation
            if self._snap is not None and self._snap.generation == gen:
                return self._snap
            roots = tuple(str(r) for r in self.settings.roots) or tuple(self.library.roots())
            self._snap = Snapshot(gen, PathGuard([*roots, self.upload_dir]), roots)
            return self._snap

    # -- reading --------------------------------------------------------------------------------
    def decode_upload(self, data: bytes, name: str) -> Image.Image:
        """Upload bytes -> RGB image; :class:`ImageError` (naming the upload) when unreadable or too large."""
        return load_for(self.library.encoder.preprocess, name, data=io.BytesIO(data),
                        max_pixels=self.settings.max_pixels)

    def labels_of(self, snap: Snapshot, row: ItemRow) -> list[tuple[str, float]]:
        return self.library.tags_of([row.id]).get(row.id, [])[:TOP_LABELS]


    def filter_for(self, filters: Filters, exclude: tuple[int, ...] = ()) -> Filter:
        """API parameters -> the library's Filter (a folder relative to the roots names it under each)."""
        snap = self.snapshot

        def under(folder: str | None) -> tuple[str, ...]:
            f = (folder or "").strip("/")
            if f in ("", "."):
                return ()
            if ".." in Path(f).parts:
                raise ApiError(400, "bad-folder", f"{folder}: folders are given relative to the indexed roots")
            return tuple(os.path.join(r, f) for r in (*snap.roots, str(self.upload_dir)))

        return Filter(tags=(filters.tag,) if filters.tag else (), not_tags=(filters.not_tag,) if filters.not_tag else (),
                      folders=under(filters.folder), not_folders=under(filters.not_folder), since=filters.since,
                      until=filters.until, camera=filters.camera, exclude=exclude)

    def _rows(self, hits: list[Hit]) -> list[tuple[ItemRow, Hit]]:
        rows = {r.id: r for r in self.library.items(h.id for h in hits)}
        return [(rows[h.id], h) for h in hits if h.id in rows]

    def _query(self, vectors: np.ndarray, k: int, flt: Filter, stack: bool, like=(), unlike=(), expand: int = 0
               ) -> list[tuple[ItemRow, Hit]]:
        try:
            with self.reading():
                return self._rows(self.library.query(vectors, k, flt, stack=stack, like=like, unlike=unlike,
                                                     expand=expand)[0])
        except UnknownTagError as exc:
            raise ApiError(400, "unknown-tag", str(exc)) from exc

    def search_image(self, image: Image.Image, k: int, filters: Filters = Filters(), stack: bool = True,
                     like=(), unlike=(), expand: int = 0):
        vector = self.library.encoder.encode_images([image])
        return self._query(vector, k, self.filter_for(filters), stack, like, unlike, expand)

    def search_item(self, item_id: int, k: int, filters: Filters = Filters(), stack: bool = True,
                    like=(), unlike=(), expand: int = 0):
        row = self.item(item_id)
        vector = self.library.vectors([row.id])
        return row, self._query(vector, k, self.filter_for(filters, exclude=(row.id,)), stack, like, unlike, expand)

    def search_text(self, text: str, k: int, filters: Filters = Filters(), stack: bool = True, like=(), unlike=()):
        """(kind, hits, matched labels, warnings): through the text backend (the library's read path:
        filters, stacks, feedback, the relevance floor) when there is one, else a tag search."""
        if self.text_search is None:
            return ("tag", *self.search_tags(text, k, filters), [])
        flt = self.filter_for(filters)
        try:
            with self.reading():
                found = self.text_search(text, k, flt, stack=stack, like=like, unlike=unlike)
                return "text", self._rows(found.hits), list(found.labels), list(found.warnings)
        except UnknownTagError as exc:
            raise ApiError(400, "unknown-tag", str(exc)) from exc

    def search_tags(self, text: str, k: int, filters: Filters = Filters()):
        """Rank items by the stored probability of the labels ``text`` names (the library's tag policy)."""
        flt = self.filter_for(filters)
        try:
            names = self.library.tag_names(text)
        except UnknownTagError:
            return [], []
        with self.reading():
            ranked = self.library.tag_ranking(names, k, flt)
            rows = {r.id: r for r in self.library.items(i for i, _ in ranked)}
        hits = [(rows[i], Hit(rows[i].path, s, i, rows[i].t_sec, rows[i].kind)) for i, s in ranked if i in rows]
        best = max((s for _, s in ranked), default=0.0)
        return hits, [(n, best) for n in names[:8]]

    def item(self, item_id: int) -> ItemRow:
        rows = self.library.items([int(item_id)])
        if not rows:
            raise ApiError(404, "not-found", f"no item with id {item_id}")
        return rows[0]

    def list_items(self, filters: Filters, offset: int, limit: int) -> tuple[int, list[ItemRow]]:
        try:
            ids = self.library.item_ids(self.filter_for(filters))
        except UnknownTagError as exc:
            raise ApiError(400, "unknown-tag", str(exc)) from exc
        return len(ids), self.library.items(ids[offset:offset + limit])

    def facets(self, top: int = 40) -> dict:
        snap = self.snapshot
        folders: Counter = Counter()
        for d, n in self.library.folders():
            rel = snap.guard.relative(os.path.join(d, "x"))
            folders[os.path.dirname(rel)] += n
        lo, hi = self.library.date_range()
        return {"tags": self.library.tag_counts()[:top], "folders": sorted(folders.items()),
                "oldest": None if lo is None else iso_day(int(lo * 1e9)),
                "newest": None if hi is None else iso_day(int(hi * 1e9))}

    def source_file(self, row: ItemRow) -> Path:
        """The item's file, refused (403) when its real path has left the roots (e.g. a swapped symlink)."""
        real = self.snapshot.guard.resolve(row.path)
        if not real.is_file():
            raise ApiError(404, "file-missing", f"{row.path}: file is no longer on disk")
        return real

    def embed(self, image: Image.Image) -> np.ndarray:
        return self.library.encoder.encode_images([image])[0]

    # -- writing (callers run these on the single write thread) --------------------------------
    @contextmanager
    def _write(self):
        """Exclusive access for one of our own writes."""
        with self.lock.write():
            yield

    def add_uploads(self, uploads: list[tuple[str, bytes]]) -> tuple[IndexReport, list[ItemRow]]:
        """Store verified uploads under ``upload_dir`` (content-addressed names) and index them."""
        paths = []
        for name, data in uploads:
            im = Image.open(io.BytesIO(data))
            ext = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp",
                   "TIFF": ".tif"}.get(im.format or "", ".img")
            stem = SAFE_NAME.sub("_", Path(upload_name(name)).stem)[:60] or "upload"
            digest = hashlib.sha256(data).hexdigest()[:12]
            target = self.upload_dir / f"{stem}-{digest}{ext}"
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                tmp = target.with_suffix(target.suffix + ".tmp")
                tmp.write_bytes(data)
                os.replace(tmp, target)
            paths.append(str(target))
        with self._write():
            report = self.library.ingest(paths)
        self.refresh()
        added = self.library.items(i for p in paths for i in self.library.vector_ids_of(p))
        return report, added

    def index_path(self, path: str, prune: bool) -> IndexReport:
        snap = self.snapshot
        real = snap.guard.resolve(path, base=Path(snap.roots[0]) if snap.roots else None)  # not under the uploads
        if not real.exists():
            raise ApiError(404, "not-found", f"{path}: no such file or folder")
        with self._write():
            report = self.library.ingest(str(real), prune=prune)
        self.refresh()
        return report

    def move_copies(self, keep: int, move: list[int]) -> list[dict]:
        """Move the files of ``move`` (never ``keep``) into ``<db>.moved/`` (names kept, numbered on a
        clash) and drop them from the library. Every file must still be inside the roots."""
        if keep in move:
            raise ApiError(400, "bad-request", f"item {keep} is both kept and moved")
        self.item(keep)
        rows = [self.item(i) for i in move]
        dest = Path(str(self.library.layout.db) + ".moved")
        moved = []
        with self._write():
            for row in rows:
                real = self.source_file(row)
                dest.mkdir(parents=True, exist_ok=True)
                target, n = dest / real.name, 1
                while target.exists():
                    target, n = dest / f"{real.stem}-{n}{real.suffix}", n + 1
                shutil.move(str(real), target)
                moved.append({"id": row.id, "from": row.path, "to": str(target)})
            self.library.remove([r.path for r in rows])
        self.refresh()
        return moved

    def remove(self, item_ids: list[int]) -> int:
        rows = [self.item(i) for i in item_ids]
        with self._write():
            n = self.library.remove(sorted({r.path for r in rows}))
        self.refresh()
        return n


def iso_time(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def iso_day(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, timezone.utc).date().isoformat()


__all__ = ["Filters", "SearchService", "Snapshot", "ImageError", "iso_time", "upload_name"]
