"""SQLite catalog, the source of truth: every committed batch survives a crash.

The FAISS index is a cache of the ``vectors`` table. The catalog keeps a ``generation`` counter
that every write bumps; the index file records the generation it was saved at, and a mismatch
(e.g. after ``kill -9``) makes the library rebuild the index from this table.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pixseek.errors import CatalogError, CatalogNotFoundError, ForeignCatalogError, ModelMismatchError

# Each migration takes the schema from version i to i + 1. Append, never edit.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE files (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        path TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        kind TEXT NOT NULL DEFAULT 'image',
        width INTEGER,
        height INTEGER,
        indexed_at REAL NOT NULL
    );
    CREATE TABLE vectors (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        t_sec REAL,
        embedding BLOB NOT NULL,
        probs BLOB
    );
    CREATE INDEX vectors_file ON vectors(file_id);
    CREATE TABLE errors (path TEXT PRIMARY KEY, kind TEXT NOT NULL, cause TEXT NOT NULL, at REAL NOT NULL);
    """,
    # 2: tags assigned at indexing time from the encoder's classifier head(s), for `search --tag`
    """
    CREATE TABLE tags (
        vector_id INTEGER NOT NULL REFERENCES vectors(id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        score REAL NOT NULL,
        PRIMARY KEY (vector_id, tag)
    );
    CREATE INDEX tags_tag ON tags(tag);
    """,
    # 3: per-image region descriptors + perceptual hashes for copy detection / dedup (pixseek.compare)
    """
    CREATE TABLE regions (
        vector_id INTEGER PRIMARY KEY REFERENCES vectors(id) ON DELETE CASCADE,
        boxes BLOB NOT NULL,
        feats BLOB NOT NULL,
        phash INTEGER,
        dhash INTEGER
    );
    """,
    # 4: every search asks whether the catalog holds videos (to merge frame hits); without an index that
    # question scanned all files (6 ms per query at 100k rows)
    """
    CREATE INDEX files_kind ON files(kind);
    """,
    # 5: a log of index changes, one row per vector added (+1) or removed (-1) at a generation: a process
    # whose in-memory index stands at generation g replays the rows after g (another writer's batches)
    # instead of rebuilding, and never saves an index that lacks them (issue 12: two writers, nothing lost)
    """
    CREATE TABLE changes (gen INTEGER NOT NULL, vector_id INTEGER NOT NULL, op INTEGER NOT NULL);
    CREATE INDEX changes_gen ON changes(gen);
    INSERT OR REPLACE INTO meta(key, value)
        SELECT 'log_start', COALESCE((SELECT value FROM meta WHERE key = 'generation'), '0');
    """,
    # 6: true image metadata read from the file's header (issue 13): sizes as stored (after EXIF
    # orientation), date taken, camera, GPS, embedded description; the folder as its own column
    """
    ALTER TABLE files ADD COLUMN taken_at REAL;
    ALTER TABLE files ADD COLUMN camera TEXT;
    ALTER TABLE files ADD COLUMN gps_lat REAL;
    ALTER TABLE files ADD COLUMN gps_lon REAL;
    ALTER TABLE files ADD COLUMN description TEXT;
    ALTER TABLE files ADD COLUMN phash INTEGER;
    ALTER TABLE files ADD COLUMN meta_version INTEGER;
    CREATE INDEX files_taken ON files(taken_at);
    CREATE INDEX files_camera ON files(camera);
    CREATE INDEX tags_tag_score ON tags(tag, score);
    """,
    # 7: the named-colour profile of each image (pixseek.io.colours, 11 float32 shares), computed from the
    # decoded picture at ingest so text search reads "red" here instead of opening files (issue 14)
    """
    ALTER TABLE files ADD COLUMN colours BLOB;
    """,
]
PIXSEEK_TABLES = {"meta", "files", "vectors", "errors"}
SCHEMA_VERSION = len(MIGRATIONS)


def _blob(a: np.ndarray | None) -> bytes | None:
    return None if a is None else np.ascontiguousarray(a, np.float32).tobytes()


