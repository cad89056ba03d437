"""API configuration: one frozen dataclass, read from argv / the environment only at the edge."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from pixseek.errors import PixseekError

ENV_PREFIX = "PIXSEEK_"


@dataclass(frozen=True)
class ApiSettings:
    """How the HTTP API behaves. Defaults are the safe ones: read-only, CORS off, small uploads.

    ``api_key``: write endpoints need it (``X-API-Key`` or ``Authorization: Bearer``); ``None``
    makes the server read-only. ``roots``: folders whose files may be served or indexed; empty
    means the folders the catalog already holds files in (plus ``upload_dir``).
    """

    api_key: str | None = None
    max_upload_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000
    roots: tuple[Path, ...] = ()
    upload_dir: Path | None = None  # where admin uploads are stored; default: <db>.uploads/
    thumb_dir: Path | None = None  # default: <db>.thumbs/
    thumb_px: int = 320
    cors_origins: tuple[str, ...] = ()
    search_threads: int = field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)))
    default_k: int = 24
    max_k: int = 500

    def __post_init__(self) -> None:
        if self.api_key is not None and len(self.api_key) < 8:
            raise PixseekError("API key must be at least 8 characters")
        if self.max_upload_bytes <= 0 or self.max_pixels <= 0:
            raise PixseekError("upload limits must be positive")
        if not 1 <= self.default_k <= self.max_k:
            raise PixseekError(f"default_k must be within 1..{self.max_k}")

    @property
    def read_only(self) -> bool:
        return self.api_key is None

    def with_(self, **changes) -> "ApiSettings":
        return replace(self, **changes)


def settings_from_env(environ: Mapping[str, str] | None = None, **overrides) -> ApiSettings:
    """Settings from ``PIXSEEK_API_KEY``, ``PIXSEEK_MAX_UPLOAD_MB``, ``PIXSEEK_MAX_PIXELS``,
    ``PIXSEEK_ROOTS`` (``os.pathsep``-separated), ``PIXSEEK_CORS_ORIGINS`` (comma-separated),
    ``PIXSEEK_SEARCH_THREADS``; explicit ``overrides`` (from argv) win over the environment."""
    env = os.environ if environ is None else environ
    values: dict = {}

    def get(name: str) -> str | None:
        raw = env.get(ENV_PREFIX + name)
        return raw.strip() if raw and raw.strip() else None

    try:
        if (key := get("API_KEY")) is not None:
            values["api_key"] = key
        if (mb := get("MAX_UPLOAD_MB")) is not None:
            values["max_upload_bytes"] = int(float(mb) * 1024 * 1024)
        if (px := get("MAX_PIXELS")) is not None:
            values["max_pixels"] = int(px)
        if (threads := get("SEARCH_THREADS")) is not None:
            values["search_threads"] = int(threads)
    except ValueError as exc:
        raise PixseekError(f"bad number in the environment: {exc}") from exc
    if (roots := get("ROOTS")) is not None:
        values["roots"] = tuple(Path(r) for r in roots.split(os.pathsep) if r)
    if (origins := get("CORS_ORIGINS")) is not None:
        values["cors_origins"] = tuple(o.strip() for o in origins.split(",") if o.strip())
    values.update({k: v for k, v in overrides.items() if v is not None})
    return ApiSettings(**values)
