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
from pixseek.api.paths import PathGuard, folders_of
from pixseek.api.rwlock import ReadWriteLock
from pixseek.api.settings import ApiSettings
from pixseek.api.tags import LabelVocabulary, has_tag, tag_scores
from pixseek.errors import ImageError
from pixseek.preprocess import load_for
from pixseek.search import Library
from pixseek.search.library import IndexReport
from pixseek.store.catalog import ItemRow

TOP_LABELS = 3
FILTER_FETCH = 50  # with filters, fetch k * this many neighbours before filtering
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Filters:
    tag: str | None = None
    folder: str | None = None
    since: date | None = None
    until: date | None = None

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.tag, self.folder, self.since, self.until))


@dataclass(frozen=True)
class Snapshot:
    """Everything a read needs about the stored items, for one catalog generation."""

    generation: int
    items: list[ItemRow]
    pos: dict[int, int]
    folders: list[str]
    mtime_ns: np.ndarray
    probs: np.ndarray | None  # (n, n_labels) float16 aligned with items, or None without a classifier
    top_idx: np.ndarray  # (n, TOP_LABELS)
    top_p: np.ndarray
    guard: PathGuard

    def rows(self, ids) -> list[ItemRow]:
        return [self.items[self.pos[i]] for i in ids if i in self.pos]


def upload_name(name: str | None) -> str:
    base = os.path.basename((name or "upload").replace("\\", "/")) or "upload"
    return base[:120]