@dataclass(frozen=True)
class FileState:
    id: int
    path: str
    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True)
class VectorRow:
    id: int
    path: str
    t_sec: float | None
    kind: str
    phash: int | None = None


@dataclass(frozen=True)
class ItemRow:
    """One stored vector with its file's metadata (what the HTTP API lists and filters)."""

    id: int
    file_id: int
    path: str
    size: int
    mtime_ns: int
    sha256: str
    kind: str
    width: int | None
    height: int | None
    t_sec: float | None
    taken_at: float | None = None
    camera: str | None = None


@dataclass
class NewFile:
    """A file to write with its vectors (several for a video, one for an image)."""

    path: str
    size: int
    mtime_ns: int
    sha256: str
    vectors: np.ndarray
    probs: np.ndarray | None = None
    t_sec: list[float | None] | None = None
    kind: str = "image"
    width: int | None = None
    height: int | None = None
    tags: list[list[tuple[str, float]]] | None = None  # per vector: (tag, probability)
    taken_at: float | None = None  # unix seconds, from EXIF
    camera: str | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    description: str | None = None
    phash: int | None = None  # 64-bit DCT hash of the decoded image (stacks of near-duplicates)
    colours: np.ndarray | None = None  # (11,) named-colour shares of the decoded image (pixseek.io.colours)


@dataclass(frozen=True)
class Delta:
    """What changed in the catalog after a generation: the vectors to add (ids + rows) and the ids to
    remove, net of each other, as of ``generation``."""

    generation: int
    added: np.ndarray
    vectors: np.ndarray
    removed: np.ndarray


def normalize_tag(tag: str) -> str:
    """Tags are stored and matched lower-case with single spaces ("Running_Shoe" == "running shoe")."""
    return " ".join(tag.replace("_", " ").split()).lower()


