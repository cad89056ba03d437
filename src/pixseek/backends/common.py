"""What every backend module shares; the package's ``__init__`` (the URL dispatcher) imports the backend
modules, so they import from here, never from the package itself (no child -> parent cycle)."""
from __future__ import annotations

import uuid


def fresh_name() -> str:
    """A collection name no other catalog uses: ``pixseek_<16 hex>``."""
    return f"pixseek_{uuid.uuid4().hex[:16]}"
