"""Export a PyTorch module to ONNX once, cache it by model id, run it with onnxruntime."""
from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np


def cache_dir() -> Path:
    root = os.environ.get("PIXSEEK_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "pixseek"
    )
    path = Path(root) / "onnx"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cached_onnx(key: str, export: Callable[[Path], None]) -> Path:
    """Return the cached ONNX file for ``key``; call ``export(tmp_path)`` to create it if missing.

    The file is written to a temporary name and renamed into place, so a crash never leaves a
    half-written model and concurrent processes at worst export twice.
    """
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
    digest = hashlib.sha1(key.encode()).hexdigest()[:8]
    target = cache_dir() / f"{safe}-{digest}.onnx"
    if target.exists():
        return target
    fd, tmp = tempfile.mkstemp(suffix=".onnx.tmp", dir=target.parent)
    os.close(fd)
    try:
        export(Path(tmp))
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def make_session(path: Path, threads: int | None = None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or int(os.environ.get("PIXSEEK_THREADS", 0)) or (os.cpu_count() or 1)
    opts.inter_op_num_threads = 1
    # No busy-waiting between ops: decoding threads need those cycles (end-to-end indexing on 2 cores).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3  # errors only: the exported graph makes ORT warn about unused constants
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def run_session(session, pixels: np.ndarray) -> list[np.ndarray]:
    name = session.get_inputs()[0].name
    return session.run(None, {name: np.ascontiguousarray(pixels, dtype=np.float32)})
