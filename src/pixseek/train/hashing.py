"""Deep hashing's trainer: a hash head trained end to end on labelled embeddings with the training machinery.

``v = tanh(x W + b)`` is trained with a pairwise or triplet metric loss on ``v`` (cosine, so on the
relaxed codes it tracks ``bits - 2 * hamming``) plus a quantization loss ``λ ||v - sgn(v)||² / bits``
that pushes every output to ±1, so the sign loses little. The loop, the class-balanced batches of
cached features and the losses are :mod:`pixseek.train`'s; W starts from ITQ, so training begins at
the unsupervised code's quality. The result is a :class:`~pixseek.hashing.coders.DeepHashCoder`
(numpy inference) with its own model id and the base encoder's, saved as a ``.hash`` file.

It lives under :mod:`pixseek.train` (a feature layer above search); the codes it exports are read by
:mod:`pixseek.hashing` (below the index layer), which the binary index kind uses: the index layer
never imports the trainer.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from pixseek.hashing.coders import DeepHashCoder, ITQCoder
from pixseek.hashing.evaluate import code_metrics
from pixseek.train.data import FeatureBatches
from pixseek.train.losses import LossConfig, TrainLoss, create_loss
from pixseek.train.trainer import Callback, TrainConfig, TrainResult, fit, seeded

HASH_LOSSES = ("triplet", "contrastive")


@dataclass(frozen=True)
class DeepHashRecipe:
    bits: int = 64
    loss: str = "triplet"  # pairwise ("contrastive") or "triplet", from pytorch-metric-learning
    margin: float | None = None
    quantization: float = 0.5  # λ, per bit
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=30, lr=1e-3, patience=5))
    batch_size: int = 128
    m_per_class: int = 4


class HashHead(nn.Module):
    def __init__(self, dim: int, bits: int):
        super().__init__()
        self.linear = nn.Linear(dim, bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.linear(x))


class HashingLoss(TrainLoss):
    """A metric loss on the relaxed codes + λ · mean per-bit quantization error ||v - sgn(v)||² / bits."""

    def __init__(self, metric: TrainLoss, weight: float):
        super().__init__()
        self.metric, self.weight = metric, weight
        self.lr_mult = metric.lr_mult

    def forward(self, v: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        quant = (v - torch.sign(v).detach()).pow(2).mean()
        return self.metric(v, labels) + self.weight * quant


def itq_init(head: HashHead, coder: ITQCoder, x: np.ndarray) -> None:
    """Start from the ITQ projection made linear ((x - center) A, without ITQ's re-normalisation, which
    does not change the signs much), scaled so the pre-activations have unit spread."""
    w = coder.matrix
    b = -coder.center @ coder.matrix
    scale = 1.0 / max(float((x @ w + b).std()), 1e-6)
    with torch.no_grad():
        head.linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T * scale)))
        head.linear.bias.copy_(torch.from_numpy(b * scale))


def train_deep_hash(features: np.ndarray, labels: np.ndarray, base_model_id: str,
                    recipe: DeepHashRecipe = DeepHashRecipe(), val: tuple[np.ndarray, np.ndarray] | None = None,
                    callback: Callback | None = None) -> tuple[DeepHashCoder, TrainResult]:
    """Train on ``features`` ((views, n, d) or (n, d) base embeddings) with class ``labels``; validate
    (early stopping on Hamming-ranking mAP) on ``val`` = (vectors, labels), else on the training set."""
    if recipe.loss not in HASH_LOSSES:
        raise ValueError(f"unknown hashing loss {recipe.loss!r}; one of {', '.join(HASH_LOSSES)}")
    feats = np.asarray(features, np.float32)
    if feats.ndim == 2:
        feats = feats[None]
    labels = np.asarray(labels, np.int64)
    dim, bits = feats.shape[2], recipe.bits
    itq = ITQCoder(dim, bits)
    itq.train(feats[0])
    with seeded(recipe.train.seed):
        head = HashHead(dim, bits)
        itq_init(head, itq, feats[0])
        metric = create_loss(recipe.loss, LossConfig(bits, int(labels.max()) + 1, margin=recipe.margin))
    loss = HashingLoss(metric, recipe.quantization)
    batches = FeatureBatches(feats, labels, recipe.batch_size, recipe.m_per_class, recipe.train.seed)
    val_x, val_y = val if val is not None else (feats[0], labels)
    val_t = torch.from_numpy(np.ascontiguousarray(val_x, np.float32))

    def validate(model: nn.Module) -> dict:
        v = model(val_t).numpy()
        return code_metrics(np.packbits(v > 0, axis=1), val_y, bits)

    result = fit(head, loss, batches, validate, recipe.train, "map", callback)
    w = head.linear.weight.detach().numpy().T
    b = head.linear.bias.detach().numpy()
    info = {"recipe": asdict(recipe), "best_epoch": result.best_epoch,
            "validation": {k: round(v, 4) for k, v in result.best.metrics.items()}}
    return DeepHashCoder(dim, bits, w, b, base_model_id, info), result
