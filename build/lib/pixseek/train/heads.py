"""Trainable heads over the base encoder's embedding, and the backbone for optional fine-tuning.

- :class:`ProjectionHead`: base embedding -> new L2-normalised embedding (metric learning);
- :class:`ClassifierHead`: base embedding -> class logits (tagging);
- :class:`FineTuneModel`: the base CNN (last block, or all of it, trainable) + GeM + a head, for
  ``finetune="last-block" | "full"`` (on the GPU when there is one).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

FINETUNE_MODES = ("head", "last-block", "full")


@dataclass(frozen=True)
class HeadConfig:
    """``hidden=0``: a linear projection; otherwise a one-hidden-layer MLP with a residual linear path."""

    out_dim: int = 256
    hidden: int = 0
    dropout: float = 0.0


class ProjectionHead(nn.Module):
    def __init__(self, in_dim: int, cfg: HeadConfig = HeadConfig()):
        super().__init__()
        self.cfg = cfg
        self.linear = nn.Linear(in_dim, cfg.out_dim)
        self.mlp = None
        if cfg.hidden:
            self.mlp = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(in_dim, cfg.hidden), nn.GELU(),
                                     nn.Linear(cfg.hidden, cfg.out_dim))
        elif cfg.dropout:
            self.linear = nn.Sequential(nn.Dropout(cfg.dropout), self.linear)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.linear(x)
        if self.mlp is not None:
            y = y + self.mlp(x)
        return F.normalize(y, dim=-1)


HEAD_INITS = ("pca", "random")


def pca_init(head: ProjectionHead, x: np.ndarray) -> None:
    """Start the linear projection at the principal axes of the training features ``x`` (n, d), centred.

    Epoch 0 then ranks like the base embedding reduced by PCA instead of like a random projection, which
    is what a small training set kept when no trained epoch beat it on validation (emoji, 3 images per
    class: a random head lost 14 % mAP@R against the pretrained encoder). Axes beyond the data's rank
    keep their random start, scaled down so they add little noise until trained. The whole is scaled to
    the output spread of PyTorch's default init: the output is L2-normalised, so a larger spread would
    act as a smaller learning rate (training barely moved from PCA at unit scale)."""
    linear = head.linear[-1] if isinstance(head.linear, nn.Sequential) else head.linear
    x = np.ascontiguousarray(x, np.float32)
    mean = x.mean(0, dtype=np.float64)
    centred = x - mean.astype(np.float32)
    _, axes = np.linalg.eigh((centred.T @ centred).astype(np.float64))  # d x d: cheap for any n
    k = min(linear.out_features, axes.shape[1], max(len(x) - 1, 0))
    top = axes[:, ::-1][:, :k].T  # eigh sorts ascending
    xt = torch.from_numpy(x)
    with torch.no_grad():
        spread = linear(xt).norm(dim=1).mean()  # of PyTorch's default init, which the learning rate suits
        weight = linear.weight.detach().clone() * 0.05
        weight[:k] = torch.from_numpy(np.ascontiguousarray(top, np.float32))
        bias = -(weight @ torch.from_numpy(mean.astype(np.float32)))
        scale = spread / (xt @ weight.T + bias).norm(dim=1).mean().clamp_min(1e-12)
        linear.weight.copy_(weight * scale)
        linear.bias.copy_(bias * scale)


class ClassifierHead(nn.Module):
    """Logistic regression on the base embedding (softmax or one-vs-rest sigmoid at inference)."""

    def __init__(self, in_dim: int, n_classes: int, dropout: float = 0.0):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(in_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(x))


def gem(fmap: torch.Tensor, p: float = 3.0) -> torch.Tensor:
    """The base encoder's pooling (see ``pixseek.encoders.efficientnet.pool``), differentiable."""
    return fmap.clamp(min=1e-6).pow(p).mean(dim=(2, 3)).pow(1.0 / p)


class FineTuneModel(nn.Module):
    """EfficientNet-Lite0 (PyTorch) -> GeM -> L2 -> head. ``mode`` picks what trains:
    ``"last-block"`` (last MBConv block + conv head) or ``"full"``; the rest stays frozen in eval mode."""

    def __init__(self, net: nn.Module, head: nn.Module, mode: str = "last-block"):
        super().__init__()
        if mode not in FINETUNE_MODES[1:]:
            raise ValueError(f"unknown fine-tune mode {mode!r}; one of {FINETUNE_MODES[1:]}")
        self.net, self.head, self.mode = net, head, mode
        tail = [net._blocks[-1], net._conv_head, net._bn1]
        for p in net.parameters():
            p.requires_grad = mode == "full"
        for module in tail:
            for p in module.parameters():
                p.requires_grad = True
        self._tail_ids = {id(m) for m in tail}

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.mode == "last-block":  # frozen layers keep their BatchNorm statistics
            self.net.eval()
            for m in (self.net._blocks[-1], self.net._conv_head, self.net._bn1):
                m.train()
        return self

    def features(self, pixels: torch.Tensor) -> torch.Tensor:
        net = self.net
        if self.mode == "full":
            return net.extract_features(pixels)
        with torch.no_grad():
            x = net._swish(net._bn0(net._conv_stem(pixels)))
            for block in net._blocks[:-1]:
                x = block(x)
        x = net._blocks[-1](x)
        return net._swish(net._bn1(net._conv_head(x)))

    def base_embedding(self, pixels: torch.Tensor) -> torch.Tensor:
        return F.normalize(gem(self.features(pixels)), dim=-1)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.head(self.base_embedding(pixels))


def device() -> torch.device:
    """The GPU when one is present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