class SearchService:
    def __init__(self, library: Library, settings: ApiSettings, text_search: TextSearch | None = None):
        self.library = library
        self.settings = settings
        self.text_search = text_search
        self.lock = ReadWriteLock()
        self.vocab = LabelVocabulary.for_encoder(library.encoder)
        db = Path(library.catalog.path)
        self.upload_dir = Path(settings.upload_dir or str(db) + ".uploads")
        self.thumb_dir = Path(settings.thumb_dir or str(db) + ".thumbs")
        self._snap: Snapshot | None = None
        self._snap_lock = threading.Lock()
        self._writing = False  # one of our writes is under way: its partial commits are not "external"
        self._own_generation: int | None = None  # the catalog generation our index matches
        self.ready = False

    # -- lifecycle ------------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Build the snapshot and run the encoder once, so the first user search is not the slow one."""
        self.refresh()
        self.library.encoder.encode_images([Image.new("RGB", (64, 64), (128, 128, 128))])
        self.ready = True

    @property
    def snapshot(self) -> Snapshot:
        snap = self._snap
        if snap is not None and (self._writing or snap.generation == self.library.catalog.generation):
            return snap
        return self.refresh()

    @property
    def current(self) -> Snapshot:
        """The latest snapshot without checking the catalog (for shaping answers on the event loop)."""
        return self._snap if self._snap is not None else self.refresh()

    def refresh(self) -> Snapshot:
        """Rebuild the snapshot for the catalog's current generation. When another process changed
        the catalog (e.g. `pixseek index` on the same file), the in-memory index is rebuilt from it first."""
        with self._snap_lock:
            cat = self.library.catalog
            gen = cat.generation
            if self._snap is not None and self._snap.generation == gen:
                return self._snap
            if self._snap is not None and not self._writing and gen != self._own_generation:
                with self.lock.write():
                    self.library.rebuild_index()
                    gen = cat.generation
            self._own_generation = gen
            items = cat.items()
            ids = [r.id for r in items]
            roots = list(self.settings.roots) or sorted(folders_of(r.path for r in items))
            guard = PathGuard([*roots, self.upload_dir])
            n_labels = len(self.vocab.labels) if self.vocab else 0
            probs = None
            if n_labels:
                got = cat.get_probs(ids)
                probs = np.zeros((len(items), n_labels), np.float16)
                for j, i in enumerate(ids):
                    p = got.get(i)
                    if p is not None and len(p) == n_labels:
                        probs[j] = p
            if probs is not None and len(items):
                part = (np.argpartition(-probs, TOP_LABELS, axis=1)[:, :TOP_LABELS] if n_labels > TOP_LABELS
                        else np.tile(np.arange(n_labels), (len(items), 1)))
                order = np.argsort(-np.take_along_axis(probs, part, 1), axis=1)
                top_idx = np.take_along_axis(part, order, 1)
                top_p = np.take_along_axis(probs, top_idx, 1).astype(np.float32)
            else:
                top_idx = np.zeros((len(items), 0), np.int64)
                top_p = np.zeros((len(items), 0), np.float32)
            snap = Snapshot(
                generation=gen, items=items, pos={i: j for j, i in enumerate(ids)},
                folders=[os.path.dirname(guard.relative(r.path)) for r in items],
                mtime_ns=np.fromiter((r.mtime_ns for r in items), np.int64, len(items)),
                probs=probs, top_idx=top_idx, top_p=top_p, guard=guard)
            self._snap = snap
            return snap

    # -- reading --------------------------------------------------------------------------------
    def decode_upload(self, data: bytes, name: str) -> Image.Image:
        """Upload bytes -> RGB image; :class:`ImageError` (naming the upload) when unreadable or too large."""
        return load_for(self.library.encoder.preprocess, name, data=io.BytesIO(data),
                        max_pixels=self.settings.max_pixels)

    def labels_of(self, snap: Snapshot, row: ItemRow) -> list[tuple[str, float]]:
        j = snap.pos.get(row.id)
        if j is None or not self.vocab or snap.top_idx.shape[1] == 0 or snap.top_p[j, 0] <= 0:
            return []
        return [(self.vocab.labels[int(c)], float(p)) for c, p in zip(snap.top_idx[j], snap.top_p[j])]

    def _mask(self, snap: Snapshot, filters: Filters) -> np.ndarray | None:
        if not filters.active:
            return None
        mask = np.ones(len(snap.items), bool)
        if filters.tag is not None:
            classes = self.vocab.match(filters.tag) if self.vocab else []
            if snap.probs is None or not classes:
                return np.zeros(len(snap.items), bool)
            mask &= has_tag(snap.probs, snap.top_idx[:, 0] if snap.top_idx.shape[1] else np.full(len(mask), -1),
                            classes)
        if filters.folder is not None:
            f = filters.folder.strip("/")
            if f in ("", "."):  # the top level of the roots only
                mask &= np.fromiter((d == "" for d in snap.folders), bool, len(mask))
            else:
                mask &= np.fromiter((d == f or d.startswith(f + "/") for d in snap.folders), bool, len(mask))
        if filters.since is not None:
            mask &= snap.mtime_ns >= _day_start_ns(filters.since)
        if filters.until is not None:
            mask &= snap.mtime_ns < _day_start_ns(filters.until) + 86_400 * 10**9
        return mask

    def _neighbours(self, snap: Snapshot, vector: np.ndarray, k: int, filters: Filters,
                    exclude: int | None = None) -> list[tuple[ItemRow, float]]:
        mask = self._mask(snap, filters)
        want = k + (exclude is not None)
        fetch = want if mask is None else min(len(snap.items), max(want * FILTER_FETCH, 1000))
        with self.lock.read():
            scores, ids = self.library.index.search(vector[None].astype(np.float32), max(1, fetch))
        out = []
        for s, i in zip(scores[0], ids[0]):
            j = snap.pos.get(int(i))
            if j is None or int(i) == exclude or (mask is not None and not mask[j]):
                continue
            out.append((snap.items[j], float(s)))
            if len(out) == k:
                break
        return out

    def search_image(self, image: Image.Image, k: int, filters: Filters = Filters()):
        snap = self.snapshot
        vector = self.library.encoder.encode_images([image])[0]
        return self._neighbours(snap, vector, k, filters)

    def search_item(self, item_id: int, k: int, filters: Filters = Filters()):
        snap = self.snapshot
        row = self.item(item_id)
        vector = self.library.catalog.get_vectors([row.id], self.library.dim)[0]
        return row, self._neighbours(snap, vector, k, filters, exclude=row.id)

    def search_text(self, text: str, k: int, filters: Filters = Filters()):
        """(kind, hits, matched labels): through the text backend when there is one, else a tag search."""
        if self.text_search is None:
            return ("tag", *self.search_tags(text, k, filters))
        snap = self.snapshot
        mask = self._mask(snap, filters)
        found = self.text_search(text, k if mask is None else min(len(snap.items), k * FILTER_FETCH))
        hits = [(snap.items[snap.pos[i]], float(s)) for i, s in found
                if i in snap.pos and (mask is None or mask[snap.pos[i]])]
        return "text", hits[:k], list(getattr(found, "labels", []))  # labels the backend matched, when it says

    def search_tags(self, text: str, k: int, filters: Filters = Filters()):
        """Rank items by the probability their stored labels give to the classes ``text`` names."""
        snap = self.snapshot
        classes = self.vocab.match(text) if self.vocab else []
        if not classes or snap.probs is None:
            return [], []
        scores = tag_scores(snap.probs, classes)
        mask = self._mask(snap, filters)
        if mask is not None:
            scores = np.where(mask, scores, -1.0)
        order = np.argsort(-scores, kind="stable")[:k]
        hits = [(snap.items[j], float(scores[j])) for j in order if scores[j] > 0.01]
        matched = [(self.vocab.labels[c], float(snap.probs[:, c].astype(np.float32).max())) for c in classes[:8]]
        return hits, matched

    def item(self, item_id: int) -> ItemRow:
        snap = self.snapshot
        j = snap.pos.get(int(item_id))
        if j is None:
            raise ApiError(404, "not-found", f"no item with id {item_id}")
        return snap.items[j]

    def list_items(self, filters: Filters, offset: int, limit: int) -> tuple[int, list[ItemRow]]:
        snap = self.snapshot
        mask = self._mask(snap, filters)
        idx = np.arange(len(snap.items)) if mask is None else np.flatnonzero(mask)
        return len(idx), [snap.items[j] for j in idx[offset:offset + limit]]

    def facets(self, top: int = 40) -> dict:
        snap = self.snapshot
        tags: Counter = Counter()
        if self.vocab and snap.top_idx.shape[1]:
            for c, p in zip(snap.top_idx[:, 0], snap.top_p[:, 0]):
                if p > 0:
                    tags[self.vocab.labels[int(c)]] += 1
        folders = Counter(snap.folders)
        times = snap.mtime_ns
        return {"tags": tags.most_common(top), "folders": sorted(folders.items()),
                "oldest": iso_day(int(times.min())) if len(times) else None,
                "newest": iso_day(int(times.max())) if len(times) else None}

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
        """Exclusive access for one of our own writes; the generation it ends at is ours."""
        with self.lock.write():
            self._writing = True
            try:
                yield
            finally:
                self._own_generation = self.library.catalog.generation
                self._writing = False

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
            report = self.library.add(paths)
        snap = self.refresh()
        added = [snap.items[snap.pos[i]] for p in paths for i in self.library.catalog.vectors_for_path(p)
                 if i in snap.pos]
        return report, added

    def index_path(self, path: str, prune: bool) -> IndexReport:
        real = self.snapshot.guard.resolve(path)
        if not real.exists():
            raise ApiError(404, "not-found", f"{path}: no such file or folder")
        with self._write():
            report = self.library.add(str(real), prune=prune)
        self.refresh()
        return report

    def remove(self, item_ids: list[int]) -> int:
        rows = [self.item(i) for i in item_ids]
        with self._write():
            n = self.library.remove(sorted({r.path for r in rows}))
        self.refresh()
        return n


def _day_start_ns(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=timezone.utc).timestamp()) * 10**9


def iso_time(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def iso_day(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, timezone.utc).date().isoformat()


__all__ = ["Filters", "SearchService", "Snapshot", "ImageError", "iso_time", "upload_name"]
