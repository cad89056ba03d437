"""``pixseek train`` (metric learning) and ``pixseek tag-train`` (classifier head for your classes)."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from pixseek.cli.app import JsonOption, app, console, emit_json, fail, out, progress_bar

LOSS_HELP = "contrastive, triplet, npair, multi-similarity, arcface, proxy-anchor"


def _plot_path(out_path: Path, plot: Path | None) -> Path:
    return plot or out_path.with_suffix(".png")


def _check_out(out_path: Path) -> None:
    if out_path.suffix != ".model":
        raise fail(f"{out_path}: the output file must end in .model")


@app.command()
def train(
    folder: Annotated[Path, typer.Argument(help="Labelled folder: one sub-folder per class.")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Model file to write (.model).")],
    loss: Annotated[str, typer.Option(help=f"Metric-learning loss: {LOSS_HELP}.")] = "multi-similarity",
    miner: Annotated[str, typer.Option(help="Triplet miner: semihard, hard, all.")] = "semihard",
    margin: Annotated[float | None, typer.Option(help="Loss margin (default: the loss's own).")] = None,
    dim: Annotated[int, typer.Option(help="Embedding size of the trained head.")] = 256,
    hidden: Annotated[int, typer.Option(help="Hidden units of an MLP head (0: linear projection).")] = 0,
    head_init: Annotated[str, typer.Option(help="Head start: pca (the features' principal axes) or random.")] = "pca",
    epochs: Annotated[int, typer.Option(help="Maximum epochs (early stopping on validation mAP@R).")] = 40,
    patience: Annotated[int, typer.Option(help="Epochs without improvement before stopping.")] = 6,
    lr: Annotated[float, typer.Option(help="Learning rate (AdamW, cosine schedule).")] = 1e-3,
    batch_size: Annotated[int, typer.Option(help="Images per batch.")] = 128,
    m: Annotated[int, typer.Option("--m", help="Images per class in a batch (class-balanced sampler).")] = 4,
    views: Annotated[int, typer.Option(help="Cached views per image: 1 clean + augmented ones.")] = 2,
    no_flip: Annotated[bool, typer.Option("--no-flip", help="No horizontal flips (text, symbols).")] = False,
    finetune: Annotated[str, typer.Option(help="What trains: head (frozen CNN, cached features), last-block, full.")] = "head",
    base: Annotated[str | None, typer.Option("--base", help="Base encoder (default: efficientnet_lite0).")] = None,
    plot: Annotated[Path | None, typer.Option(help="Training-curve PNG (default: OUT with .png).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Metric learning on FOLDER: a projection head over the frozen encoder (by default), early-stopped on
    the validation mAP@R; writes a .model usable as --model anywhere."""
    from pixseek.train import EmbeddingRecipe, train_embedding
    from pixseek.train.data import AugmentConfig, FeatureSpec
    from pixseek.train.heads import HEAD_INITS, HeadConfig
    from pixseek.train.losses import LOSSES
    from pixseek.train.trainer import TrainConfig, plot_history

    _check_out(out_path)
    if loss not in LOSSES:
        raise fail(f"unknown loss {loss!r}; one of {', '.join(LOSSES)}")
    if head_init not in HEAD_INITS:
        raise fail(f"unknown head init {head_init!r}; one of {', '.join(HEAD_INITS)}")
    recipe = EmbeddingRecipe(
        loss=loss, miner=miner, margin=margin, head=HeadConfig(out_dim=dim, hidden=hidden), head_init=head_init,
        train=TrainConfig(epochs=epochs, lr=lr, patience=patience, seed=seed),
        features=FeatureSpec(views=views, augment=AugmentConfig(flip=not no_flip), seed=seed),
        batch_size=batch_size, m_per_class=m, finetune=finetune, base=base)
    trained = _train(train_embedding, folder, out_path, recipe, base, "map_at_r", as_json, cache=finetune == "head")
    png = plot_history(trained.result, _plot_path(out_path, plot), title=f"{out_path.name} ({loss})")
    _report(trained, png, as_json, "map_at_r", ("map_at_r", "recall@1"), "base_val", "trained_val")


