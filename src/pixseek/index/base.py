"""The index contract: array in, array out (faiss style), described by a spec string and saved
self-describing (a header line names the kind, dimension and parameters)."""
from __future__ import annotations

import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, ClassVar

import numpy as np

from pixseek.atomic import atomic_write
from pixseek.errors import IndexSpecError
from pixseek.index.spec import format_spec

MAGIC = b"pixseek-index/1\n"  # first line of every saved index; the second is its JSON header


class VectorIndex(ABC):
    """Inner-product search over L2-normalised float32 vectors with int64 ids.

    ``search`` returns ``(scores, ids)`` of shape (nq, k); missing slots have id -1.

    Declared per kind: ``kind`` (set by ``register_index``), ``params`` (what rebuilds it, in spec
    order), ``search_params`` (the names :meth:`set_params` may change without a rebuild) and
    ``aliases`` (short spec names, e.g. ``ef`` for ``ef_search``).
    """

    kind: ClassVar[str]
    dim: int
    background: bool = True  # kinds that rebuild themselves (compaction, re-fit) do it in a thread
    disk_backed: ClassVar[bool] = False  # after save/load part of it is a memory map of the file's sidecar
    search_params: ClassVar[tuple[str, ...]] = ()
    aliases: ClassVar[dict[str, str]] = {}
    _not_params: ClassVar[tuple[str, ...]] = ("self", "dim", "faiss_index")

    # -- parameters -----------------------------------------------------------------------------
    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        """The keyword parameters of the constructor: what a spec string may set."""
        return tuple(n for n in inspect.signature(cls.__init__).parameters if n not in cls._not_params)

    @classmethod
    def resolve_params(cls, params: dict, spec: str | None = None) -> dict:
        """Aliases to names; an unknown name is an :class:`~pixseek.errors.IndexSpecError`."""
        names = cls.param_names()
        out = {}
        for key, value in params.items():
            name = cls.aliases.get(key, key)
            if name not in names:
                alias = f" (aliases: {', '.join(f'{a}={n}' for a, n in cls.aliases.items())})" if cls.aliases else ""
                raise IndexSpecError(spec or format_spec(cls.kind, params),
                                     f"unknown parameter '{key}' for {cls.kind}; one of {', '.join(names) or 'none'}"
                                     + alias)
            out[name] = value
        return out

    @property
    def params(self) -> dict:
        """What builds this index again (``create_index(kind, dim, **params)``)."""
        return {}

    @property
    def spec(self) -> str:
        return format_spec(self.kind, self.params)

    def set_params(self, **params) -> None:
        """The one way to change search-time parameters (``search_params``; aliases accepted); no rebuild."""
        resolved = self.resolve_params(params, f"{self.kind},{','.join(f'{k}={v}' for k, v in params.items())}")
        fixed = sorted(set(resolved) - set(self.search_params))
        if fixed:
            raise IndexSpecError(self.spec, f"{', '.join(fixed)} cannot change after the index is built; "
                                            f"search-time parameters of {self.kind}: "
                                            f"{', '.join(self.search_params) or 'none'}")
        if resolved:
            self._set_search(**resolved)

    def tune(self, **params) -> None:
        """Former name of :meth:`set_params`."""
        self.set_params(**params)

    def _set_search(self, **params) -> None:  # noqa: B027 - kinds with search_params override it
        """Apply already-validated search-time parameters."""

    # -- the contract ---------------------------------------------------------------------------
    @abstractmethod
    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None: ...

    @abstractmethod
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    @abstractmethod
    def remove(self, ids: np.ndarray) -> int: ...

    @property
    @abstractmethod
    def ntotal(self) -> int: ...

    @abstractmethod
    def _write(self, fh: BinaryIO) -> None:
        """Write the index's payload to ``fh`` (a fresh temporary file, after the header)."""

    @classmethod
    @abstractmethod
    def _read(cls, fh: BinaryIO, path: Path, header: dict | None) -> "VectorIndex":
        """Read the payload from ``fh`` (positioned after the header; ``header`` None: a file saved
        before headers existed, positioned at its start). ``path``: for sidecar files."""

    def bytes_per_vector_ram(self) -> float:
        """RAM per live vector held in this process; here: float32 vectors + int64 ids (flat)."""
        return float(self.dim * 4 + 8)

    def train(self, vectors: np.ndarray) -> None:  # noqa: B027 - optional hook
        """Indexes that need training (IVF, PQ) learn from ``vectors``; others ignore it."""

    @property
    def is_trained(self) -> bool:
        return True

    def fill(self, batches: Iterable[tuple[np.ndarray, np.ndarray]]) -> None:
        """Add every ``(ids, vectors)`` batch of a rebuild. A backend that keeps its vectors in a
        server (``pixseek.backends``) overrides this to reconcile with what it already holds."""
        for ids, vectors in batches:
            self.add(vectors, ids)

    # -- persistence ----------------------------------------------------------------------------
    def header(self) -> dict:
        return {"kind": self.kind, "dim": self.dim, "params": self.params, "spec": self.spec}

    def save(self, path: str | Path) -> None:
        """Atomic (:func:`pixseek.atomic.atomic_write`): the header line, then the payload."""

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                fh.write(MAGIC + json.dumps(self.header()).encode() + b"\n")
                self._write(fh)

        atomic_write(path, write)

    @classmethod
    def load(cls, path: str | Path) -> "VectorIndex":
        """This kind's index from ``path`` (:func:`pixseek.index.load_index` reads the kind from the file)."""
        path = Path(path)
        with open(path, "rb") as fh:
            return cls._read(fh, path, read_header(fh))


def read_header(fh: BinaryIO) -> dict | None:
    """The JSON header after :data:`MAGIC`, leaving ``fh`` after it; None (and ``fh`` rewound) for a
    file without one. Raises ValueError for a damaged header."""
    start = fh.read(len(MAGIC))
    if start != MAGIC:
        fh.seek(0)
        return None
    header = json.loads(fh.readline(1 << 20))
    if not isinstance(header, dict) or not isinstance(header.get("kind"), str):
        raise ValueError("index header without a kind")
    return header


def as_matrix(x: np.ndarray, dim: int) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"expected vectors of shape (n, {dim}), got {x.shape}")
    return x


def as_ids(ids: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
