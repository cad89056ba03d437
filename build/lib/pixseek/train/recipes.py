"""The two things a user trains, wired from the parts: an embedding (metric learning) and a tagger.

Default (CPU-friendly): the base encoder stays frozen, its embeddings are computed once per view and
cached, and only a small head trains. ``finetune="last-block" | "full"`` trains the CNN too (GPU when
present). Both validate on a held-out split, stop early on its metric, and save a ``.model`` artefact.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from pixseek.encoders import Encoder, create_encoder
from pixseek.errors import DatasetError
from pixseek.metrics import retrieval_metrics
from pixseek.train.artifact import save_model
from pixseek.train.data import (
    FeatureBatches,
    Features,
    FeatureSpec,
    ImageBatches,
    LabelledImages,
    extract_features,
    read_image_folder,
    split_by_class,
    split_within_classes,
)
from pixseek.train.heads import (FINETUNE_MODES, HEAD_INITS, ClassifierHead, FineTuneModel, HeadConfig, ProjectionHead,
                                 device, pca_init)
from pixseek.train.losses import ClassificationLoss, LossConfig, create_loss
from pixseek.train.trainer import Callback, TrainConfig, TrainResult, fit, seeded

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class EmbeddingRecipe:
    """Defaults chosen on the glyph dev set with class-disjoint validation (bench/train_metric.py)."""

    loss: str = "multi-similarity"
    miner: str = "semihard"  # used by the triplet loss
    margin: float | None = None
    head: HeadConfig = field(default_factory=HeadConfig)
    head_init: str = "pca"  # or "random" (PyTorch's default init)
    train: TrainConfig = field(default_factory=TrainConfig)
    features: FeatureSpec = field(default_factory=FeatureSpec)
    batch_size: int = 128
    m_per_class: int = 4
    val_fraction: float = 0.2  # of the classes (class-disjoint) when there are >= min_val_classes
    min_val_classes: int = 10
    finetune: str = "head"
    base: str | None = None  # encoder name; None: the default encoder


@dataclass(frozen=True)
class TaggerRecipe:
    multi_label: bool = False
    dropout: float = 0.1
    label_smoothing: float = 0.0
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=60, lr=3e-3, patience=8))
    features: FeatureSpec = field(default_factory=FeatureSpec)
    batch_size: int = 128
    m_per_class: int = 4
    val_fraction: float = 0.2  # of each class's images
    base: str | None = None


@dataclass
class Trained:
    manifest: dict
    result: TrainResult
    path: Path
    summary: dict


def _as_data(source: str | os.PathLike | LabelledImages) -> LabelledImages:
    return source if isinstance(source, LabelledImages) else read_image_folder(source)


def embedding_metrics(vectors: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    m = retrieval_metrics(vectors, labels, ks=(1, 5))
    return {"map_at_r": m["map_at_r"], "recall@1": m["recall@1"], "map": m["map"]}


def head_validator(features: np.ndarray, labels: np.ndarray, metric: Callable[[np.ndarray, np.ndarray], dict],
                   device_: torch.device) -> Callable[[torch.nn.Module], dict]:
    x = torch.from_numpy(np.ascontiguousarray(features))

    def validate(model: torch.nn.Module) -> dict:
        out = torch.cat([model(x[i:i + 4096].to(device_)).cpu() for i in range(0, len(x), 4096)])
        return metric(out.numpy(), labels)

    return validate


def train_embedding(source: str | os.PathLike | LabelledImages, out: str | os.PathLike,
                    recipe: EmbeddingRecipe = EmbeddingRecipe(), *, name: str | None = None,
                    encoder: Encoder | None = None, callback: Callback | None = None,
                    feature_progress: Progress | None = None, features: Features | None = None) -> Trained:
    """Metric learning on a labelled folder -> ``out`` (.model). ``features``: precomputed base features."""
    if recipe.finetune not in FINETUNE_MODES:
        raise ValueError(f"unknown fine-tune mode {recipe.finetune!r}; one of {FINETUNE_MODES}")
    if recipe.head_init not in HEAD_INITS:
        raise ValueError(f"unknown head init {recipe.head_init!r}; one of {HEAD_INITS}")
    t0 = time.perf_counter()
    data = _as_data(source)
    encoder = encoder or create_encoder(recipe.base)
    name = name or Path(out).stem
    if recipe.finetune != "head":
        return _finetune_embedding(data, out, recipe, name, encoder, callback, t0)
    feats = features or extract_features(encoder, data, recipe.features, progress=feature_progress)
    data = feats.data
    n_classes = len(np.unique(data.labels))
    if n_classes >= recipe.min_val_classes:
        tr_idx, va_idx = _split_indices(data, recipe.val_fraction, by_class=True, seed=recipe.train.seed)
        val_protocol = "class-disjoint"
    else:
        tr_idx, va_idx = _split_indices(data, recipe.val_fraction, by_class=False, seed=recipe.train.seed)
        val_protocol = "within-class"
    labels = data.labels
    with seeded(recipe.train.seed):
        head = ProjectionHead(encoder.embed_dim, recipe.head)
        if recipe.head_init == "pca":
            pca_init(head, feats.vectors[0, tr_idx])
        loss = create_loss(recipe.loss, LossConfig(recipe.head.out_dim, int(labels.max()) + 1, recipe.miner,
                                                   recipe.margin))
    batches = FeatureBatches(feats.vectors[:, tr_idx], labels[tr_idx], recipe.batch_size, recipe.m_per_class,
                             recipe.train.seed)
    val_x, val_y = feats.vectors[0, va_idx], labels[va_idx]
    dev = torch.device("cpu")
    validate = head_validator(val_x, val_y, embedding_metrics, dev)
    result = fit(head, loss, batches, validate, recipe.train, "map_at_r", callback, dev, tie_break="map")
    base_val = embedding_metrics(val_x, val_y)
    summary = {"images": len(data), "classes": len(np.unique(labels)), "train_images": len(tr_idx),
               "val_images": len(va_idx), "validation": val_protocol, "base_val": base_val,
               "trained_val": result.best.metrics, "skipped": feats.errors,
               "seconds": round(time.perf_counter() - t0, 2)}
    manifest = save_model(out, kind="embedding", name=name, base=encoder, head=head, in_dim=encoder.embed_dim,
                          labels=list(data.classes), head_config=asdict(recipe.head), embed_dim=recipe.head.out_dim,
                          metrics={"validation": result.best.metrics, "base_validation": base_val},
                          training=_training_record(recipe, result, summary))
    return Trained(manifest, result, Path(out), summary)


def _split_indices(data: LabelledImages, fraction: float, by_class: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return (split_by_class if by_class else split_within_classes)(data.labels, fraction, seed)


def _training_record(recipe, result: TrainResult, summary: dict) -> dict:
    rec = asdict(recipe)
    return {"recipe": rec, "result": result.to_dict(), "summary": {k: v for k, v in summary.items() if k != "skipped"}}


def _finetune_embedding(data: LabelledImages, out, recipe: EmbeddingRecipe, name: str, encoder: Encoder,
                        callback: Callback | None, t0: float) -> Trained:
    """Fine-tune the CNN itself (last block or all of it) with a projection head; GPU when present."""
    from pixseek.encoders.efficientnet import OnnxCnnEncoder, load_torch_model

    if not isinstance(encoder, OnnxCnnEncoder) or encoder.name != "efficientnet_lite0" or encoder.pooling != "gem":
        raise ValueError("fine-tuning is implemented for efficientnet_lite0 with GeM pooling")
    n_classes = len(np.unique(data.labels))
    by_class = n_classes >= recipe.min_val_classes
    tr_idx, va_idx = _split_indices(data, recipe.val_fraction, by_class, recipe.train.seed)
    train, val = data.subset(tr_idx), data.subset(va_idx)
    dev = device()
    with seeded(recipe.train.seed):
        model = FineTuneModel(load_torch_model(), ProjectionHead(encoder.embed_dim, recipe.head), recipe.finetune)
        loss = create_loss(recipe.loss, LossConfig(recipe.head.out_dim, len(data.classes), recipe.miner,
                                                   recipe.margin))
    batches = ImageBatches(train, encoder.preprocess, recipe.features.augment, recipe.batch_size,
                           recipe.m_per_class, recipe.train.seed)
    val_feats = extract_features(encoder, val, FeatureSpec(views=1), cache=False)
    from pixseek.search.pipeline import batched, decode_stream

    def validate(m: torch.nn.Module) -> dict:
        outs = []
        for batch in batched(decode_stream(val_feats.data.paths, encoder.preprocess), 64):
            px = torch.from_numpy(np.stack([d.pixels for d in batch if d.pixels is not None])).to(dev)
            outs.append(m(px).cpu().numpy())
        return embedding_metrics(np.concatenate(outs), val_feats.data.labels)

    result = fit(model, loss, batches, validate, recipe.train, "map_at_r", callback, dev, tie_break="map")
    base_val = embedding_metrics(val_feats.vectors[0], val_feats.data.labels)
    summary = {"images": len(data), "classes": n_classes, "train_images": len(train), "val_images": len(val),
               "validation": "class-disjoint" if by_class else "within-class", "base_val": base_val,
               "trained_val": result.best.metrics, "device": str(dev), "seconds": round(time.perf_counter() - t0, 2)}
    manifest = save_model(out, kind="embedding", name=name, base=encoder, head=model.head, in_dim=encoder.embed_dim,
                          labels=list(data.classes), head_config=asdict(recipe.head), embed_dim=recipe.head.out_dim,
                          metrics={"validation": result.best.metrics, "base_validation": base_val},
                          training=_training_record(recipe, result, summary), backbone=model.net)
    return Trained(manifest, result, Path(out), summary)


# -- tagging ----------------------------------------------------------------------------------------
def tagging_metrics(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> dict[str, float]:
    """Top-1 accuracy, negative log-likelihood and expected calibration error (15 bins)."""
    z = logits / temperature
    z = z - z.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    probs = np.exp(logp)
    pred = probs.argmax(1)
    conf = probs.max(1)
    correct = pred == labels
    bins = np.minimum((conf * 15).astype(int), 14)
    ece = sum(abs(correct[bins == b].mean() - conf[bins == b].mean()) * (bins == b).mean()
              for b in range(15) if (bins == b).any())
    return {"accuracy": float(correct.mean()), "nll": float(-logp[np.arange(len(labels)), labels].mean()),
            "ece": float(ece)}


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature scaling (Guo et al. 2017): the T > 0 minimising the validation NLL."""
    from scipy.optimize import minimize_scalar

    res = minimize_scalar(lambda t: tagging_metrics(logits, labels, np.exp(t))["nll"], bounds=(-3, 3),
                          method="bounded")
    return float(np.exp(res.x))


