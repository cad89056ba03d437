"""Index spec strings, in the manner of FAISS's ``index_factory``: ``kind[,name=value]...``.

``"flat"``, ``"hnsw,M=32,ef=64"``, ``"ivfpq,nlist=1024,m=32"``, ``"binary,bits=128,coder=lsh"``.
Names are the kind's constructor parameters or their declared aliases (``ef`` for ``ef_search``);
values are ints, floats, ``true``/``false``, ``none`` or words. A saved index carries its own spec
(and its kind, dimension and parameters) in the file's header, so no separate file says what it is.
"""
from __future__ import annotations

from pixseek.errors import IndexSpecError


def _value(text: str):
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text.strip()


def parse_spec(spec: str) -> tuple[str, dict]:
    """``"hnsw,M=32,ef=64"`` -> ``("hnsw", {"M": 32, "ef": 64})`` (aliases are resolved by the kind)."""
    parts = [p.strip() for p in str(spec).split(",")]
    kind, params = parts[0].lower(), {}
    if not kind or "=" in kind:
        raise IndexSpecError(spec, "starts with the index kind (flat, hnsw, ivfpq, binary, ...)")
    for part in parts[1:]:
        name, eq, value = part.partition("=")
        if not eq or not name.strip() or not value.strip():
            raise IndexSpecError(spec, f"'{part}' is not name=value")
        if name.strip() in params:
            raise IndexSpecError(spec, f"'{name.strip()}' given twice")
        params[name.strip()] = _value(value)
    return kind, params


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "none" if value is None else str(value)


def format_spec(kind: str, params: dict) -> str:
    """The canonical spec string: ``kind`` then every parameter, in the kind's order."""
    return ",".join([kind] + [f"{k}={_text(v)}" for k, v in params.items()])
