"""Optional features and the pip extra that installs each (pyproject.toml ``[project.optional-dependencies]``).

The core install (``pip install pixseek``) indexes and searches images with the shipped encoder from the
CLI and the Python API. Everything else sits behind an extra; a feature imports its third-party modules
through :func:`require`, which turns a missing module into one typed error that names the extra::

    MissingExtraError: 'pixseek serve' needs the [server] extra: pip install 'pixseek[server]'

A leaf module: it imports nothing of pixseek but errors.
"""
from __future__ import annotations

import importlib
from types import ModuleType

from pixseek.errors import PixseekError

# extra -> what it adds, as a user would name it (the error message's subject)
EXTRAS: dict[str, str] = {
    "server": "'pixseek serve' (HTTP API and web page)",
    "video": "indexing and searching video files",
    "train": "training ('pixseek train', 'pixseek tag-train')",
    "text": "text search with the shipped sentence model",
    "scale": "the Milvus backend and Ray encoding",
    "hub": "Hugging Face hub encoders (CLIP, SigLIP, DINOv2)",
}


class MissingExtraError(PixseekError):
    """A feature was used whose optional dependencies (a pip extra) are not installed."""

    def __init__(self, extra: str, feature: str, missing: str):
        self.extra = extra
        self.feature = feature
        self.missing = missing
        super().__init__(f"{feature} needs the [{extra}] extra: pip install 'pixseek[{extra}]' "
                         f"(module {missing!r} is not installed)")


def require(extra: str, module: str, *more: str, feature: str | None = None) -> ModuleType:
    """Import ``module`` (and ``more``), or raise :class:`MissingExtraError` naming ``extra`` when one of
    them (or a module it needs) is not installed; returns ``module``. Other import failures (a broken
    install) propagate unchanged."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; one of {', '.join(EXTRAS)}")
    try:
        first = importlib.import_module(module)
        for name in more:
            importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise MissingExtraError(extra, feature or EXTRAS[extra], exc.name or module) from exc
    return first


class _Absent:
    """Stands in for a module of an extra that is not installed; any use raises MissingExtraError."""

    def __init__(self, error: MissingExtraError):
        self._error = error

    def __getattr__(self, name: str):
        raise self._error


def optional(extra: str, module: str, *, feature: str | None = None) -> ModuleType:
    """For a module-level import in a core module whose *use* needs an extra: the module if installed,
    else a stand-in that raises :class:`MissingExtraError` on first use (so importing stays possible)."""
    try:
        return require(extra, module, feature=feature)
    except MissingExtraError as exc:
        return _Absent(exc)  # type: ignore[return-value]
