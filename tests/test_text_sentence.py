"""The shipped sentence model run through onnxruntime (pixseek.text.sentence): it gives the vectors the
reference implementation (sentence-transformers, on the same packaged weights) gives, and a text query
then needs neither torch nor sentence-transformers in the process."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from pixseek.text.sentence import DIM, model_folder, sentence_model

pytestmark = pytest.mark.integration

TEXTS = ["a cat", "a cup of coffee on a saucer", "something to sit on", "x",
         "ein Fahrrad mit rotem Rahmen " * 8, ""]


def test_onnx_export_matches_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    ref = SentenceTransformer(str(model_folder()), device="cpu").encode(TEXTS, normalize_embeddings=True)
    ours = sentence_model().embed(TEXTS, batch_size=4)  # two batches, padded to different lengths
    assert ours.shape == (len(TEXTS), DIM) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, atol=2e-5)
    np.testing.assert_allclose(sentence_model().embed(TEXTS[:1]), ours[:1], atol=1e-6)  # padding-independent
    assert sentence_model().embed([]).shape == (0, DIM)


def test_a_query_imports_neither_torch_nor_sentence_transformers():
    sentence_model()  # the ONNX file exists in the shared cache from here on
    code = ("import sys; from pixseek.text.sentence import SentenceModel; v = SentenceModel().embed(['a cat']); "
            "print(v.shape, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["(1,", "384)", "False", "False"]
