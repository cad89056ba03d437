"""The one encoder contract."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from pixseek.preprocess import PreprocessConfig, build_transform


def l2_normalize(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(np.float32)


@dataclass
class Embedding:
    """What one forward pass gives: L2-normalised vectors and, when the model has a classifier
    head, class probabilities (n, n_labels)."""

    vectors: np.ndarray
    probs: np.ndarray | None = None


class Encoder(ABC):
    """Contract: ``model_id``, ``embed_dim``, ``preprocess`` and
    ``encode_images(images) -> float32 (n, embed_dim)``, rows L2-normalised.

    ``labels`` is the list of class names of a classifier head, when the encoder has one.
    """

    model_id: str
    embed_dim: int
    preprocess: PreprocessConfig
    labels: list[str] | None = None

    def transform(self):
        return build_transform(self.preprocess)

    @abstractmethod
    def embed_pixels(self, pixels: np.ndarray) -> Embedding:
        """(n, 3, H, W) float32, already preprocessed -> :class:`Embedding`."""

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """RGB PIL images -> L2-normalised float32 (n, embed_dim)."""
        if len(images) == 0:
            return np.zeros((0, self.embed_dim), np.float32)
        t = self.transform()
        return self.embed_pixels(np.stack([t(im) for im in images])).vectors

    def label_groups(self) -> list[tuple[str, int, int]]:
        """``labels`` as named slices ``(group, start, stop)``, one per classifier head (a trained
        tagger has its user labels and the ImageNet labels); each slice's probabilities are its own."""
        return [("labels", 0, len(self.labels))] if self.labels else []

    def tags(self, probs: np.ndarray, min_prob: float = 0.15, top: int = 3) -> list[list[tuple[str, float]]]:
        """Per row of ``probs``: each label group's labels holding at least ``min_prob`` (``top`` at most),
        what indexing stores for ``search --tag``."""
        out: list[list[tuple[str, float]]] = [[] for _ in range(len(probs))]
        for _, start, stop in self.label_groups():
            part = probs[:, start:stop]
            order = np.argsort(-part, axis=1)[:, :top]
            for row, idx in enumerate(order):
                out[row] += [(self.labels[start + j], float(part[row, j])) for j in idx if part[row, j] >= min_prob]
        return out

    def feature_maps(self, pixels: np.ndarray) -> np.ndarray:
        """(n, 3, H, W) -> (n, C, h, w) convolutional features, for encoders that have them."""
        raise NotImplementedError(f"{self.model_id} exposes no feature maps")