def train_tagger(source: str | os.PathLike | LabelledImages, out: str | os.PathLike,
                 recipe: TaggerRecipe = TaggerRecipe(), *, name: str | None = None, encoder: Encoder | None = None,
                 callback: Callback | None = None, feature_progress: Progress | None = None,
                 features: Features | None = None) -> Trained:
    """A classifier head for the folder's classes, calibrated by temperature scaling on a held-out split."""
    t0 = time.perf_counter()
    data = _as_data(source)
    encoder = encoder or create_encoder(recipe.base)
    name = name or Path(out).stem
    feats = features or extract_features(encoder, data, recipe.features, progress=feature_progress)
    data = feats.data
    counts = np.bincount(data.labels, minlength=len(data.classes))
    if (counts < 2).any():
        few = [data.classes[i] for i in np.flatnonzero(counts < 2)]
        raise DatasetError(f"classes with fewer than two readable images cannot be validated: {', '.join(few[:5])}")
    tr_idx, va_idx = _split_indices(data, recipe.val_fraction, by_class=False, seed=recipe.train.seed)
    labels = data.labels
    with seeded(recipe.train.seed):
        head = ClassifierHead(encoder.embed_dim, len(data.classes), recipe.dropout)
    loss = ClassificationLoss(recipe.multi_label, recipe.label_smoothing)
    batches = FeatureBatches(feats.vectors[:, tr_idx], labels[tr_idx], recipe.batch_size, recipe.m_per_class,
                             recipe.train.seed)
    val_x, val_y = feats.vectors[0, va_idx], labels[va_idx]
    dev = torch.device("cpu")
    validate = head_validator(val_x, val_y, tagging_metrics, dev)
    result = fit(head, loss, batches, validate, recipe.train, "accuracy", callback, dev, tie_break="nll")
    with torch.no_grad():
        val_logits = head(torch.from_numpy(np.ascontiguousarray(val_x))).numpy()
    temperature = 1.0 if recipe.multi_label else fit_temperature(val_logits, val_y)
    calibrated = tagging_metrics(val_logits, val_y, temperature)
    summary = {"images": len(data), "classes": len(data.classes), "train_images": len(tr_idx),
               "val_images": len(va_idx), "validation": "within-class", "temperature": round(temperature, 4),
               "val_uncalibrated": tagging_metrics(val_logits, val_y), "val_calibrated": calibrated,
               "skipped": feats.errors, "seconds": round(time.perf_counter() - t0, 2)}
    manifest = save_model(out, kind="tagger", name=name, base=encoder, head=head, in_dim=encoder.embed_dim,
                          labels=list(data.classes), head_config={"kind": "linear", "dropout": recipe.dropout},
                          temperature=temperature, multi_label=recipe.multi_label,
                          metrics={"validation": calibrated}, training=_training_record(recipe, result, summary))
    return Trained(manifest, result, Path(out), summary)
