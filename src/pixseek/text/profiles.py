"""Per-file facts text search needs beyond the vectors: the named-colour profile and the file's own words
(EXIF ImageDescription / XPKeywords / XPSubject).

They belong in the catalog, written at ingest (DDL proposed to the lead in the issue-14 report). Until
then they live in a sidecar SQLite file next to the catalog (``<db>.text.sqlite``), keyed by path, size
and mtime, filled lazily for the files a query needs and by :func:`ensure_profiles` (what ingest would call).
"""
from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from pixseek.text.colours import THUMB, colour_profile
from pixseek.text.lexicon import COLOURS

DDL = """CREATE TABLE IF NOT EXISTS text_profiles (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    colours BLOB,              -- 11 float32 shares (pixseek.text.colours), NULL when unreadable
    words TEXT NOT NULL DEFAULT ''   -- EXIF description / keywords, lower case
)"""
EXIF_TAGS = (270, 0x9C9E, 0x9C9F, 0x9C9B)  # ImageDescription, XPKeywords, XPSubject, XPTitle


@dataclass(frozen=True)
class Profile:
    colours: np.ndarray | None
    words: str


def _exif_words(im: Image.Image) -> str:
    try:
        exif = im.getexif()
    except Exception:  # noqa: BLE001 - a broken EXIF block is just no words
        return ""
    out = []
    for tag in EXIF_TAGS:
        v = exif.get(tag)
        if isinstance(v, bytes):
            v = v.decode("utf-16-le", "ignore") if tag != 270 else v.decode("utf-8", "ignore")
        elif isinstance(v, tuple):  # XP* tags as a tuple of byte values
            v = bytes(v).decode("utf-16-le", "ignore")
        if isinstance(v, str):
            out.append(v.replace("\x00", " "))
    return " ".join(out).lower().strip()


def read_profile(path: str | os.PathLike) -> Profile:
    """Colour profile and EXIF words of one image file; (None, '') when it cannot be read as an image."""
    try:
        with Image.open(path) as im:
            words = _exif_words(im)
            im.draft("RGB", (THUMB * 2, THUMB * 2))
            im = im.convert("RGB")
            im.thumbnail((THUMB, THUMB))
            return Profile(colour_profile(np.asarray(im)), words)
    except (OSError, ValueError, Image.DecompressionBombError):
        return Profile(None, "")


class ProfileStore:
    """The sidecar table; one per catalog file."""

    def __init__(self, catalog_path: str | os.PathLike):
        self.path = Path(f"{catalog_path}.text.sqlite")
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(DDL)

    def close(self) -> None:
        self._db.close()

    def words(self) -> dict[str, str]:
        """path -> EXIF words of every stored profile that has some (no stat: for the lexical signal)."""
        return dict(self._db.execute("SELECT path, words FROM text_profiles WHERE words != ''"))

    def get(self, paths: Iterable[str], compute: bool = True) -> dict[str, Profile]:
        """path -> Profile for the given paths; computed (and stored) for those missing or changed."""
        paths = list(dict.fromkeys(paths))
        have: dict[str, tuple[int, int, bytes | None, str]] = {}
        for start in range(0, len(paths), 500):
            chunk = paths[start:start + 500]
            q = f"SELECT path, size, mtime_ns, colours, words FROM text_profiles WHERE path IN ({','.join('?' * len(chunk))})"
            have.update({r[0]: r[1:] for r in self._db.execute(q, chunk)})
        out, new = {}, []
        for p in paths:
            try:
                st = os.stat(p)
            except OSError:
                continue
            row = have.get(p)
            if row is not None and row[0] == st.st_size and row[1] == st.st_mtime_ns:
                cols = np.frombuffer(row[2], np.float32) if row[2] is not None else None
                out[p] = Profile(cols if cols is None or len(cols) == len(COLOURS) else None, row[3])
            elif compute:
                prof = read_profile(p)
                out[p] = prof
                new.append((p, st.st_size, st.st_mtime_ns,
                            None if prof.colours is None else prof.colours.tobytes(), prof.words))
        if new:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR REPLACE INTO text_profiles VALUES (?, ?, ?, ?, ?)", new)
        return out


def ensure_profiles(catalog_path: str | os.PathLike, paths: Iterable[str]) -> int:
    """Compute and store the profiles of ``paths`` (what ingest would do); returns how many are known."""
    store = ProfileStore(catalog_path)
    try:
        return len(store.get(paths))
    finally:
        store.close()
