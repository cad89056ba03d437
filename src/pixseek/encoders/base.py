"""The one encoder contract."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from pixseek.errors import EncoderUnavailableError
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


@dataclass(frozen=True)
class EncoderConfig:
    """What an encoder is and what it can do, declared once when it is built (as timm's pretrained
    configs do), so callers read it instead of probing the object for methods or attributes."""

    name: str                          # what ``create_encoder`` takes to build it again: registry name or file
    model_id: str                      # identity of its vectors (a catalog refuses another)
    embed_dim: int
    preprocess: PreprocessConfig
    options: dict[str, Any] = field(default_factory=dict)  # keyword arguments ``create_encoder`` needs with name
    text_tower: bool = False           # ``encode_text(words)`` gives vectors in the image space
    feature_maps: bool = False         # ``feature_maps(pixels)`` gives (n, C, h, w) convolutional features
    labels: tuple[str, ...] = ()       # label space: class names of the classifier head(s), in ``probs`` column order
    label_groups: tuple[tuple[str, int, int], ...] = ()  # named slices of ``labels``, one per head (default: one)
    embedding_space: str = ""          # which vectors these are comparable with (default: ``model_id``)
    kind: str = "pretrained"           # "pretrained", or a trained model's "embedding" / "tagger"
    base: "EncoderConfig | None" = None  # a trained model's base encoder

    def __post_init__(self):
        labels = tuple(self.labels)
        groups = tuple(tuple(g) for g in self.label_groups) or ((("labels", 0, len(labels)),) if labels else ())
        if any(not 0 <= a <= b <= len(labels) for _, a, b in groups):
            raise ValueError(f"{self.model_id}: label groups {groups} outside its {len(labels)} labels")
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "label_groups", groups)
        object.__setattr__(self, "options", dict(self.options))
        object.__setattr__(self, "embedding_space", self.embedding_space or self.model_id)

    def record(self) -> dict:
        """What a catalog (or a trained model file) stores to build the same encoder again."""
        return {"name": self.name, "options": dict(self.options), "model_id": self.model_id}


class Encoder(ABC):
    """Contract: a declared :class:`EncoderConfig` (``config``) and
    ``embed_pixels(pixels) -> Embedding`` / ``encode_images(images) -> float32 (n, embed_dim)``, rows
    L2-normalised. ``model_id``, ``embed_dim``, ``preprocess`` and ``labels`` read the config.
    """

    def __init__(self, config: EncoderConfig):
        self.config = config

    @property
    def model_id(self) -> str:
        return self.config.model_id

    @property
    def embed_dim(self) -> int:
        return self.config.embed_dim

    @property
    def preprocess(self) -> PreprocessConfig:
        return self.config.preprocess

    @property
    def labels(self) -> list[str] | None:
        """Class names of the classifier head(s), when the encoder has one (``probs`` column order)."""
        return list(self.config.labels) if self.config.labels else None

    @property
    def registry_name(self) -> str:
        return self.config.name

    @property
    def options(self) -> dict:
        return dict(self.config.options)

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
        return list(self.config.label_groups)

    def tags(self, probs: np.ndarray, min_prob: float = 0.15, top: int = 3) -> list[list[tuple[str, float]]]:
        """Per row of ``probs``: each label group's labels holding at least ``min_prob`` (``top`` at most),
        what indexing stores for ``search --tag``."""
        out: list[list[tuple[str, float]]] = [[] for _ in range(len(probs))]
        labels = self.config.labels
        for _, start, stop in self.config.label_groups:
            part = probs[:, start:stop]
            order = np.argsort(-part, axis=1)[:, :top]
            for row, idx in enumerate(order):
                out[row] += [(labels[start + j], float(part[row, j])) for j in idx if part[row, j] >= min_prob]
        return out

    def feature_maps(self, pixels: np.ndarray) -> np.ndarray:
        """(n, 3, H, W) -> (n, C, h, w) convolutional features, when ``config.feature_maps``."""
        raise EncoderUnavailableError(f"{self.model_id} exposes no feature maps")

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Words -> L2-normalised float32 (n, embed_dim) in the image vectors' space, when ``config.text_tower``."""
        raise EncoderUnavailableError(f"{self.model_id} has no text tower")
