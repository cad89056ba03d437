"""One filter type for every read: the CLI's options, the HTTP API's query parameters and the web
page's controls all become a :class:`Filter`, which the catalog turns into SQL on indexed columns."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime, timezone


@dataclass(frozen=True)
class Filter:
    """Which stored items a query may return. Empty: all of them.

    ``tags``: each must match (by the library's :class:`~pixseek.search.tags.TagPolicy`);
    ``not_tags``: none may. ``folders``: absolute folders, the item must lie under one of them;
    ``not_folders``: under none. ``since`` / ``until``: the day the picture was taken (EXIF), else
    the file's modification day, inclusive. ``kind``: "image" or "video". ``camera``: a substring of
    the EXIF make and model, case-insensitive. ``exclude``: item ids left out (the query item itself).
    """

    tags: tuple[str, ...] = ()
    not_tags: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()
    not_folders: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    kind: str | None = None
    camera: str | None = None
    exclude: tuple[int, ...] = field(default=())

    @property
    def active(self) -> bool:
        return bool(self.tags or self.not_tags or self.folders or self.not_folders or self.since or self.until
                    or self.kind or self.camera)

    @classmethod
    def build(cls, *, tag: str | None = None, tags=(), not_tags=(), folder: str | None = None, folders=(),
              not_folders=(), **kw) -> "Filter":
        """Convenience for front-ends: single values or sequences, folders made absolute."""
        tags = tuple(t for t in (*tags, tag) if t)
        folders = tuple(os.path.abspath(f) for f in (*folders, folder) if f)
        return cls(tags=tags, not_tags=tuple(not_tags), folders=folders,
                   not_folders=tuple(os.path.abspath(f) for f in not_folders), **kw)


def day_start(d: date) -> float:
    """Unix seconds of the start of day ``d`` (UTC)."""
    return datetime(d.year, d.month, d.day, tzinfo=timezone.utc).timestamp()
