"""Which files the server may read: only real paths inside the allowed roots (no traversal, no symlink escape)."""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from pixseek.api.errors import ApiError


def collapse_roots(folders: Iterable[str | os.PathLike]) -> tuple[Path, ...]:
    """Real paths of ``folders``, dropping any that lie inside another one."""
    real = sorted({Path(os.path.realpath(f)) for f in folders}, key=lambda p: (len(p.parts), str(p)))
    kept: list[Path] = []
    for p in real:
        if not any(p == k or k in p.parents for k in kept):
            kept.append(p)
    return tuple(sorted(kept))


def folders_of(paths: Iterable[str]) -> set[str]:
    return {os.path.dirname(p) for p in paths}


class PathGuard:
    """Resolves user- or catalog-supplied paths and refuses any whose real path leaves the roots."""

    def __init__(self, roots: Iterable[str | os.PathLike]):
        roots = list(roots)
        self.roots = collapse_roots(roots)
        self._display = sorted({Path(os.path.abspath(r)) for r in roots} | set(self.roots),
                               key=lambda p: -len(p.parts))

    def contains(self, real: Path) -> bool:
        return any(real == r or r in real.parents for r in self.roots)

    def resolve(self, path: str | os.PathLike, *, base: Path | None = None) -> Path:
        """The real path of ``path`` (relative paths are taken under ``base`` or the first root).

        Raises ``ApiError(403)`` when it is outside every root, after following symlinks."""
        raw = os.fspath(path)
        if "\x00" in raw:
            raise ApiError(400, "bad-path", "path contains a NUL byte")
        p = Path(raw)
        if not p.is_absolute():
            anchor = base or (self.roots[0] if self.roots else None)
            if anchor is None:
                raise ApiError(403, "outside-roots", f"{raw}: no root folder is configured")
            p = anchor / p
        real = Path(os.path.realpath(p))
        if not self.contains(real):
            raise ApiError(403, "outside-roots", f"{raw}: outside the indexed folders")
        return real

    def relative(self, path: str) -> str:
        """``path`` relative to the root it lies in (for display), else the path itself."""
        p = Path(path)
        for r in self._display:
            if r in p.parents:
                return str(p.relative_to(r))
        return path
