"""Trainable heads over the base encoder's embedding, and the backbone for optional fine-tuning.

- :class:`ProjectionHead`: base embedding -> new L2-normalised embedding (metric learning);
- :class:`ClassifierHead`: base embedding -> class logits (tagging);
- :class:`FineTuneModel`: the base CNN (last block, or all of it, trainable) + GeM + a head, for
  ``finetune="last-block" | "full"`` (on the GPU when there is one).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

FINETUNE_MODES = ("head", "last-block", "full")


@dataclass(frozen=True)
class HeadConfig:
    """``hidden=0``: a linear projection; otherwise a one-hidden-layer MLP with a residual linear path."""

    out_dim: int = 128
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
