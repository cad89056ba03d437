"""The library: a catalog, an encoder and an index kept in step, with one way in and one way out.

* **One way in** -- :meth:`Library.ingest`. Media sources (images decoded in threads, videos
  sampled frame by frame, or batches encoded elsewhere, e.g. by Ray actors) produce encoded items;
  :meth:`Library.commit_files` is the only place that writes them: catalog first, then the index
  delta, then the report. It runs under the catalog's writer lock (``<db>.lock``), after replaying
  whatever other writers committed since this process last looked (:meth:`Library.sync`, from the
  catalog's change log), so any number of processes and threads may write one catalog and every
  committed file is searchable afterwards. The index is saved under the same lock, with the
  generation it really reflects.
* **One way out** -- :meth:`Library.query`: vectors (from images, item ids or a text model) and a
  :class:`~pixseek.search.filters.Filter`, answered with :class:`~pixseek.types.Hit` lists in
  which frames of one video shot are merged, near-duplicates are stacked under their best member
  and hits under the model's relevance floor are marked weak. The CLI, the HTTP API, the web page,
  text search, copy search and dedup all read through it.
"""
from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from pixseek import faults
from pixseek.encoders import Encoder
from pixseek.encoders.base import Embedding
from pixseek.errors import EmptyLibraryError, ImageError, PixseekError
from pixseek.index import VectorIndex, create_index, load_index
from pixseek.index.auto import resolve_kind
from pixseek.io import IMAGE_EXTENSIONS, load_image, walk_files
from pixseek.io.colours import LAYOUT, THUMB as COLOUR_THUMB, image_colours
from pixseek.io.hashes import hamming
from pixseek.io.metadata import read_metadata
from pixseek.io.video import VIDEO_EXTENSIONS, is_video
from pixseek.preprocess import load_for
from pixseek.search import video as video_source
from pixseek.search.feedback import Feedback, Projection, alpha_qe, validate_marks
from pixseek.search.filters import Filter, day_start
from pixseek.search.pipeline import Decoded, batched, decode_stream
from pixseek.search.tags import DEFAULT_TAGS, LabelVocabulary, TagPolicy
from pixseek.types import Hit, IndexReport
from pixseek.store import Catalog
from pixseek.store.catalog import FileState, ItemRow, NewFile, normalize_tag
from pixseek.store.layout import LibraryLayout, WriterLock, atomic_write_text, remove_stale

log = logging.getLogger("pixseek")

TRAIN_SAMPLE = 50_000
BACKGROUND_SAMPLE = 1024  # stored vectors whose mean is the feedback classifier's background negative
MAX_WIDEN = 64  # a query whose hits stack or merge into fewer than k widens its shortlist up to k * this
MAX_EXPAND = 50  # query expansion (alpha-QE) averages in at most this many neighbours
EXPAND_ALPHA = 3.0  # ... each weighted by its similarity to the query to this power (Radenovic et al. 2018)
EXACT_FEW = 2_000  # a filter that leaves at most this many vectors is scored exactly over them
EXACT_SUBSET = 20_000  # ... and up to this many when the index's neighbours are too few of them
STACK_SIMILARITY = 0.93  # global cosine from which two hits are one picture (stacked) ...
STACK_WITH_HASH = 0.80  # ... or from which they are when their pHashes also agree (resized, recompressed)
STACK_HASH_BITS = 10    # pHash bits that may differ for that (of 64); tests/test_stacks.py, bench/stacks.py
Query = str | os.PathLike | Image.Image | np.ndarray
Progress = Callable[[int, int], None]  # (done, total)
Extra = Callable[[list[Decoded], list[int]], None]  # per committed batch: decoded items, their new vector ids

__all__ = ["Filter", "Hit", "IndexReport", "IngestStopped", "Library", "TagPolicy", "UnknownTagError"]


class IngestStopped(KeyboardInterrupt):
    """Ctrl-C during :meth:`Library.ingest`: what was committed is kept (and saved); ``report`` says what."""

    def __init__(self, report: IndexReport):
        super().__init__("stopped")
        self.report = report


class UnknownTagError(PixseekError):
    """A tag filter names a word that matches no label of the library's model."""


@dataclass(frozen=True)
class QueryOptions:
    stack: bool = True        # near-duplicates collapse into one hit (``Hit.copies``)
    merge_shots: bool = True  # frames of one video shot collapse into one hit with a time range