@app.command("tag-train")
def tag_train(
    folder: Annotated[Path, typer.Argument(help="Labelled folder: one sub-folder per tag.")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Model file to write (.model).")],
    multi_label: Annotated[bool, typer.Option("--multi-label", help="Independent sigmoid per tag instead of softmax.")] = False,
    epochs: Annotated[int, typer.Option(help="Maximum epochs (early stopping on validation accuracy).")] = 60,
    views: Annotated[int, typer.Option(help="Cached views per image: 1 clean + augmented ones.")] = 2,
    no_flip: Annotated[bool, typer.Option("--no-flip", help="No horizontal flips (text, symbols).")] = False,
    base: Annotated[str | None, typer.Option("--base", help="Base encoder (default: efficientnet_lite0).")] = None,
    plot: Annotated[Path | None, typer.Option(help="Training-curve PNG (default: OUT with .png).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """A classifier head for FOLDER's classes with calibrated probabilities; then
    `pixseek tags IMG --model OUT` and `pixseek index DIR --model OUT` (for `search --tag`)."""
    from pixseek.train import TaggerRecipe, train_tagger
    from pixseek.train.data import AugmentConfig, FeatureSpec
    from pixseek.train.trainer import plot_history

    _check_out(out_path)
    default = TaggerRecipe()
    recipe = TaggerRecipe(multi_label=multi_label, train=dataclasses.replace(default.train, epochs=epochs, seed=seed),
                          features=FeatureSpec(views=views, augment=AugmentConfig(flip=not no_flip), seed=seed),
                          base=base)
    trained = _train(train_tagger, folder, out_path, recipe, base, "accuracy", as_json, cache=True)
    png = plot_history(trained.result, _plot_path(out_path, plot), title=f"{out_path.name} (tagger)")
    _report(trained, png, as_json, "accuracy", ("accuracy", "nll", "ece"), "val_uncalibrated", "val_calibrated")


def _train(fit, folder: Path, out_path: Path, recipe, base: str | None, monitor: str, as_json: bool, cache: bool):
    """Read FOLDER, encode it once (cached features, when the CNN is frozen) under a progress bar, then
    ``fit`` (train_embedding / train_tagger) with a live training display."""
    from pixseek.encoders import create_encoder
    from pixseek.train.data import extract_features, read_image_folder
    from pixseek.train.trainer import RichProgress

    with progress_bar(f"encoding {folder}", enabled=not as_json) as feat_progress:
        data = read_image_folder(folder)
        encoder = create_encoder(base)
        features = extract_features(encoder, data, recipe.features, progress=feat_progress) if cache else None
    if as_json:
        return fit(data, out_path, recipe, encoder=encoder, features=features)
    callback = RichProgress(console, "training", monitor)
    with callback:
        return fit(data, out_path, recipe, encoder=encoder, callback=callback, features=features)


def _report(trained, png: Path, as_json: bool, monitor: str, keys: tuple[str, ...], before: str, after: str) -> None:
    s = trained.summary
    data = {"out": str(trained.path), "model_id": trained.manifest["model_id"], "plot": str(png),
            "best_epoch": trained.result.best_epoch, "stopped": trained.result.stopped,
            **{k: v for k, v in s.items()}}
    if as_json:
        emit_json(data)
        return
    from pixseek.cli.core import print_errors

    print_errors(s.get("skipped", []))
    out.print(f"[bold]{trained.path}[/bold]  model id {data['model_id']}")
    out.print(f"  {s['images']} images, {s['classes']} classes; validation: {s['val_images']} images ({s['validation']})")
    out.print(f"  best epoch {data['best_epoch']} ({data['stopped']}), {s['seconds']:.1f}s; curve: {png}")
    for label, key in ((before, before), (after, after)):
        out.print(f"  {label:>17}: " + "  ".join(f"{k} {s[key][k]:.4f}" for k in keys))
