"""Metric-learning losses from pytorch-metric-learning, passed in as small parts (loss + miner).

``LOSSES`` maps a name to a factory ``f(LossConfig) -> MetricLoss``. A :class:`MetricLoss` is an
``nn.Module`` called as ``loss(embeddings, labels)``; the trainer only needs that signature, so any
module with it (a hashing loss, a classification loss) can be trained the same way.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from pytorch_metric_learning import distances, losses, miners


@dataclass(frozen=True)
class LossConfig:
    embed_dim: int
    n_classes: int
    miner: str = "semihard"  # triplet: "semihard" | "hard" | "all"
    margin: float | None = None  # None: the loss's own default below


class TrainLoss(nn.Module):
    """What :func:`pixseek.train.trainer.fit` trains against: a loss module that declares the learning
    rate multiplier of its own parameters (proxies, class centres), instead of the trainer probing for one."""

    lr_mult: float = 1.0


class MetricLoss(TrainLoss):
    """A pytorch-metric-learning loss with an optional miner; trainable parameters (proxies, class
    centres) live in ``loss`` and get ``lr_mult`` times the head's learning rate."""

    def __init__(self, name: str, loss: nn.Module, miner: nn.Module | None = None, lr_mult: float = 1.0):
        super().__init__()
        self.name, self.loss, self.miner, self.lr_mult = name, loss, miner, lr_mult

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        tuples = self.miner(embeddings, labels) if self.miner is not None else None
        return self.loss(embeddings, labels, tuples)


def _triplet(cfg: LossConfig) -> MetricLoss:
    if cfg.miner not in ("semihard", "hard", "all"):
        raise ValueError(f"unknown triplet miner {cfg.miner!r}; one of semihard, hard, all")
    margin = 0.1 if cfg.margin is None else cfg.margin
    miner = miners.TripletMarginMiner(margin=margin, type_of_triplets=cfg.miner, distance=distances.CosineSimilarity())
    loss = losses.TripletMarginLoss(margin=margin, distance=distances.CosineSimilarity())
    return MetricLoss("triplet", loss, miner)


def _contrastive(cfg: LossConfig) -> MetricLoss:
    # cosine similarities: positives pulled above pos_margin, negatives pushed below neg_margin
    neg = 0.5 if cfg.margin is None else cfg.margin
    loss = losses.ContrastiveLoss(pos_margin=1.0, neg_margin=neg, distance=distances.CosineSimilarity())
    return MetricLoss("contrastive", loss, miners.PairMarginMiner(pos_margin=1.0, neg_margin=neg,
                                                                  distance=distances.CosineSimilarity()))


def _npair(cfg: LossConfig) -> MetricLoss:
    return MetricLoss("npair", losses.NPairsLoss())


def _multi_similarity(cfg: LossConfig) -> MetricLoss:
    eps = 0.1 if cfg.margin is None else cfg.margin
    return MetricLoss("multi-similarity", losses.MultiSimilarityLoss(alpha=2, beta=50, base=0.5),
                      miners.MultiSimilarityMiner(epsilon=eps))


def _arcface(cfg: LossConfig) -> MetricLoss:
    margin = 28.6 if cfg.margin is None else cfg.margin  # degrees
    return MetricLoss("arcface", losses.ArcFaceLoss(cfg.n_classes, cfg.embed_dim, margin=margin, scale=32),
                      lr_mult=10.0)


def _proxy_anchor(cfg: LossConfig) -> MetricLoss:
    margin = 0.1 if cfg.margin is None else cfg.margin
    return MetricLoss("proxy-anchor", losses.ProxyAnchorLoss(cfg.n_classes, cfg.embed_dim, margin=margin, alpha=32),
                      lr_mult=100.0)


LOSSES: dict[str, Callable[[LossConfig], MetricLoss]] = {
    "contrastive": _contrastive,
    "triplet": _triplet,
    "npair": _npair,
    "multi-similarity": _multi_similarity,
    "arcface": _arcface,
    "proxy-anchor": _proxy_anchor,
}


def create_loss(name: str, cfg: LossConfig) -> MetricLoss:
    try:
        factory = LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; one of {', '.join(LOSSES)}") from None
    return factory(cfg)


class ClassificationLoss(TrainLoss):
    """Cross-entropy (softmax) or one-vs-rest binary cross-entropy (multi-label) on class logits."""

    def __init__(self, multi_label: bool = False, label_smoothing: float = 0.0):
        super().__init__()
        self.multi_label, self.label_smoothing = multi_label, label_smoothing

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.multi_label:
            target = nn.functional.one_hot(labels, logits.shape[1]).float()
            return nn.functional.binary_cross_entropy_with_logits(logits, target)
        return nn.functional.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)
