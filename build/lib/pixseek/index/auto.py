"""Which index to use: ``auto`` by collection size and memory budget, and a fallback to exact
search while a trainable index has too few vectors to learn its quantizers."""
from __future__ import annotations

import os

MIN_TRAIN = {"ivfpq": 10_000, "binary": 1_000}  # PQ: 256 centroids x 39 points per sub-space
FLAT_MAX = 100_000  # exact search stays under ~20 ms per query up to here on 2 cores


def memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):  # pragma: no cover - non-POSIX
        return 8 << 30


def resolve_kind(requested: str, n: int, dim: int, memory_budget: int | None = None) -> tuple[str, str]:
    """Return (index kind to build, a sentence saying why) for ``n`` vectors of ``dim`` floats."""
    budget = memory_budget or memory_bytes() // 2
    if requested == "auto":
        raw = n * dim * 4
        if n < FLAT_MAX and raw < budget:
            return "flat", f"auto: {n} vectors — exact search (flat) is fast enough below {FLAT_MAX:,}"
        if raw * 1.1 < budget:
            return "hnsw", f"auto: {n} vectors fit in the memory budget ({raw / 2**30:.1f} of {budget / 2**30:.1f} GiB) — HNSW"
        return "ivfpq", (f"auto: {n} vectors need {raw / 2**30:.1f} GiB as floats, over the {budget / 2**30:.1f} GiB "
                         "budget — IVF-PQ codes in RAM, float16 vectors on disk for re-ranking")
    need = MIN_TRAIN.get(requested, 0)
    if n < need:
        return "flat", f"{requested} needs at least {need} vectors to train; exact search until then ({n} now)"
    return requested, ""
