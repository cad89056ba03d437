"""``pixseek bench-index`` (index types compared in one run) and ``pixseek hash-train`` (deep hashing)."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from pixseek.cli.app import JsonOption, app, emit_json, fail, out
from pixseek.search.bench_index import DEFAULT_CONFIGS, run


@app.command("bench-index")
def bench_index(
    n: Annotated[int, typer.Option("--n", help="Vectors in the index.")] = 100_000,
    queries: Annotated[int, typer.Option("--queries", help="Queries (ground truth: exact search, same run).")] = 1000,
    images: Annotated[Path | None, typer.Option("--images", help="Folder whose real embeddings are the cluster centres (default: synthetic centres).")] = None,
    kinds: Annotated[str, typer.Option("--kinds", help=f"Comma-separated settings: {', '.join(DEFAULT_CONFIGS)}.")] = ",".join(DEFAULT_CONFIGS),
    work: Annotated[Path | None, typer.Option("--work", help="Folder for the temporary float16 data and index files (default: the system's temp).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Recall@10, single-query p50/p99, batch QPS, build time and RAM bytes per vector, per index type."""
    names = [k.strip() for k in kinds.split(",") if k.strip()]
    unknown = [k for k in names if k not in DEFAULT_CONFIGS]
    if unknown:
        raise fail(f"unknown setting(s) {', '.join(unknown)}; one of {', '.join(DEFAULT_CONFIGS)}")
    centres = None
    if images is not None:
        from pixseek.io import IMAGE_EXTENSIONS, walk_files
        from pixseek.search import encode_paths

        centres, _, _ = encode_paths([str(p) for p in walk_files(images, IMAGE_EXTENSIONS)])
        if len(centres) < 2:
            raise fail(f"{images}: need at least two readable images")
    desc, results = run(n, 1280 if centres is None else centres.shape[1], queries, tuple(names), centres, work=work,
                        log=(lambda *_: None) if as_json else out.print)
    if as_json:
        emit_json({"n": n, "queries": queries, "data": desc, "results": [asdict(r) for r in results]})


@app.command("hash-train")
def hash_train(
    folder: Annotated[Path, typer.Argument(help="Labelled folder: one sub-folder per class.")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Deep-hash model to write (.hash).")],
    bits: Annotated[int, typer.Option(help="Code length in bits (a multiple of 8).")] = 64,
    loss: Annotated[str, typer.Option(help="Metric loss on the relaxed codes: triplet or contrastive (pairwise).")] = "triplet",
    quantization: Annotated[float, typer.Option(help="Weight of the quantization loss ||v - sgn(v)||² per bit.")] = 0.5,
    epochs: Annotated[int, typer.Option(help="Maximum epochs (early stopping on validation mAP of the codes).")] = 30,
    model: Annotated[str | None, typer.Option("--model", help="Encoder whose embeddings are hashed (default: the default encoder).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Train a deep hashing head (metric loss + quantization loss) on FOLDER's classes over the frozen
    encoder's embeddings; writes a .hash file usable as the binary index's coder. Validation: a held-out
    fifth of each class, mAP of Hamming ranking, against ITQ codes of the same length."""
    from pixseek.encoders import create_encoder
    from pixseek.hashing import HASH_SUFFIX, ITQCoder, code_metrics
    from pixseek.train.hashing import HASH_LOSSES, DeepHashRecipe, train_deep_hash
    from pixseek.train.data import extract_features, read_image_folder, split_within_classes
    from pixseek.train.trainer import TrainConfig

    if out_path.suffix != HASH_SUFFIX:
        raise fail(f"{out_path}: the output file must end in {HASH_SUFFIX}")
    if bits <= 0 or bits % 8:
        raise fail(f"--bits must be a positive multiple of 8, got {bits}")
    if loss not in HASH_LOSSES:
        raise fail(f"unknown hashing loss {loss!r}; one of {', '.join(HASH_LOSSES)}")
    encoder = create_encoder(model)
    feats = extract_features(encoder, read_image_folder(folder))
    labels = feats.data.labels
    tr, va = split_within_classes(labels, 0.2)
    recipe = DeepHashRecipe(bits=bits, loss=loss, quantization=quantization,
                            train=TrainConfig(epochs=epochs, lr=1e-3, patience=5))
    coder, result = train_deep_hash(feats.vectors[:, tr], labels[tr], encoder.model_id, recipe,
                                    val=(feats.vectors[0, va], labels[va]))
    coder.save(out_path)
    itq = ITQCoder(encoder.embed_dim, bits)
    itq.train(feats.vectors[0, tr])
    summary = {"out": str(out_path), "model_id": coder.model_id, "base_model_id": coder.base_model_id, "bits": bits,
               "images": len(labels), "classes": len(feats.data.classes), "best_epoch": result.best_epoch,
               "val_map": {"deep": code_metrics(coder.encode(feats.vectors[0, va]), labels[va], bits)["map"],
                           "itq": code_metrics(itq.encode(feats.vectors[0, va]), labels[va], bits)["map"]},
               "skipped": feats.errors}
    if as_json:
        emit_json(summary)
        return
    out.print(f"wrote {out_path} ({coder.model_id}, {bits} bits, on {coder.base_model_id}); validation mAP "
              f"{summary['val_map']['deep']:.3f} (ITQ, same bits: {summary['val_map']['itq']:.3f})")
