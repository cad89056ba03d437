"""The one search service object. The CLI, the HTTP API and the web page are thin layers over it."""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from pixseek import faults
from pixseek.encoders import Encoder
from pixseek.encoders.base import Embedding
from pixseek.index import VectorIndex, create_index, load_index
from pixseek.index.auto import resolve_kind
from pixseek.io import IMAGE_EXTENSIONS, walk_files
from pixseek.io.video import VIDEO_EXTENSIONS, is_video
from pixseek.preprocess import load_for
from pixseek.search.pipeline import Decoded, batched, decode_stream
from pixseek.store import Catalog
from pixseek.store.catalog import FileState, NewFile

TRAIN_SAMPLE = 50_000
Query = str | os.PathLike | Image.Image | np.ndarray
Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class Hit:
    path: str
    score: float
    id: int
    t_sec: float | None = None
    kind: str = "image"
    t_start: float | None = None  # a video hit merged over a shot: its time range (t_sec is the best frame)
    t_end: float | None = None

    def to_dict(self) -> dict:
        d = {"path": self.path, "score": round(float(self.score), 6), "id": self.id}
        if self.t_sec is not None:
            d["t_sec"] = self.t_sec
        if self.kind != "image":
            d |= {"kind": self.kind, "t_start": self.t_start, "t_end": self.t_end}
        return d


@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    errors: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def encoded(self) -> int:
        return self.added + self.updated

    def to_dict(self) -> dict:
        return asdict(self)


