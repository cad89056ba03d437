"""Shared value types, in a leaf module: what one layer hands another (a decoded file, a search hit,
an indexing report). Plain dataclasses; this module imports nothing of pixseek but :mod:`pixseek.errors`.

:mod:`pixseek.search` re-exports :class:`Hit` and :class:`IndexReport`; :mod:`pixseek.search.pipeline`
re-exports :class:`Decoded`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from pixseek.errors import ImageError


@dataclass
class Decoded:
    """One file read, hashed, decoded and preprocessed (or the typed error saying why not)."""

    path: str
    pixels: np.ndarray | None
    sha256: str
    size: int
    mtime_ns: int
    width: int = 0
    height: int = 0
    error: ImageError | None = None
    unchanged: bool = False  # content hash equals the one already stored
    meta: dict = field(default_factory=dict)  # header metadata for the catalog (NewFile fields: taken_at, camera, ...)


@dataclass
class Hit:
    path: str
    score: float
    id: int
    t_sec: float | None = None
    kind: str = "image"
    t_start: float | None = None  # a video hit merged over a shot: its time range (t_sec is the best frame)
    t_end: float | None = None
    weak: bool = False            # below the model's relevance floor: a weak match
    copies: list["Hit"] = field(default_factory=list)  # near-duplicates stacked under this hit (not counted in k)

    def to_dict(self) -> dict:
        d = {"path": self.path, "score": round(float(self.score), 6), "id": self.id}
        if self.t_sec is not None:
            d["t_sec"] = self.t_sec
        if self.kind != "image":
            d |= {"kind": self.kind, "t_start": self.t_start, "t_end": self.t_end}
        if self.weak:
            d["weak"] = True
        if self.copies:
            d["copies"] = [{"path": c.path, "score": round(float(c.score), 6), "id": c.id} for c in self.copies]
        return d


@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    errors: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    stopped: bool = False  # interrupted (Ctrl-C): what was committed stays, a re-run resumes

    @property
    def encoded(self) -> int:
        return self.added + self.updated

    def to_dict(self) -> dict:
        return asdict(self)
