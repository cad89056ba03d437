"""SQLite catalog, the source of truth: every committed batch survives a crash.

The FAISS index is a cache of the ``vectors`` table. The catalog keeps a ``generation`` counter
that every write bumps; the index file records the generation it was saved at, and a mismatch
(e.g. after ``kill -9``) makes the library rebuild the index from this table.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pixseek.errors import CatalogError, ModelMismatchError

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
]
SCHEMA_VERSION = len(MIGRATIONS)


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


def normalize_tag(tag: str) -> str:
    """Tags are stored and matched lower-case with single spaces ("Running_Shoe" == "running shoe")."""
    return " ".join(tag.replace("_", " ").split()).lower()


class Catalog:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise CatalogError(f"{self.path}: not a pixseek catalog or damaged ({exc})") from exc

    # -- schema ---------------------------------------------------------------------------------
    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise CatalogError(
                f"{self.path}: schema version {version} is newer than this pixseek ({SCHEMA_VERSION}); upgrade pixseek"
            )
        for i in range(version, SCHEMA_VERSION):
            with self.transaction():
                for stmt in filter(str.strip, MIGRATIONS[i].split(";")):
                    self._db.execute(stmt)
                self._db.execute(f"PRAGMA user_version={i + 1}")

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

    def _bump(self, db) -> None:
        row = db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        self._set_meta(db, "generation", int(row[0]) + 1 if row else 1)

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
                        "UPDATE files SET size=?, mtime_ns=?, sha256=?, kind=?, width=?, height=?, indexed_at=? WHERE id=?",
                        (f.size, f.mtime_ns, f.sha256, f.kind, f.width, f.height, now, row[0]),
                    )
                    file_id = row[0]
                else:
                    file_id = db.execute(
                        "INSERT INTO files(path, size, mtime_ns, sha256, kind, width, height, indexed_at) "
                        "VALUES(?,?,?,?,?,?,?,?)",
                        (f.path, f.size, f.mtime_ns, f.sha256, f.kind, f.width, f.height, now),
                    ).lastrowid
                added += self._insert_vectors(db, file_id, f)
                db.execute("DELETE FROM errors WHERE path=?", (f.path,))
            self._bump(db)
        return added, removed

    def append_vectors(self, f: NewFile) -> list[int]:
        """Add ``f``'s vectors to its stored file, keeping those already there (a long video is
        committed chunk by chunk); the file's row is left as it is. Returns the new vector ids."""
        with self.transaction() as db:
            row = db.execute("SELECT id FROM files WHERE path=?", (f.path,)).fetchone()
            if row is None:
                raise CatalogError(f"{f.path}: not in the catalog, nothing to append to")
            added = self._insert_vectors(db, row[0], f)
            self._bump(db)
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
            self._bump(db)
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
            "SELECT v.id, f.path, v.t_sec, f.kind FROM vectors v JOIN files f ON f.id=v.file_id WHERE v.id IN ({})", ids)
        return {r[0]: VectorRow(*r) for r in rows}

    def get_vectors(self, ids: Iterable[int], dim: int) -> np.ndarray:
        ids = list(ids)
        found = {r[0]: r[1] for r in self._by_ids("SELECT id, embedding FROM vectors WHERE id IN ({})", ids)}
        return np.stack([np.frombuffer(found[i], np.float32) for i in ids]) if ids else np.zeros((0, dim), np.float32)

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
        sql = ("SELECT v.id, f.id, f.path, f.size, f.mtime_ns, f.sha256, f.kind, f.width, f.height, v.t_sec "
               "FROM vectors v JOIN files f ON f.id=v.file_id")
        if ids is not None:
            rows = self._by_ids(sql + " WHERE v.id IN ({})", ids)
            return sorted((ItemRow(*r) for r in rows), key=lambda r: (r.path, r.id))
        with self._lock:
            return [ItemRow(*r) for r in self._db.execute(sql + " ORDER BY f.path, v.id")]