class Library:
    """A catalog, an encoder and an index kept in step.

    The catalog is the source of truth; the index is rebuilt from it whenever its saved
    generation does not match the catalog's (a crash between the two leaves nothing wrong).
    """

    def __init__(self, catalog: Catalog, encoder: Encoder, index_kind: str = "flat",
                 index_params: dict | None = None, batch_size: int = 32):
        self.catalog = catalog
        self.encoder = encoder
        self.batch_size = batch_size
        self.requested_kind = index_kind
        self.index_kind, self.index_note = resolve_kind(index_kind, catalog.count_vectors(), encoder.embed_dim)
        self.index_params = index_params or {}
        self.index_path = Path(str(catalog.path) + ".index")
        self.meta_path = Path(str(catalog.path) + ".index.json")
        self.index: VectorIndex = self._open_index()
        # per-batch callbacks (decoded images, their new vector ids), e.g. region descriptors (pixseek.compare)
        self.extras: list[Callable[[list[Decoded], list[int]], None]] = []

    # -- index lifecycle ------------------------------------------------------------------------
    @property
    def model_id(self) -> str:
        return self.encoder.model_id

    @property
    def dim(self) -> int:
        return self.encoder.embed_dim

    def _open_index(self) -> VectorIndex:
        meta = self._read_index_meta()
        if (meta and meta.get("generation") == self.catalog.generation and meta.get("kind") == self.index_kind
                and self.index_path.exists()):
            return load_index(self.index_path, self.index_kind)
        return self.rebuild_index()

    def _read_index_meta(self) -> dict | None:
        try:
            return json.loads(self.meta_path.read_text())
        except (OSError, ValueError):
            return None

    def rebuild_index(self) -> VectorIndex:
        """Build the index afresh from the catalog's vectors, streamed in batches; indexes that
        learn quantizers train on a random sample of at most ``TRAIN_SAMPLE`` vectors."""
        params = self.index_params if self.index_kind == self.requested_kind else {}
        index = create_index(self.index_kind, self.dim, **params)
        if not index.is_trained and self.catalog.count_vectors():
            index.train(self.catalog.sample_vectors(TRAIN_SAMPLE, self.dim))
        index.fill(self.catalog.iter_vectors(self.dim))
        self.index = index
        return index

    def save(self) -> None:
        """Write the index atomically, then its metadata (generation) atomically."""
        self.index.save(self.index_path)
        faults.point("save.after_index_file")
        meta = {"generation": self.catalog.generation, "kind": self.index_kind, "ntotal": self.index.ntotal,
                "model_id": self.model_id}
        tmp = self.meta_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, self.meta_path)

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        return self.catalog.count_files()

    # -- writing --------------------------------------------------------------------------------
    def add(self, source: str | os.PathLike | Sequence[str | os.PathLike], *, prune: bool = True,
            progress: Progress | None = None, extensions: Iterable[str] = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS,
            video_progress: Callable[[str, float, float], None] | None = None) -> IndexReport:
        """Index a folder (or a list of files) incrementally.

        New and changed files are encoded; files whose content hash is unchanged only get their
        stat refreshed; with ``prune``, catalog entries under the folder that no longer exist are
        dropped. Each batch is committed on its own, so an interrupted run resumes where it stopped.
        """
        t0 = time.perf_counter()
        report = IndexReport()
        todo, known = self.plan(source, report, prune=prune, extensions=extensions)
        total = len(todo)
        videos = [p for p in todo if is_video(p)]  # encoded and committed whole, one at a time (search/video.py)
        todo = [p for p in todo if not is_video(p)]
        if progress:
            progress(0, total)
        done = 0
        known_sha = {p: known[p].sha256 for p in todo if p in known}
        stream = decode_stream(todo, self.encoder.preprocess, known_sha=known_sha)
        for batch in batched(stream, self.batch_size):
            self._write_batch(batch, known, report)
            done += len(batch)
            if progress:
                progress(done, total)
        if videos:
            from pixseek.search.video import add_videos

            add_videos(self, videos, known, report, progress=video_progress)
            if progress:
                progress(total, total)
        self.finish(report, t0)
        return report

    def plan(self, source: str | os.PathLike | Sequence[str | os.PathLike], report: IndexReport, *,
             prune: bool = True, extensions: Iterable[str] = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS,
             ) -> tuple[list[str], dict[str, FileState]]:
        """The files of ``source`` that need encoding (new, or size/mtime changed) and the catalog's
        state of those under it; unchanged files are counted in ``report``, and with ``prune`` the
        catalog entries under a folder whose files are gone are dropped."""
        if isinstance(source, (str, os.PathLike)):
            root = os.path.abspath(source)
            paths = [os.path.abspath(p) for p in walk_files(root, extensions)]
            prefix = root if os.path.isfile(root) else root.rstrip(os.sep) + os.sep
        else:
            paths = [os.path.abspath(p) for p in source]
            prefix = None
            prune = False
        known = self.catalog.file_states(prefix)
        todo: list[str] = []
        for p in paths:
            state = known.get(p)
            try:
                st = os.stat(p)
            except OSError:
                todo.append(p)  # let the decoder report it
                continue
            if state and state.size == st.st_size and state.mtime_ns == st.st_mtime_ns:
                report.unchanged += 1
            else:
                todo.append(p)
        if prune and prefix is not None:
            present = set(paths)
            gone = [p for p in known if p not in present]
            if gone:
                self.index.remove(np.asarray(self.catalog.remove_files(gone), np.int64))
                report.removed = len(gone)
        return todo, known

    def finish(self, report: IndexReport, t0: float) -> None:
        """After the last batch: record errors, switch index type if the size calls for it, save."""
        if report.errors:
            self.catalog.record_errors(report.errors)
        kind, self.index_note = resolve_kind(self.requested_kind, self.catalog.count_vectors(), self.dim)
        if kind != self.index_kind or not self.index.is_trained:
            self.index_kind = kind
            self.rebuild_index()
        self.save()
        report.seconds = time.perf_counter() - t0

    def _write_batch(self, batch: list[Decoded], known: dict, report: IndexReport) -> None:
        good = [d for d in batch if d.pixels is not None]
        emb = self.encoder.embed_pixels(np.stack([d.pixels for d in good])) if good else None
        self.commit(batch, emb, known, report)

    def commit(self, batch: list[Decoded], emb: Embedding | None, known: dict, report: IndexReport, *,
               extras: bool = True) -> list[int]:
        """Write one encoded batch (catalog first, then index): ``emb`` holds the vectors of the items
        without error that are not unchanged, in order (their pixels may be gone: encoded elsewhere).
        Errors and unchanged files are counted in ``report``. Returns the new vector ids."""
        good = [d for d in batch if d.error is None and not d.unchanged]
        for d in batch:
            if d.error is not None:
                report.errors.append(d.error.to_dict())
            elif d.unchanged:
                self.catalog.touch_file(d.path, d.size, d.mtime_ns)
                report.unchanged += 1
        if not good:
            return []
        tags = self.encoder.tags(emb.probs) if emb.probs is not None and self.encoder.labels else None
        files = [
            NewFile(d.path, d.size, d.mtime_ns, d.sha256, emb.vectors[i:i + 1],
                    None if emb.probs is None else emb.probs[i:i + 1], width=d.width, height=d.height,
                    tags=None if tags is None else tags[i:i + 1])
            for i, d in enumerate(good)
        ]
        added, replaced = self.catalog.write_files(files)
        faults.point("ingest.after_catalog")
        for extra in self.extras if extras else ():
            extra(good, added)
        if replaced:
            self.index.remove(np.asarray(replaced, np.int64))
        if self.index.is_trained:  # an untrained index (IVF, binary) is built from the catalog at the end
            self.index.add(emb.vectors, np.asarray(added, np.int64))
        faults.point("ingest.after_index")
        for d in good:
            if d.path in known:
                report.updated += 1
            else:
                report.added += 1
        return added

    def remove(self, paths: Iterable[str | os.PathLike]) -> int:
        ids = self.catalog.remove_files([os.path.abspath(p) for p in paths])
        n = self.index.remove(np.asarray(ids, np.int64))
        self.save()
        return n

    # -- reading --------------------------------------------------------------------------------
    def embed(self, queries: Sequence[Query]) -> np.ndarray:
        """Queries (paths, PIL images or vectors) -> (n, d) L2-normalised vectors.

        Raises :class:`~pixseek.errors.ImageError` naming the file for an unreadable query."""
        out = np.zeros((len(queries), self.dim), np.float32)
        images, slots = [], []
        for i, q in enumerate(queries):
            if isinstance(q, np.ndarray):
                out[i] = q.reshape(-1)
            else:
                im = q if isinstance(q, Image.Image) else load_for(self.encoder.preprocess, q)
                images.append(im)
                slots.append(i)
        if images:
            out[slots] = self.encoder.encode_images(images)
        return out

    def search(self, queries: Query | Sequence[Query], k: int = 10, tag: str | None = None) -> list[list[Hit]]:
        """k nearest stored images for each query, best first, scored by cosine similarity;
        with ``tag``, only among images tagged so at indexing time."""
        if isinstance(queries, (str, os.PathLike, Image.Image)) or (
                isinstance(queries, np.ndarray) and queries.ndim == 1):
            queries = [queries]
        return self.search_vectors(self.embed(list(queries)), k, tag=tag)

    def search_vectors(self, vectors: np.ndarray, k: int = 10, tag: str | None = None) -> list[list[Hit]]:
        """Video frames from one shot come back merged into one hit with a time range (search/video.py)."""
        videos, want = self.catalog.has_kind("video"), k
        k = k * 4 if videos else k  # merged frames make room for more distinct hits
        scores, ids = self.index.search(vectors, k) if tag is None else self._search_tagged(vectors, k, tag)
        rows = self.catalog.vector_rows({int(i) for i in ids.ravel() if i >= 0})
        results = []
        for srow, irow in zip(scores, ids):
            hits = []
            for s, i in zip(srow, irow):
                row = rows.get(int(i))
                if row is not None:
                    hits.append(Hit(row.path, float(s), int(i), row.t_sec, row.kind))
            if videos:
                from pixseek.search.video import merge_video_hits

                vids = [h.id for h in hits if h.kind == "video"]
                hits = merge_video_hits(hits, dict(zip(vids, self.catalog.get_vectors(vids, self.dim))))[:want]
            results.append(hits)
        return results

    def _search_tagged(self, vectors: np.ndarray, k: int, tag: str) -> tuple[np.ndarray, np.ndarray]:
        """Exact search restricted to the vectors stored with ``tag``."""
        ids = np.asarray(self.catalog.ids_with_tag(tag), np.int64)
        scores = np.asarray(vectors, np.float32) @ self.catalog.get_vectors(ids, self.dim).T
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(scores, order, axis=1), ids[order]

    def top_labels(self, vector_id: int, k: int = 5) -> list[tuple[str, float]]:
        probs = self.catalog.get_probs([vector_id]).get(vector_id)
        if probs is None or not self.encoder.labels:
            return []
        top = np.argsort(-probs)[:k]
        return [(self.encoder.labels[i], float(probs[i])) for i in top]
