"""API configuration: one frozen dataclass, read from argv / the environment only at the edge."""
from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping
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
    ``allowed_hosts``: the ``Host`` header values (names or IP literals, no port) answered; any
    other gets 400 ``invalid-host`` (a DNS-rebinding page cannot read the library). ``None``
    answers any host: for an app mounted in-process or behind a proxy that checks it;
    ``pixseek serve`` always sets it (:func:`hosts_for`).
    ``header_timeout_s``: a connection that has not sent a complete request head this long after
    connecting (or after its previous response) is closed (slow-header / slowloris); the head is
    at most ``max_header_bytes``; an idle keep-alive connection is closed after ``keep_alive_s``.
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
    allowed_hosts: tuple[str, ...] | None = None
    header_timeout_s: float = 10.0
    keep_alive_s: int = 5
    max_header_bytes: int = 16 * 1024

    def __post_init__(self) -> None:
        if self.api_key is not None and len(self.api_key) < 8:
            raise PixseekError("API key must be at least 8 characters")
        if self.max_upload_bytes <= 0 or self.max_pixels <= 0:
            raise PixseekError("upload limits must be positive")
        if not 1 <= self.default_k <= self.max_k:
            raise PixseekError(f"default_k must be within 1..{self.max_k}")
        if self.header_timeout_s <= 0 or self.keep_alive_s <= 0 or self.max_header_bytes < 1024:
            raise PixseekError("header_timeout_s and keep_alive_s must be positive, max_header_bytes >= 1024")

    @property
    def read_only(self) -> bool:
        return self.api_key is None

    def with_(self, **changes) -> "ApiSettings":
        return replace(self, **changes)


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def host_name(value: str) -> str:
    """The host part of a ``Host`` header (or an allowed-host entry): lower-case, no port, no
    brackets around an IPv6 literal, no trailing dot; ``""`` when the value is malformed (a port
    that is not a number, an unclosed bracket)."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        name, rest = (value[1:end], value[end + 1:]) if end > 0 else ("", "")
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return ""
        return name
    if value.count(":") == 1:
        value, port = value.split(":", 1)
        if not port.isdigit():
            return ""
    return value.rstrip(".")


def is_loopback(host: str) -> bool:
    if host_name(host) == "localhost":
        return True
    try:
        return ipaddress.ip_address(host_name(host)).is_loopback
    except ValueError:
        return False


def hosts_for(bind_host: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The ``Host`` values a server bound to ``bind_host`` answers: that host, the loopback names
    when it is a loopback (or wildcard) address, and ``extra`` (``--allowed-host``)."""
    hosts = {host_name(bind_host)}
    if is_loopback(bind_host) or host_name(bind_host) in ("0.0.0.0", "::", ""):
        hosts |= set(LOOPBACK_NAMES)
    hosts |= {host_name(h) for h in extra if host_name(h)}
    hosts -= {"0.0.0.0", "::", ""}
    return tuple(sorted(hosts))


def settings_from_env(environ: Mapping[str, str] | None = None, **overrides) -> ApiSettings:
    """Settings from ``PIXSEEK_API_KEY``, ``PIXSEEK_MAX_UPLOAD_MB``, ``PIXSEEK_MAX_PIXELS``,
    ``PIXSEEK_ROOTS`` (``os.pathsep``-separated), ``PIXSEEK_CORS_ORIGINS`` (comma-separated),
    ``PIXSEEK_SEARCH_THREADS``, ``PIXSEEK_HEADER_TIMEOUT`` (seconds); explicit ``overrides`` (from argv) win over the environment."""
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
        if (timeout := get("HEADER_TIMEOUT")) is not None:
            values["header_timeout_s"] = float(timeout)
    except ValueError as exc:
        raise PixseekError(f"bad number in the environment: {exc}") from exc
    if (roots := get("ROOTS")) is not None:
        values["roots"] = tuple(Path(r) for r in roots.split(os.pathsep) if r)
    if (origins := get("CORS_ORIGINS")) is not None:
        values["cors_origins"] = tuple(o.strip() for o in origins.split(",") if o.strip())
    values.update({k: v for k, v in overrides.items() if v is not None})
    return ApiSettings(**values)