class Catalog:
    """The SQLite catalog.

    ``create=False``: a missing file is a :class:`CatalogNotFoundError` (reading commands never create
    a catalog). A SQLite file that holds other tables than pixseek's is refused with
    :class:`ForeignCatalogError` before anything is written to it (not even the journal mode).
    """

    def __init__(self, path: str | Path, *, create: bool = True):
        self.path = Path(path)
        if not self.path.exists():
            if not create:
                raise CatalogNotFoundError(f"{self.path}: no such catalog (index a folder into it first: "
                                           f"pixseek index FOLDER --db {self.path})")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif self.path.is_dir():
            raise CatalogError(f"{self.path}: is a folder, not a catalog file")
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        except sqlite3.Error as exc:
            raise CatalogError(f"{self.path}: cannot open ({exc})") from exc
        try:
            self._refuse_foreign()
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise CatalogError(f"{self.path}: not a pixseek catalog or damaged ({exc})") from exc
        except BaseException:
            self._db.close()
            raise

    def _refuse_foreign(self) -> None:
        """Read-only checks: an empty file is ours to lay out; a file with tables must hold pixseek's."""
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        tables.discard("sqlite_sequence")
        if tables and not PIXSEEK_TABLES <= tables:
            raise ForeignCatalogError(
                f"{self.path}: a SQLite file of another program (tables: {', '.join(sorted(tables)[:6])}), "
                f"not a pixseek catalog; left unchanged — pass another --db")

    # -- schema ---------------------------------------------------------------------------------
    def _migrate(self) -> None:
        """Bring the schema up to date. Each step re-reads the version inside its write transaction, so
        two processes opening a new catalog at once neither run a step twice nor see a half-made schema."""
        while True:
            with self.transaction():
                version = self._db.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise CatalogError(f"{self.path}: schema version {version} is newer than this pixseek "
                                       f"({SCHEMA_VERSION}); upgrade pixseek")
                if version == SCHEMA_VERSION:
                    return
                for stmt in filter(str.strip, MIGRATIONS[version].split(";")):
                    self._db.execute(stmt)
                self._db.execute(f"PRAGMA user_version={version + 1}")

    @property
    def schema_version(self) -> int:
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    @contextmanager
    def transaction(self):
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- meta -----------------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def _set_meta(self, db, key: str, value) -> None:
        db.execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                   (key, str(value)))

    def set_meta(self, key: str, value) -> None:
        with self.transaction() as db:
            self._set_meta(db, key, value)

    @property
    def generation(self) -> int:
        return int(self.get_meta("generation", "0"))

    def _bump(self, db, added: Iterable[int] = (), removed: Iterable[int] = ()) -> int:
        """Next generation, with the vectors it added and removed logged for replay (:meth:`changes_since`)."""
        row = db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        gen = int(row[0]) + 1 if row else 1
        self._set_meta(db, "generation", gen)
        db.executemany("INSERT INTO changes(gen, vector_id, op) VALUES(?,?,?)",
                       [(gen, int(i), -1) for i in removed] + [(gen, int(i), 1) for i in added])
        return gen

    def changes_since(self, generation: int, dim: int) -> "Delta | None":
        """The net change after ``generation``, read in one snapshot with the vectors to add; None when
        the log does not reach back that far (a catalog older than the log): rebuild instead."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                gen = int((self._db.execute("SELECT value FROM meta WHERE key='generation'").fetchone() or (0,))[0])
                start = int((self._db.execute("SELECT value FROM meta WHERE key='log_start'").fetchone() or (0,))[0])
                if generation < start or generation > gen:
                    return None
                last: dict[int, int] = {}
                for vid, op in self._db.execute("SELECT vector_id, op FROM changes WHERE gen > ? ORDER BY gen, rowid",
                                                (generation,)):
                    last[vid] = op
                add = sorted(i for i, op in last.items() if op > 0)
                rows: dict[int, bytes] = {}
                for lo in range(0, len(add), 500):
                    chunk = add[lo:lo + 500]
                    rows.update(self._db.execute(
                        f"SELECT id, embedding FROM vectors WHERE id IN ({','.join('?' * len(chunk))})", chunk))
            finally:
                self._db.execute("COMMIT")
        add = [i for i in add if i in rows]
        vectors = (np.frombuffer(b"".join(rows[i] for i in add), np.float32).reshape(len(add), dim) if add
                   else np.zeros((0, dim), np.float32))
        return Delta(gen, np.asarray(add, np.int64), vectors,
                     np.asarray(sorted(i for i, op in last.items() if op < 0), np.int64))

    @property
    def model_id(self) -> str | None:
        return self.get_meta("model_id")

    def bind_model(self, model_id: str, dim: int, encoder: dict) -> None:
        """Record the model on first use; refuse a different one afterwards."""
        stored = self.model_id
        if stored is None:
            with self.transaction() as db:
                self._set_meta(db, "model_id", model_id)
                self._set_meta(db, "embed_dim", dim)
                self._set_meta(db, "encoder", json.dumps(encoder))
        elif stored != model_id:
            raise ModelMismatchError(self.path, stored, model_id)

    def stored_encoder(self) -> dict | None:
        raw = self.get_meta("encoder")
        return json.loads(raw) if raw else None

    # -- files ----------------------------------------------------------------------------------
    def file_states(self, prefix: str | None = None) -> dict[str, FileState]:
        sql = "SELECT id, path, size, mtime_ns, sha256 FROM files"
        args: tuple = ()
        if prefix is not None:
            sql += " WHERE substr(path, 1, ?) = ?"
            args = (len(prefix), prefix)
        with self._lock:
            return {r[1]: FileState(*r) for r in self._db.execute(sql, args)}

    def write_files(self, files: Iterable[NewFile]) -> tuple[list[int], list[int]]:
        """Insert or replace files with their vectors in one transaction.

        Returns (new vector ids, replaced vector ids) so the caller can update its index.
        """
        added: list[int] = []
        removed: list[int] = []
        now = time.time()
        with self.transaction() as db:
            for f in files:
                row = db.execute("SELECT id FROM files WHERE path=?", (f.path,)).fetchone()
                if row:
                    removed += [r[0] for r in db.execute("SELECT id FROM vectors WHERE file_id=?", (row[0],))]
                    db.execute("DELETE FROM vectors WHERE file_id=?", (row[0],))
                    db.execute(
                        "UPDATE files SET size=?, mtime_ns=?, sha256=?, kind=?, width=?, height=?, indexed_at=?, "
                        "taken_at=?, camera=?, gps_lat=?, gps_lon=?, description=?, phash=?, colours=?, meta_version=1 WHERE id=?",
                        (f.size, f.mtime_ns, f.sha256, f.kind, f.width, f.height, now, f.taken_at, f.camera,
                         f.gps_lat, f.gps_lon, f.description, f.phash, _blob(f.colours), row[0]),
                    )
                    file_id = row[0]
                else:
                    file_id = db.execute(
                        "INSERT INTO files(path, size, mtime_ns, sha256, kind, width, height, indexed_at, "
                        "taken_at, camera, gps_lat, gps_lon, description, phash, colours, meta_version) "
                        "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1)",
                        (f.path, f.size, f.mtime_ns, f.sha256, f.kind, f.width, f.height, now, f.taken_at,
                         f.camera, f.gps_lat, f.gps_lon, f.description, f.phash, _blob(f.colours)),
                    ).lastrowid
                added += self._insert_vectors(db, file_id, f)
                db.execute("DELETE FROM errors WHERE path=?", (f.path,))
            self._bump(db, added, removed)
        return added, removed

    def append_vectors(self, f: NewFile) -> list[int]:
        """Add ``f``'s vectors to its stored file, keeping those already there (a long video is
        committed chunk by chunk); the file's row is left as it is. Returns the new vector ids."""
        with self.transaction() as db:
            row = db.execute("SELECT id FROM files WHERE path=?", (f.path,)).fetchone()
            if row is None:
                raise CatalogError(f"{f.path}: not in the catalog, nothing to append to")
            added = self._insert_vectors(db, row[0], f)
            self._bump(db, added)
        return added

    @staticmethod
    def _insert_vectors(db, file_id: int, f: NewFile) -> list[int]:
        added: list[int] = []
        vecs = np.ascontiguousarray(f.vectors, np.float32)
        probs = None if f.probs is None else np.asarray(f.probs, np.float16)
        times = f.t_sec or [None] * len(vecs)
        for i, vec in enumerate(vecs):
            cur = db.execute(
                "INSERT INTO vectors(file_id, t_sec, embedding, probs) VALUES(?,?,?,?)",
                (file_id, times[i], vec.tobytes(), None if probs is None else probs[i].tobytes()),
            )
            added.append(cur.lastrowid)
            if f.tags is not None:
                db.executemany("INSERT OR REPLACE INTO tags(vector_id, tag, score) VALUES(?,?,?)",
                               [(cur.lastrowid, normalize_tag(t), float(p)) for t, p in f.tags[i]])
        return added

    def touch_file(self, path: str, size: int, mtime_ns: int) -> None:
        """Content unchanged (same hash) but size/mtime moved: update the stat only."""
        with self.transaction() as db:
            db.execute("UPDATE files SET size=?, mtime_ns=? WHERE path=?", (size, mtime_ns, path))

    def remove_files(self, paths: Iterable[str]) -> list[int]:
        removed: list[int] = []
        with self.transaction() as db:
            for p in paths:
                removed += [r[0] for r in db.execute(
                    "SELECT v.id FROM vectors v JOIN files f ON f.id=v.file_id WHERE f.path=?", (p,))]
                db.execute("DELETE FROM files WHERE path=?", (p,))
                db.execute("DELETE FROM errors WHERE path=?", (p,))
            self._bump(db, (), removed)
        return removed

    def record_errors(self, errors: Iterable[dict]) -> None:
        with self.transaction() as db:
            for e in errors:
                db.execute(
                    "INSERT INTO errors(path, kind, cause, at) VALUES(?,?,?,?) ON CONFLICT(path) DO UPDATE SET "
                    "kind=excluded.kind, cause=excluded.cause, at=excluded.at",
                    (e["path"], e["error"], e["cause"], time.time()),
                )

    def errors(self) -> list[dict]:
        with self._lock:
            return [{"path": p, "error": k, "cause": c} for p, k, c in
                    self._db.execute("SELECT path, kind, cause FROM errors ORDER BY path")]

    # -- vectors --------------------------------------------------------------------------------
    def count_files(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM files").fetchone()[0]

    def has_kind(self, kind: str) -> bool:
        """Whether any file of this kind ("image", "video") is stored."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM files WHERE kind=? LIMIT 1", (kind,)).fetchone() is not None

    def count_vectors(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]

    def iter_vectors(self, dim: int, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Stream (ids, vectors) in batches, for rebuilding an index without holding all rows."""
        last = -1
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT id, embedding FROM vectors WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
                ).fetchall()
            if not rows:
                return
            ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
            vecs = np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), dim)
            last = int(ids[-1])
            yield ids, vecs

    def sample_vectors(self, n: int, dim: int, seed: int = 0) -> np.ndarray:
        """Up to ``n`` stored vectors drawn uniformly at random (for training quantizers)."""
        with self._lock:
            ids = [r[0] for r in self._db.execute("SELECT id FROM vectors")]
        if len(ids) > n:
            ids = np.random.default_rng(seed).choice(np.asarray(ids), n, replace=False).tolist()
        return self.get_vectors(sorted(ids), dim)

    def _by_ids(self, sql: str, ids: Iterable[int]) -> list[tuple]:
        ids = [int(i) for i in ids]
        out: list[tuple] = []
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                out += self._db.execute(sql.format(",".join("?" * len(chunk))), chunk).fetchall()
        return out

    def vector_rows(self, ids: Iterable[int]) -> dict[int, VectorRow]:
        rows = self._by_ids(
            "SELECT v.id, f.path, v.t_sec, f.kind, f.phash FROM vectors v JOIN files f ON f.id=v.file_id "
            "WHERE v.id IN ({})", ids)
        return {r[0]: VectorRow(*r) for r in rows}

    def get_vectors(self, ids: Iterable[int], dim: int) -> np.ndarray:
        ids = list(ids)
        found = self.vectors_found(ids)
        return np.stack([found[i] for i in ids]) if ids else np.zeros((0, dim), np.float32)

    def vectors_found(self, ids: Iterable[int]) -> dict[int, np.ndarray]:
        """The stored vectors of those ``ids`` that exist (one query: a check and a read at once)."""
        return {r[0]: np.frombuffer(r[1], np.float32)
                for r in self._by_ids("SELECT id, embedding FROM vectors WHERE id IN ({})", ids)}

    def ids_with_tag(self, tag: str) -> list[int]:
        """Vector ids tagged ``tag`` at indexing time (case and ``_`` insensitive)."""
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT vector_id FROM tags WHERE tag=? ORDER BY vector_id",
                                                   (normalize_tag(tag),))]

    def tag_counts(self) -> list[tuple[str, int]]:
        with self._lock:
            return [tuple(r) for r in self._db.execute(
                "SELECT tag, COUNT(*) FROM tags GROUP BY tag ORDER BY COUNT(*) DESC, tag")]

    def get_probs(self, ids: Iterable[int]) -> dict[int, np.ndarray]:
        rows = self._by_ids("SELECT id, probs FROM vectors WHERE id IN ({}) AND probs IS NOT NULL", ids)
        return {r[0]: np.frombuffer(r[1], np.float16).astype(np.float32) for r in rows}

    def iter_probs(self, batch: int = 4096) -> Iterator[tuple[np.ndarray, list[bytes]]]:
        """Stream (ids, raw float16 probs blobs) of vectors stored with label probabilities (text search)."""
        last = -1
        while True:
            with self._lock:
                rows = self._db.execute("SELECT id, probs FROM vectors WHERE id > ? AND probs IS NOT NULL "
                                        "ORDER BY id LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield np.fromiter((r[0] for r in rows), np.int64, len(rows)), [r[1] for r in rows]

    def text_facts(self) -> tuple[np.ndarray, list[str], list[str]]:
        """(vector ids ascending, their files' paths, their files' embedded descriptions or ''), for the
        lexical signal of text search."""
        with self._lock:
            rows = self._db.execute("SELECT v.id, f.path, COALESCE(f.description, '') FROM vectors v "
                                    "JOIN files f ON f.id=v.file_id ORDER BY v.id").fetchall()
        return np.fromiter((r[0] for r in rows), np.int64, len(rows)), [r[1] for r in rows], [r[2] for r in rows]

    def get_colours(self, ids: Iterable[int], n_colours: int) -> np.ndarray:
        """(len(ids), n_colours) float32 colour profiles of the vectors' files, NaN where none is stored."""
        ids = [int(i) for i in ids]
        found = {r[0]: r[1] for r in self._by_ids(
            "SELECT v.id, f.colours FROM vectors v JOIN files f ON f.id=v.file_id WHERE v.id IN ({}) "
            "AND f.colours IS NOT NULL", ids)}
        out = np.full((len(ids), n_colours), np.nan, np.float32)
        for j, i in enumerate(ids):
            blob = found.get(i)
            if blob is not None and 0 < len(blob) <= 4 * n_colours:  # a shorter one: the whole-picture part only
                v = np.frombuffer(blob, np.float32)
                out[j, :len(v)] = v
        return out

    def files_without_colours(self, prefix: str | None = None, length: int = 0) -> list[str]:
        """Image files stored before colour profiles were (a catalog of schema < 7), or with a profile
        shorter than ``length`` floats that is not the empty mark of an unreadable file (stored before
        the colour layout was)."""
        return self._images_where(f"(colours IS NULL OR (length(colours) > 0 AND length(colours) < {4 * int(length)}))",
                                  prefix)

    def set_colours(self, rows: Iterable[tuple[str, np.ndarray]]) -> None:
        with self.transaction() as db:
            db.executemany("UPDATE files SET colours=? WHERE path=?", [(_blob(c), p) for p, c in rows])

    # -- region descriptors (migration 3), written and read for pixseek.compare through the library --
    def put_regions(self, rows: Iterable[tuple[int, bytes, bytes, int | None, int | None]]) -> None:
        """(vector id, boxes blob, feats blob, pHash, dHash) rows, replacing what a vector had."""
        rows = list(rows)
        if rows:
            with self.transaction() as db:
                db.executemany("INSERT OR REPLACE INTO regions(vector_id, boxes, feats, phash, dhash) "
                               "VALUES(?,?,?,?,?)", rows)

    def region_hashes(self, ids: Iterable[int]) -> dict[int, int]:
        """vector id -> stored pHash of those of ``ids`` that have regions (descriptors not read)."""
        return dict(self._by_ids("SELECT vector_id, phash FROM regions WHERE vector_id IN ({})", ids))

    def region_rows(self, ids: Iterable[int]) -> list[tuple[int, bytes, bytes, int | None, int | None]]:
        return self._by_ids("SELECT vector_id, boxes, feats, phash, dhash FROM regions WHERE vector_id IN ({})", ids)

    def vectors_for_path(self, path: str) -> list[int]:
        with self._lock:
            return [r[0] for r in self._db.execute(
                "SELECT v.id FROM vectors v JOIN files f ON f.id=v.file_id WHERE f.path=? ORDER BY v.id", (path,))]

    def list_files(self, limit: int = 100, offset: int = 0, prefix: str | None = None) -> list[dict]:
        sql = "SELECT id, path, size, kind, width, height, indexed_at FROM files"
        args: list = []
        if prefix:
            sql += " WHERE substr(path, 1, ?) = ?"
            args += [len(prefix), prefix]
        sql += " ORDER BY path LIMIT ? OFFSET ?"
        args += [limit, offset]
        cols = ("id", "path", "size", "kind", "width", "height", "indexed_at")
        with self._lock:
            return [dict(zip(cols, r)) for r in self._db.execute(sql, args)]

    def items(self, ids: Iterable[int] | None = None) -> list[ItemRow]:
        """Vectors joined with their files, ordered by path: those in ``ids``, or all of them."""
        sql = ("SELECT v.id, f.id, f.path, f.size, f.mtime_ns, f.sha256, f.kind, f.width, f.height, v.t_sec, "
               "f.taken_at, f.camera FROM vectors v JOIN files f ON f.id=v.file_id")
        if ids is not None:
            rows = self._by_ids(sql + " WHERE v.id IN ({})", ids)
            return sorted((ItemRow(*r) for r in rows), key=lambda r: (r.path, r.id))
        with self._lock:
            return [ItemRow(*r) for r in self._db.execute(sql + " ORDER BY f.path, v.id")]

    # -- filtered reads (one query per filter, on indexed columns) ------------------------------
    def filter_ids(self, *, tag_sets: Iterable[Iterable[str]] = (), not_tags: Iterable[str] = (),
                   min_score: float = 0.0, folders: Iterable[str] = (), not_folders: Iterable[str] = (),
                   since: float | None = None, until: float | None = None, kind: str | None = None,
                   camera: str | None = None, limit: int | None = None) -> np.ndarray:
        """Vector ids that pass every clause, ascending. ``tag_sets``: each set must be met by one of
        its (normalised) tags at ``min_score``; ``not_tags``: none of these; ``folders``: under one of
        these folders; ``since``/``until``: unix seconds on the date taken, else the file's mtime."""
        where, args = [], []
        tag_sets = [sorted({normalize_tag(t) for t in names}) for names in tag_sets]
        if tag_sets and not any([not_tags, folders, not_folders, since, until, kind, camera]):
            # tags alone: straight from the (tag, score) index, no join with files
            sql = " INTERSECT ".join(f"SELECT vector_id FROM tags WHERE score >= ? AND tag IN ({','.join('?' * len(n))})"
                                     for n in tag_sets)
            with self._lock:
                ids = np.fromiter((r[0] for r in self._db.execute(
                    sql, [x for n in tag_sets for x in (min_score, *n)])), np.int64)
            return np.sort(ids)[:limit] if limit is not None else np.sort(ids)
        for names in tag_sets:
            where.append(f"v.id IN (SELECT vector_id FROM tags WHERE score >= ? AND tag IN ({','.join('?' * len(names))}))"
                         if names else "0")
            args += [min_score, *names]
        bad = sorted({normalize_tag(t) for t in not_tags})
        if bad:
            where.append(f"v.id NOT IN (SELECT vector_id FROM tags WHERE score >= ? AND tag IN ({','.join('?' * len(bad))}))")
            args += [min_score, *bad]
        under = [f.rstrip(os.sep) + os.sep for f in folders]
        if under:
            where.append("(" + " OR ".join("substr(f.path, 1, ?) = ?" for _ in under) + ")")
            args += [x for u in under for x in (len(u), u)]
        for u in (f.rstrip(os.sep) + os.sep for f in not_folders):
            where.append("substr(f.path, 1, ?) != ?")
            args += [len(u), u]
        when = "COALESCE(f.taken_at, f.mtime_ns / 1e9)"
        if since is not None:
            where.append(f"{when} >= ?")
            args.append(since)
        if until is not None:
            where.append(f"{when} < ?")
            args.append(until)
        if kind is not None:
            where.append("f.kind = ?")
            args.append(kind)
        if camera:
            where.append("instr(lower(COALESCE(f.camera, '')), ?) > 0")
            args.append(camera.lower())
        sql = "SELECT v.id FROM vectors v JOIN files f ON f.id=v.file_id"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY v.id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            return np.fromiter((r[0] for r in self._db.execute(sql, args)), np.int64)

    def folders(self) -> list[tuple[str, int]]:
        """Every folder that holds files, with how many files lie directly in it, by path."""
        with self._lock:
            rows = self._db.execute("SELECT path FROM files").fetchall()
        counts: dict[str, int] = {}
        for (p,) in rows:
            d = os.path.dirname(p)
            counts[d] = counts.get(d, 0) + 1
        return sorted(counts.items())

    def date_range(self) -> tuple[float | None, float | None]:
        with self._lock:
            lo, hi = self._db.execute(
                "SELECT MIN(COALESCE(taken_at, mtime_ns / 1e9)), MAX(COALESCE(taken_at, mtime_ns / 1e9)) FROM files"
            ).fetchone()
        return lo, hi

    def known_tags(self, names: Iterable[str]) -> set[str]:
        """Which of these (normalised) tags some vector carries."""
        names = sorted({normalize_tag(t) for t in names})
        if not names:
            return set()
        with self._lock:
            return {r[0] for r in self._db.execute(
                f"SELECT DISTINCT tag FROM tags WHERE tag IN ({','.join('?' * len(names))})", names)}

    def tags_of(self, ids: Iterable[int]) -> dict[int, list[tuple[str, float]]]:
        """Stored tags per vector id, best first."""
        out: dict[int, list[tuple[str, float]]] = {}
        for vid, tag, score in sorted(self._by_ids("SELECT vector_id, tag, score FROM tags WHERE vector_id IN ({})", ids),
                                      key=lambda r: (r[0], -r[2])):
            out.setdefault(vid, []).append((tag, float(score)))
        return out

    def tag_ranking(self, names: Iterable[str], k: int, min_score: float = 0.0,
                    allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Vector ids ranked by the summed stored probability of these tags (best ``k``)."""
        names = sorted({normalize_tag(t) for t in names})
        if not names:
            return []
        sql = (f"SELECT vector_id, SUM(score) AS s FROM tags WHERE score >= ? AND tag IN ({','.join('?' * len(names))}) "
               "GROUP BY vector_id ORDER BY s DESC, vector_id")
        with self._lock:
            rows = self._db.execute(sql, [min_score, *names])
            if allowed is None:
                return [(int(i), float(sc)) for i, sc in rows.fetchmany(k)]
            ok = set(allowed.tolist())
            out = []
            for i, sc in rows:
                if i in ok:
                    out.append((int(i), float(sc)))
                    if len(out) == k:
                        break
            return out

    def add_roots(self, folders: Iterable[str]) -> None:
        """Remember the folders indexed into this catalog (the API's roots)."""
        with self.transaction() as db:
            row = db.execute("SELECT value FROM meta WHERE key='roots'").fetchone()
            roots = set(json.loads(row[0])) if row else set()
            new = roots | set(folders)
            if new != roots:
                self._set_meta(db, "roots", json.dumps(sorted(new)))

    def roots(self) -> list[str] | None:
        raw = self.get_meta("roots")
        return json.loads(raw) if raw else None

    def files_without_metadata(self, prefix: str | None = None) -> list[str]:
        """Image files written before header metadata was stored (a catalog of schema < 6)."""
        return self._images_where("meta_version IS NULL", prefix)

    def _images_where(self, condition: str, prefix: str | None) -> list[str]:
        """Paths of image files meeting ``condition`` (a fixed SQL clause), under ``prefix`` when given."""
        sql = f"SELECT path FROM files WHERE kind='image' AND {condition}"
        args: tuple = ()
        if prefix is not None:
            sql += " AND substr(path, 1, ?) = ?"
            args = (len(prefix), prefix)
        with self._lock:
            return [r[0] for r in self._db.execute(sql + " ORDER BY path", args)]

    def set_metadata(self, rows: Iterable[tuple[str, dict | None]]) -> None:
        """Fill header metadata of stored files (``None``: unreadable now; marked read all the same)."""
        cols = ("width", "height", "taken_at", "camera", "gps_lat", "gps_lon", "description")
        with self.transaction() as db:
            for path, meta in rows:
                if meta is None:
                    db.execute("UPDATE files SET meta_version=1 WHERE path=?", (path,))
                else:
                    db.execute(f"UPDATE files SET {', '.join(c + '=?' for c in cols)}, meta_version=1 WHERE path=?",
                               (*(meta.get(c) for c in cols), path))