class Library:
    """See the module docstring. Built by :func:`pixseek.search.wiring.open_library`."""

    def __init__(self, catalog: Catalog, encoder: Encoder, index_kind: str = "flat",
                 index_params: dict | None = None, batch_size: int = 32, *,
                 extras: Sequence[Callable[["Library"], Extra | None]] = (),
                 readonly: bool = False, tag_policy: TagPolicy = DEFAULT_TAGS,
                 relevance_floor: float | None = None,
                 feedback_projection: tuple[np.ndarray, np.ndarray] | None = None):
        self.catalog = catalog
        self.encoder = encoder
        self.batch_size = batch_size
        self.readonly = readonly
        self.tag_policy = tag_policy
        self.relevance_floor = relevance_floor
        # (mean, matrix): the encoder's copy-detection space, prepared once for the feedback fits
        self._feedback_projection = Projection(*feedback_projection) if feedback_projection is not None else None
        self.layout = LibraryLayout.of(catalog.path)
        self.writer = WriterLock(self.layout.lock)
        self.requested_kind = index_kind
        self.index_kind, self.index_note = resolve_kind(index_kind, catalog.count_vectors(), encoder.embed_dim)
        self.index_params = index_params or {}
        self.vocab = LabelVocabulary.for_encoder(encoder)
        self._allowed_cache: dict[tuple[Filter, int], np.ndarray] = {}
        self._background: tuple[int, np.ndarray] | None = None  # (catalog generation, collection centroid)
        self._gen = -1  # the catalog generation the in-memory index reflects
        self.index: VectorIndex = self._open_index()
        # per-batch indexing extras of feature modules (region descriptors), built from their factories
        self.extras: tuple[Extra, ...] = tuple(e for e in (f(self) for f in extras) if e is not None)

    # -- index lifecycle ------------------------------------------------------------------------
    @property
    def model_id(self) -> str:
        return self.encoder.model_id

    @property
    def dim(self) -> int:
        return self.encoder.embed_dim

    @property
    def index_path(self) -> Path:
        return self.layout.index

    @property
    def generation(self) -> int:
        """The catalog generation this library's index reflects."""
        return self._gen

    def _open_index(self) -> VectorIndex:
        """The saved index when it is intact and of the right kind, replayed up to the catalog's
        generation; else rebuilt from the catalog (a damaged file is reported, never fatal)."""
        meta = self._read_index_meta()
        if meta and meta.get("kind") == self.index_kind and self.layout.index.exists():
            try:
                index = load_index(self.layout.index, self.index_kind)
                if meta.get("ntotal") not in (None, index.ntotal):
                    raise ValueError(f"holds {index.ntotal} vectors, its metadata says {meta.get('ntotal')}")
            except Exception as exc:  # noqa: BLE001 - any damage to a cache file means: rebuild it
                log.warning("%s: damaged index file (%s); rebuilding it from the catalog", self.layout.index, exc)
            else:
                self.index, self._gen = index, int(meta.get("generation", -1))
                self.sync()
                return self.index
        elif self.layout.index.exists() or meta is not None:
            log.info("%s: index of another kind or without metadata; rebuilding from the catalog", self.layout.index)
        return self.rebuild_index()

    def _read_index_meta(self) -> dict | None:
        try:
            meta = json.loads(self.layout.index_meta.read_text())
            return meta if isinstance(meta, dict) else None
        except (OSError, ValueError):
            return None

    def sync(self) -> bool:
        """Bring the in-memory index up to the catalog's generation: replay the change log since the
        generation it reflects (another process's commits), or rebuild when the log does not reach
        back. Returns whether anything changed."""
        gen = self.catalog.generation
        if gen == self._gen:
            return False
        delta = self.catalog.changes_since(self._gen, self.dim) if self._gen >= 0 else None
        if delta is None or not self.index.is_trained:
            self.rebuild_index()
            return True
        if len(delta.removed):
            self.index.remove(delta.removed)
        if len(delta.added):
            self.index.remove(delta.added)  # a replayed id may already be there (added by this process)
            self.index.add(delta.vectors, delta.added)
        self._gen = delta.generation
        return True

    def rebuild_index(self) -> VectorIndex:
        """Build the index afresh from the catalog's vectors, streamed in batches; indexes that
        learn quantizers train on a random sample of at most ``TRAIN_SAMPLE`` vectors."""
        gen = self.catalog.generation
        params = self.index_params if self.index_kind == self.requested_kind else {}
        index = create_index(self.index_kind, self.dim, **params)
        if not index.is_trained and self.catalog.count_vectors():
            index.train(self.catalog.sample_vectors(TRAIN_SAMPLE, self.dim))
        index.fill(self.catalog.iter_vectors(self.dim))
        self.index = index
        self._gen = gen
        # a writer committing meanwhile is caught by the next sync (its rows are in the log after gen)
        return index

    def save(self) -> None:
        """Under the writer lock: catch up with other writers, then write the index and its metadata
        (the generation it reflects), each atomically. A read-only library saves nothing."""
        if self.readonly:
            return
        with self.writer.hold():
            self.sync()
            for side in (self.layout.index, *self.layout.files()):
                remove_stale(side)  # left by a writer killed mid-save (saves only happen under this lock)
            self.index.save(self.layout.index)
            faults.point("save.after_index_file")
            meta = {"generation": self._gen, "kind": self.index_kind, "ntotal": self.index.ntotal,
                    "model_id": self.model_id}
            atomic_write_text(self.layout.index_meta, json.dumps(meta))

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        return self.catalog.count_files()

    # -- one way in -----------------------------------------------------------------------------
    def ingest(self, source: str | os.PathLike | Sequence[str | os.PathLike], *, prune: bool = True,
               progress: Progress | None = None,
               extensions: Iterable[str] = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS,
               video_progress: Callable[[str, float, float], None] | None = None,
               encode: Callable[["Library", list[str], dict[str, FileState], IndexReport, Progress | None], None]
               | None = None) -> IndexReport:
        """Index a folder (or a list of files) incrementally: the only write path.

        New and changed files are encoded; files whose content hash is unchanged only get their stat
        refreshed; with ``prune``, catalog entries under the folder that no longer exist are dropped.
        Each batch is committed on its own, so an interrupted run resumes where it stopped (Ctrl-C:
        the report says ``stopped``). ``encode``: another encoding strategy for the images (Ray, see
        :mod:`pixseek.distributed`) that calls :meth:`commit` for each batch it gets back.
        """
        if self.readonly:
            raise PixseekError(f"{self.catalog.path}: opened read-only")
        t0 = time.perf_counter()
        report = IndexReport()
        todo, known = self.plan(source, report, prune=prune, extensions=extensions, progress=progress)
        total = len(todo)
        videos = [p for p in todo if is_video(p)]
        images = [p for p in todo if not is_video(p)]
        if progress:
            progress(0, total)
        try:
            (encode or Library.encode_local)(self, images, known, report,
                                             (lambda d, _t: progress(d, total)) if progress else None)
            if videos:
                video_source.add_videos(self, videos, known, report, progress=video_progress)
                if progress:
                    progress(total, total)
        except KeyboardInterrupt as exc:
            report.stopped = True
            self.finish(report, t0)
            raise IngestStopped(report) from exc
        self.finish(report, t0)
        return report

    add = ingest  # the name of the first release

    def encode_local(self, images: list[str], known: dict[str, FileState], report: IndexReport,
                     progress: Progress | None = None) -> None:
        """The default encoding strategy: decode in threads, encode here, commit batch by batch."""
        done = 0
        known_sha = {p: known[p].sha256 for p in images if p in known}
        for batch in batched(decode_stream(images, self.encoder.preprocess, known_sha=known_sha), self.batch_size):
            good = [d for d in batch if d.pixels is not None]
            emb = self.encoder.embed_pixels(np.stack([d.pixels for d in good])) if good else None
            self.commit(batch, emb, known, report)
            done += len(batch)
            if progress:
                progress(done, len(images))

    def plan(self, source: str | os.PathLike | Sequence[str | os.PathLike], report: IndexReport, *,
             prune: bool = True, extensions: Iterable[str] = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS,
             progress: Progress | None = None) -> tuple[list[str], dict[str, FileState]]:
        """The files of ``source`` that need encoding (new, or size/mtime changed) and the catalog's
        state of those under it; unchanged files are counted in ``report``, and with ``prune`` the
        catalog entries under a folder whose files are gone are dropped. Files stored by an older
        release first get what it did not store (``progress``: (done, total) of that refresh)."""
        if isinstance(source, (str, os.PathLike)):
            root = os.path.abspath(source)
            paths = [os.path.abspath(p) for p in walk_files(root, extensions)]
            prefix = root if os.path.isfile(root) else root.rstrip(os.sep) + os.sep
            self.catalog.add_roots([os.path.dirname(root) if os.path.isfile(root) else root])
        else:
            paths = [os.path.abspath(p) for p in source]
            prefix = None
            prune = False
            if paths:
                self.catalog.add_roots(sorted({os.path.dirname(p) for p in paths}))
        self._backfill_metadata(prefix, progress)
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
                with self.writer.hold():
                    self.sync()
                    self._apply(removed=self.catalog.remove_files(gone))
                report.removed = len(gone)
        return todo, known

    def _backfill_metadata(self, prefix: str | None, progress: Progress | None = None) -> None:
        """Files stored by a release that did not read header metadata get it now (true size, date
        taken, camera, GPS; ~4 ms a file, no decode), and those stored without a colour layout get one
        (a draft decode, 4.2 ms a file for JPEGs of <= 1600 px (bench/RESULTS.md, issue 14 round 4): minutes
        for a large library, shown through ``progress``), once,
        on the next ingest of their folder."""
        for start in range(0, len(paths := self.catalog.files_without_metadata(prefix)), 500):
            rows = []
            for p in paths[start:start + 500]:
                try:
                    rows.append((p, read_metadata(p).columns()))
                except (ImageError, OSError):
                    rows.append((p, None))
            self.catalog.set_metadata(rows)
        paths = self.catalog.files_without_colours(prefix, LAYOUT)
        for start in range(0, len(paths), 200):
            rows = []
            for p in paths[start:start + 200]:  # stored before colour layouts were: one decode each
                try:
                    rows.append((p, image_colours(load_image(p, min_side=2 * COLOUR_THUMB))))
                except (ImageError, OSError):
                    rows.append((p, np.zeros(0, np.float32)))  # unreadable now: marked, not retried
            self.catalog.set_colours(rows)
            if progress:
                progress(start + len(rows), len(paths))

    def finish(self, report: IndexReport, t0: float) -> None:
        """After the last batch: record the errors not recorded with a batch (videos), switch index
        type if the size calls for it, save."""
        if report.errors:
            self.catalog.record_errors(report.errors)
        with self.writer.hold():
            self.sync()
            kind, self.index_note = resolve_kind(self.requested_kind, self.catalog.count_vectors(), self.dim)
            if kind != self.index_kind or not self.index.is_trained:
                self.index_kind = kind
                self.rebuild_index()
            self.save()
        report.seconds = time.perf_counter() - t0

    def commit(self, batch: list[Decoded], emb: Embedding | None, known: dict, report: IndexReport, *,
               extras: bool = True) -> list[int]:
        """Commit one encoded batch of images: ``emb`` holds the vectors of the items without error
        that are not unchanged, in order (their pixels may be gone: encoded elsewhere). Errors and
        unchanged files are counted in ``report``. Returns the new vector ids."""
        good = [d for d in batch if d.error is None and not d.unchanged]
        errors = [d.error.to_dict() for d in batch if d.error is not None]
        if errors:  # recorded with their batch, so a crash later in the run does not lose them
            self.catalog.record_errors(errors)
            report.errors += errors
        for d in batch:
            if d.unchanged:
                self.catalog.touch_file(d.path, d.size, d.mtime_ns)
                report.unchanged += 1
        if not good:
            return []
        tags = self.tags_for(emb.probs)
        files = [
            NewFile(d.path, d.size, d.mtime_ns, d.sha256, emb.vectors[i:i + 1],
                    None if emb.probs is None else emb.probs[i:i + 1], width=d.width, height=d.height,
                    tags=None if tags is None else tags[i:i + 1], **d.meta)
            for i, d in enumerate(good)
        ]
        added = self.commit_files(files)
        for extra in self.extras if extras else ():
            extra(good, added)
        for d in good:
            if d.path in known:
                report.updated += 1
            else:
                report.added += 1
        return added

    def tags_for(self, probs: np.ndarray | None) -> list[list[tuple[str, float]]] | None:
        """The tags indexing stores for these label probabilities (the library's tag policy)."""
        if probs is None or not self.encoder.labels:
            return None
        return self.encoder.tags(probs, min_prob=self.tag_policy.min_score, top=self.tag_policy.top)

    def commit_files(self, files: list[NewFile], *, append: bool = False) -> list[int]:
        """The one place that writes: under the writer lock, replay other writers' commits, write the
        rows (replacing a file's vectors, or ``append``-ing to a partly committed video's), then apply
        the same change to the index. Returns the new vector ids."""
        with self.writer.hold():
            self.sync()
            if append:
                added, replaced = [i for f in files for i in self.catalog.append_vectors(f)], []
            else:
                added, replaced = self.catalog.write_files(files)
            faults.point("ingest.after_catalog")
            vectors = np.concatenate([np.ascontiguousarray(f.vectors, np.float32) for f in files])
            self._apply(vectors, added, replaced)
            faults.point("ingest.after_index")
        return added

    def _apply(self, vectors: np.ndarray | None = None, added: Sequence[int] = (), removed: Sequence[int] = ()) -> None:
        """Apply this process's own catalog write (one generation) to the in-memory index."""
        if len(removed):
            self.index.remove(np.asarray(removed, np.int64))
        if len(added) and self.index.is_trained:  # an untrained index (IVF, binary) is built at the end
            self.index.add(vectors, np.asarray(added, np.int64))
        self._gen = self.catalog.generation

    def remove(self, paths: Iterable[str | os.PathLike]) -> int:
        with self.writer.hold():
            self.sync()
            ids = self.catalog.remove_files([os.path.abspath(p) for p in paths])
            self._apply(removed=ids)
            self.save()
        return len(ids)

    # -- one way out ----------------------------------------------------------------------------
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

    def search(self, queries: Query | Sequence[Query], k: int = 10, tag: str | None = None,
               filter: Filter | None = None, **options) -> list[list[Hit]]:  # noqa: A002
        """k best stored items for each query image (or vector), best first, by cosine similarity."""
        if isinstance(queries, (str, os.PathLike, Image.Image)) or (
                isinstance(queries, np.ndarray) and queries.ndim == 1):
            queries = [queries]
        return self.query(self.embed(list(queries)), k, self._with_tag(filter, tag), **options)

    def search_vectors(self, vectors: np.ndarray, k: int = 10, tag: str | None = None,
                       filter: Filter | None = None, **options) -> list[list[Hit]]:  # noqa: A002
        return self.query(vectors, k, self._with_tag(filter, tag), **options)

    @staticmethod
    def _with_tag(filter: Filter | None, tag: str | None) -> Filter:  # noqa: A002
        filter = filter or Filter()
        return replace(filter, tags=(*filter.tags, tag)) if tag else filter

    def query_items(self, ids: Sequence[int], k: int = 10, filter: Filter | None = None,  # noqa: A002
                    **options) -> list[list[Hit]]:
        """Items like the stored items ``ids`` ("more like this"), the items themselves left out."""
        vectors = self.vectors(ids)
        filter = filter or Filter()
        return self.query(vectors, k, replace(filter, exclude=(*filter.exclude, *map(int, ids))), **options)

    def refine(self, vectors: np.ndarray, like: Sequence[int] = (), unlike: Sequence[int] = ()) -> np.ndarray:
        """Relevance feedback: each query row moved towards the ``like`` items and away from the
        ``unlike`` ones (:class:`~pixseek.search.feedback.Feedback`: ridge on the marks + Rocchio, plus the
        same ridge in the ``feedback_projection`` space when the library was given one).
        Marks are checked (:class:`~pixseek.errors.FeedbackError` for unknown ids, too many, both
        ways) and never stored."""
        ids = [*like, *unlike]
        found = self.catalog.vectors_found(int(i) for i in ids if str(i).lstrip("-").isdigit())
        like, unlike = validate_marks(like, unlike, found)
        marked = np.stack([found[i] for i in [*like, *unlike]]) if found else np.zeros((0, self.dim), np.float32)
        fb = Feedback()
        background = self._collection_centroid()
        rows = [fb.fit(q, marked[:len(like)], marked[len(like):], background,
                       projection=self._feedback_projection).query
                for q in np.atleast_2d(vectors)]
        return np.stack(rows).astype(np.float32)

    def _collection_centroid(self) -> np.ndarray:
        """(1, d): the mean of up to BACKGROUND_SAMPLE stored vectors drawn at random, kept per catalog
        generation: the feedback classifier's "the rest of the collection" negative (bench/feedback.py:
        +0.1-0.4 points residual mAP on the copy photos, +0.025-0.05 on the category photos)."""
        gen = self.catalog.generation
        if self._background is None or self._background[0] != gen:
            sample = self.catalog.sample_vectors(BACKGROUND_SAMPLE, self.dim)
            centroid = sample.mean(0, keepdims=True) if len(sample) else np.zeros((0, self.dim), np.float32)
            self._background = (gen, centroid.astype(np.float32))
        return self._background[1]

    def query(self, vectors: np.ndarray, k: int = 10, filter: Filter | None = None, *,  # noqa: A002
              stack: bool = True, merge_shots: bool = True, like: Sequence[int] = (), unlike: Sequence[int] = (),
              rescore: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
              candidates: int | None = None, expand: int = 0) -> list[list[Hit]]:
        """The one read path. For each row of ``vectors`` (L2-normalised, (n, d)): the ``k`` best
        items that pass ``filter``, best first. Frames of one video shot merge into one hit
        (``merge_shots``); near-duplicates of a hit are stacked under it (``stack``) and do not
        count against ``k``; hits below the relevance floor are marked ``weak``. ``like`` /
        ``unlike``: item ids marked by the person (relevance feedback, :meth:`refine`). ``rescore(ids,
        vecs) -> scores`` re-scores a shortlist of ``candidates`` (image + words; on the library's score
        scale; a non-finite score drops the item). ``expand``: query expansion without clicks (alpha-QE):
        each query (after the marks) becomes itself plus its ``expand`` nearest allowed items, weighted by
        similarity^EXPAND_ALPHA, then is searched again. Off by default: it helps collections of
        near-duplicate groups and hurts small categories (bench/RESULTS.md, issue 18).
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if not 0 <= expand <= MAX_EXPAND:
            raise ValueError(f"expand must be between 0 and {MAX_EXPAND} neighbours, got {expand}")
        vectors = np.ascontiguousarray(np.atleast_2d(vectors), np.float32)
        if len(like) or len(unlike):
            vectors = self.refine(vectors, like, unlike)
        flt = filter or Filter()
        allowed = self._allowed(flt)
        excluded = set(flt.exclude)
        if expand:
            vectors = self._expand(vectors, expand, allowed, excluded)
        videos = merge_shots and self.catalog.has_kind("video")
        total = self.index.ntotal if allowed is None else len(allowed)
        results = []
        for q in vectors:
            fetch = max(candidates or 0, k * 4 if (videos or stack) else k) + len(excluded)
            while True:
                ids, scores = self._nearest(q, fetch, allowed)
                keep = [j for j, i in enumerate(ids) if int(i) not in excluded]
                ids, scores = ids[keep], scores[keep]
                if rescore is not None and len(ids):
                    scores = np.asarray(rescore(ids, self.vectors(ids)), np.float32)
                    order = np.argsort(-scores, kind="stable")
                    order = order[np.isfinite(scores[order])]  # a non-finite score is no hit
                    ids, scores = ids[order], scores[order]
                hits = self._hits(ids, scores, videos, stack)
                if len(hits) >= k or fetch >= min(total, k * MAX_WIDEN) or rescore is not None:
                    break  # enough distinct hits, or a shortlist this long is all stacks of a few pictures
                fetch = min(total + len(excluded), fetch * 4)
            results.append(hits[:k])
        return results

    def _expand(self, vectors: np.ndarray, n: int, allowed: np.ndarray | None, excluded: set[int]) -> np.ndarray:
        """alpha-QE: each row plus its ``n`` nearest allowed, not excluded items (see :meth:`query`)."""
        out = []
        for q in vectors:
            ids, scores = self._nearest(q, n + len(excluded), allowed)
            keep = np.asarray([int(i) not in excluded for i in ids], bool)
            ids, scores = ids[keep][:n], scores[keep][:n]
            out.append(alpha_qe(q, self.vectors(ids), scores, EXPAND_ALPHA) if len(ids) else q)
        return np.stack(out).astype(np.float32)

    def query_scored(self, score: Callable[[np.ndarray], np.ndarray], k: int = 10,
                     filter: Filter | None = None, *, stack: bool = True, merge_shots: bool = True,  # noqa: A002
                     like: Sequence[int] = (), unlike: Sequence[int] = ()) -> list[Hit]:
        """The one read path for rankings that are not a vector's neighbours (text search by words):
        ``score(ids) -> scores`` rates the items that pass ``filter`` (a non-positive or non-finite score
        is no hit); the best ``k`` come back as from :meth:`query`: frames of one shot merged, copies
        stacked, hits under the relevance floor ``weak`` (``score`` returns values on that scale).
        ``like`` / ``unlike``: the marks move the ranking as in :meth:`query` -- the score-weighted mean of
        the top hits is the query vector that :meth:`refine` moves, and each item's final score is the mean
        of its own score and its similarity to the refined vector (relative to the most similar item's,
        times the top score: the scale stays the scores')."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        flt = filter or Filter()
        ids = self.item_ids(flt)
        if flt.exclude:
            ids = ids[~np.isin(ids, np.asarray(flt.exclude, np.int64))]
        scores = np.asarray(score(ids), np.float32).reshape(-1)
        if len(scores) != len(ids):
            raise ValueError(f"score returned {len(scores)} values for {len(ids)} items")
        ok = np.isfinite(scores) & (scores > 0)
        ids, scores = ids[ok], scores[ok]
        if (len(like) or len(unlike)) and len(ids):
            ids, scores = self._refine_scored(ids, scores, like, unlike, flt, k)
        order = np.argsort(-scores, kind="stable")
        videos = merge_shots and self.catalog.has_kind("video")
        fetch = k * 4 if (videos or stack) else k
        while True:
            top = order[:fetch]
            hits = self._hits(ids[top], scores[top], videos, stack)
            if len(hits) >= k or fetch >= min(len(order), k * MAX_WIDEN):
                return hits[:k]
            fetch *= 4

    FEEDBACK_SEED = 10    # query_scored + marks: the top hits whose score-weighted mean is the query vector
    FEEDBACK_POOL = 2000  # ... and the best-scored items re-ranked with the refined vector (plus its neighbours)

    def _refine_scored(self, ids: np.ndarray, scores: np.ndarray, like, unlike, flt: Filter, k: int
                       ) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(-scores, kind="stable")
        seed = order[~np.isin(ids[order], np.asarray(unlike, np.int64))][:self.FEEDBACK_SEED]  # not what was marked down
        if not len(seed):
            seed = order[:self.FEEDBACK_SEED]
        q = (scores[seed, None] * self.vectors(ids[seed])).sum(0)
        q /= max(float(np.linalg.norm(q)), 1e-12)
        refined = self.refine(q[None], like, unlike)[0]
        pool = ids[order[:self.FEEDBACK_POOL]]
        near, _ = self._nearest(refined, max(k * 4, 100), self._allowed(flt))
        near = near[~np.isin(near, np.asarray(flt.exclude, np.int64))] if flt.exclude else near
        cand = np.unique(np.concatenate([pool, near]))
        own = np.zeros(len(cand), np.float32)
        pos = np.searchsorted(ids, cand)  # ids ascending (item_ids)
        found = (pos < len(ids)) & (ids[np.minimum(pos, len(ids) - 1)] == cand)
        own[found] = scores[pos[found]]
        sims = np.clip(self.vectors(cand) @ refined, 0.0, 1.0)
        # on the scores' own scale: an item as like the refined vector as the best one is worth the top score
        return cand, 0.5 * own + 0.5 * float(scores.max()) * sims / max(float(sims.max()), 1e-6)

    def _allowed(self, flt: Filter) -> np.ndarray | None:
        """Vector ids a filter lets through (from SQL), or None for no restriction; the last few
        answers are kept for their catalog generation (a person pages and refines under one filter)."""
        if not flt.active:
            return None
        key = (replace(flt, exclude=()), self.catalog.generation)
        hit = self._allowed_cache.get(key)
        if hit is None:
            hit = self._allowed_sql(flt)
            if len(self._allowed_cache) >= 8:
                self._allowed_cache.pop(next(iter(self._allowed_cache)))
            self._allowed_cache[key] = hit
        return hit

    def _allowed_sql(self, flt: Filter) -> np.ndarray:
        tag_sets = [self.tag_names(t) for t in flt.tags]
        not_tags = [n for t in flt.not_tags for n in self.tag_names(t)]
        return self.catalog.filter_ids(
            tag_sets=tag_sets, not_tags=not_tags, min_score=self.tag_policy.min_score, folders=flt.folders,
            not_folders=flt.not_folders, since=None if flt.since is None else day_start(flt.since),
            until=None if flt.until is None else day_start(flt.until) + 86_400, kind=flt.kind, camera=flt.camera)

    def tag_names(self, word: str) -> list[str]:
        """The stored tag names a tag word stands for (the tag policy); :class:`UnknownTagError` when
        it names no label of this model at all."""
        classes = self.vocab.match(word, self.tag_policy) if self.vocab else []
        names = [self.encoder.labels[c] for c in classes]
        if not names:
            raise UnknownTagError(f"'{word}' is not a tag of model {self.model_id} (see `pixseek tags IMAGE`, "
                                  f"or use --text for free words)")
        return names

    def _nearest(self, q: np.ndarray, fetch: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores) of up to ``fetch`` nearest vectors, among ``allowed`` when given: a few allowed
        vectors are scored exactly; otherwise the index is asked for enough neighbours that ``fetch``
        of them pass (by the allowed fraction), widening until they do or it is cheaper to score the
        allowed vectors exactly."""
        n = self.index.ntotal
        if allowed is not None and (len(allowed) <= EXACT_FEW or n == 0):
            return self._exact(q, fetch, allowed)
        want = fetch if allowed is None else int(fetch * n / max(1, len(allowed)) * 2) + 64
        while True:
            scores, ids = self.index.search(q[None], max(1, min(n, want)))
            ids, scores = ids[0], scores[0]
            ok = ids >= 0
            if allowed is not None:
                ok &= np.isin(ids, allowed)
            if allowed is None or ok.sum() >= fetch or want >= n:
                return ids[ok][:fetch], scores[ok][:fetch]
            if len(allowed) <= EXACT_SUBSET:
                return self._exact(q, fetch, allowed)
            want *= 4

    def _exact(self, q: np.ndarray, fetch: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not len(allowed):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        scores = self.vectors(allowed) @ q
        order = np.argsort(-scores, kind="stable")[:fetch]
        return allowed[order], scores[order]

    def _hits(self, ids: np.ndarray, scores: np.ndarray, videos: bool, stack: bool) -> list[Hit]:
        rows = self.catalog.vector_rows(int(i) for i in ids)
        floor = self.relevance_floor
        hits = [Hit(r.path, float(s), int(i), r.t_sec, r.kind, weak=floor is not None and float(s) < floor)
                for i, s in zip(ids, scores) if (r := rows.get(int(i))) is not None]
        if not (videos or stack) or not hits:
            return hits
        vecs = dict(zip((h.id for h in hits), self.vectors([h.id for h in hits])))
        if videos:
            hits = video_source.merge_video_hits(hits, vecs)
        return stack_copies(hits, vecs, {i: r.phash for i, r in rows.items()}) if stack else hits

    # -- reads for features and front-ends (no one else touches the catalog) --------------------
    def vectors(self, ids: Iterable[int]) -> np.ndarray:
        return self.catalog.get_vectors([int(i) for i in ids], self.dim)

    def items(self, ids: Iterable[int] | None = None) -> list[ItemRow]:
        return self.catalog.items(None if ids is None else [int(i) for i in ids])

    def item_ids(self, flt: Filter | None = None) -> np.ndarray:
        """Every stored vector id that passes ``flt`` (all of them without one), ascending."""
        allowed = self._allowed(flt or Filter())
        return allowed if allowed is not None else self.catalog.filter_ids()

    def label_probs(self) -> tuple[np.ndarray, np.ndarray]:
        """(vector ids ascending, (n, labels) float16) of every vector stored with label probabilities
        (text search scores words from them)."""
        n_labels = len(self.encoder.labels or ())
        ids, rows = [], []
        for chunk_ids, blobs in self.catalog.iter_probs():
            arr = np.frombuffer(b"".join(blobs), np.float16).reshape(len(blobs), -1)
            if arr.shape[1] == n_labels:
                ids.append(chunk_ids)
                rows.append(arr)
        return (np.concatenate(ids) if ids else np.zeros(0, np.int64),
                np.concatenate(rows) if rows else np.zeros((0, n_labels), np.float16))

    def text_facts(self) -> tuple[np.ndarray, list[str], list[str]]:
        """(vector ids ascending, file paths, embedded descriptions/keywords or ''): a file's own words."""
        return self.catalog.text_facts()

    def colours(self, ids: Iterable[int]) -> np.ndarray:
        """(n, LAYOUT) named-colour layouts (:mod:`pixseek.io.colours`: whole picture, top and bottom
        third) of the items' files, NaN where none is stored (videos; files indexed before profiles were,
        until their folder is ingested again; before layouts were: the whole-picture part only)."""
        return self.catalog.get_colours(ids, LAYOUT)

    def neighbours(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the ``k`` nearest stored vectors of each row, straight from the index (no
        filter, stack or floor): the neighbour graph dedup builds. ids are -1 past the index's size."""
        return self.index.search(np.ascontiguousarray(np.atleast_2d(vectors), np.float32), max(1, min(k, self.index.ntotal)))

    # region descriptors of copy detection (pixseek.compare): rows of the catalog's ``regions`` table
    def put_regions(self, rows: Iterable[tuple[int, bytes, bytes, int | None, int | None]]) -> None:
        if self.readonly:
            raise PixseekError(f"{self.catalog.path}: opened read-only")
        self.catalog.put_regions(rows)

    def region_hashes(self, ids: Iterable[int]) -> dict[int, int]:
        return self.catalog.region_hashes(ids)

    def region_rows(self, ids: Iterable[int]) -> list[tuple[int, bytes, bytes, int | None, int | None]]:
        return self.catalog.region_rows(ids)

    @property
    def db_path(self) -> Path:
        return Path(self.catalog.path)

    @property
    def catalog_generation(self) -> int:
        """The catalog's generation now (other writers included); :attr:`generation` is the index's."""
        return self.catalog.generation

    @property
    def index_size(self) -> int:
        return self.index.ntotal

    def counts(self) -> tuple[int, int, int]:
        """(files, vectors, index size)."""
        return self.catalog.count_files(), self.catalog.count_vectors(), self.index.ntotal

    def errors(self) -> list[dict]:
        """Files that could not be indexed, with the cause."""
        return self.catalog.errors()

    def vector_ids_of(self, path: str | os.PathLike) -> list[int]:
        return self.catalog.vectors_for_path(os.path.abspath(path))

    def require_items(self) -> None:
        """:class:`EmptyLibraryError` when there is nothing to search."""
        if self.catalog.count_vectors() == 0:
            raise EmptyLibraryError(f"{self.catalog.path}: the library is empty (pixseek index FOLDER --db "
                                    f"{self.catalog.path})")

    def tags_of(self, ids: Iterable[int]) -> dict[int, list[tuple[str, float]]]:
        """Stored tags per vector id, best first, named as the model names them."""
        display = {normalize_tag(lab): lab for lab in self.encoder.labels or ()}
        return {i: [(display.get(t, t), p) for t, p in tags]
                for i, tags in self.catalog.tags_of(int(i) for i in ids).items()}

    def tag_ranking(self, names: Sequence[str], k: int, flt: Filter | None = None) -> list[tuple[int, float]]:
        """Items ranked by the stored probability of these tags (a tag search), among ``flt``'s."""
        return self.catalog.tag_ranking(names, k, self.tag_policy.min_score, self._allowed(flt or Filter()))

    def tag_counts(self) -> list[tuple[str, int]]:
        """Stored tags with how many vectors carry each, most common first, named as the model names them."""
        display = {normalize_tag(lab): lab for lab in self.encoder.labels or ()}
        return [(display.get(t, t), n) for t, n in self.catalog.tag_counts()]

    def folders(self) -> list[tuple[str, int]]:
        return self.catalog.folders()

    def date_range(self) -> tuple[float | None, float | None]:
        return self.catalog.date_range()

    def roots(self) -> list[str]:
        """The folders indexed into this library (or, for a catalog older than that record, the
        folders of its files)."""
        stored = self.catalog.roots()
        return stored if stored is not None else sorted({d for d, _ in self.catalog.folders()})

    def top_labels(self, vector_id: int, k: int = 5) -> list[tuple[str, float]]:
        probs = self.catalog.get_probs([vector_id]).get(vector_id)
        if probs is None or not self.encoder.labels:
            return []
        top = np.argsort(-probs)[:k]
        return [(self.encoder.labels[i], float(probs[i])) for i in top]

    def stats(self) -> dict:
        cat = self.catalog
        return {"db": str(cat.path), "schema_version": cat.schema_version, "model_id": self.model_id,
                "files": cat.count_files(), "vectors": cat.count_vectors(), "index": self.index_kind,
                "index_ntotal": self.index.ntotal, "generation": self._gen}


def stack_copies(hits: list[Hit], vectors: dict[int, np.ndarray], hashes: dict[int, int | None] | None = None
                 ) -> list[Hit]:
    """Collapse near-duplicates into the ``copies`` of their stack's best member, best first; other
    hits keep their order. Two images are one picture when their global cosine is at least
    ``STACK_SIMILARITY``, or at least ``STACK_WITH_HASH`` with pHashes at most ``STACK_HASH_BITS``
    apart (a half-size or recompressed copy moves the CNN more than the hash). Video frames never stack.
    One (n, n) similarity product; the greedy pass only looks up its rows."""
    hashes = hashes or {}
    images = [j for j, h in enumerate(hits) if h.kind == "image" and h.id in vectors]
    if len(images) < 2:
        return hits
    sims = np.full((len(hits), len(hits)), -1.0, np.float32)
    mat = np.stack([vectors[hits[j].id] for j in images])
    sims[np.ix_(images, images)] = mat @ mat.T
    leaders: list[int] = []  # positions in ``hits`` of the stacks' best members (images)
    out: list[Hit] = []
    for j, h in enumerate(hits):
        if h.kind == "image" and h.id in vectors and leaders:
            row = sims[j, leaders]
            joined = None
            for pos in np.flatnonzero(row >= STACK_WITH_HASH):
                lead = hits[leaders[pos]]
                if row[pos] >= STACK_SIMILARITY:
                    joined = lead
                    break
                hv, hl = hashes.get(h.id), hashes.get(lead.id)
                if hv is not None and hl is not None and hamming(hv, hl) <= STACK_HASH_BITS:
                    joined = lead
                    break
            if joined is not None:
                joined.copies.append(h)
                continue
        if h.kind == "image" and h.id in vectors:
            leaders.append(j)
        out.append(h)
    return out
