"""EfficientNet-Lite0's classifier weights (``_fc``), rows in the image-embedding space, cached as .npy."""
from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from pixseek.encoders import Encoder
from pixseek.encoders.base import l2_normalize
from pixseek.encoders.efficientnet import imagenet_labels, load_torch_model
from pixseek.encoders.onnx_runtime import cache_dir


FC_SPACE = "efficientnet_lite0"  # the embedding space (EncoderConfig.embedding_space) of the ``_fc`` rows


def has_imagenet_weights(encoder: Encoder) -> bool:
    """Whether the encoder's vectors live where EfficientNet-Lite0's ``_fc`` rows do (a tagger keeps
    its base's space, declared in its config) and its last 1,000 labels are ImageNet's."""
    cfg = encoder.config
    return cfg.embedding_space == FC_SPACE and list(cfg.labels[-1000:]) == imagenet_labels()


@lru_cache(maxsize=1)
def classifier_weights() -> np.ndarray:
    """(1000, 1280) L2-normalised ``_fc`` rows, from the packaged PyTorch weights once, then from cache."""
    folder = cache_dir().parent / "text"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "efficientnet_lite0-fc.npy"
    if not path.exists():
        w = load_torch_model()._fc.weight.detach().numpy()
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, l2_normalize(w))
        os.replace(tmp, path)
    return np.load(path)
