"""Write trained ``.model`` artefacts (read back by :mod:`pixseek.encoders.trained`).

The head is exported to ONNX (so inference needs no torch) and its weights are kept as ``head.npz``
beside it; a fine-tuned backbone is exported in the base's own two-output ONNX format.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import time
import warnings
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pixseek.version import __version__
from pixseek.encoders import Encoder
from pixseek.encoders.efficientnet import export_onnx, features_and_logits_module
from pixseek.encoders.trained import BACKBONE, FORMAT, HEAD, KINDS, MANIFEST, SUFFIX, WEIGHTS, model_id_for


def head_onnx_bytes(head: nn.Module, in_dim: int, output: str) -> bytes:
    """Export ``head`` (float32 (n, in_dim) -> (n, k)) to ONNX with a dynamic batch axis."""
    head = head.cpu().eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(head, (torch.zeros(2, in_dim),), buf, input_names=["features"], output_names=[output],
                          dynamic_axes={"features": {0: "n"}, output: {0: "n"}}, opset_version=17, dynamo=False)
    return buf.getvalue()


def backbone_onnx_bytes(net: nn.Module) -> bytes:
    """A fine-tuned EfficientNet in the base format (pixels -> feature map, ImageNet logits)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "backbone.onnx"
        export_onnx(features_and_logits_module(net.cpu().eval()), path)
        return path.read_bytes()


def save_model(path: str | os.PathLike, *, kind: str, name: str, base: Encoder, head: nn.Module, in_dim: int,
               labels: list[str], head_config: dict, embed_dim: int | None = None, temperature: float = 1.0,
               multi_label: bool = False, metrics: dict | None = None, training: dict | None = None,
               backbone: nn.Module | None = None) -> dict:
    """Write the artefact atomically; returns its manifest (with ``model_id``)."""
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; one of {KINDS}")
    path = Path(path)
    if path.suffix != SUFFIX:
        raise ValueError(f"{path}: a trained model file must end in {SUFFIX}")
    head_bytes = head_onnx_bytes(head, in_dim, "embedding" if kind == "embedding" else "logits")
    blobs = [head_bytes]
    backbone_bytes = backbone_onnx_bytes(backbone) if backbone is not None else None
    if backbone_bytes is not None:
        blobs.append(backbone_bytes)
    weights = io.BytesIO()
    np.savez(weights, **{k: v.detach().cpu().numpy() for k, v in head.state_dict().items()})
    base_record = base.config.record()
    base_record["options"] = {k: v for k, v in base_record.get("options", {}).items() if k != "threads"}
    manifest = {
        "format": FORMAT, "kind": kind, "name": name, "pixseek_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "base": base_record, "preprocess": asdict(base.preprocess), "in_dim": in_dim,
        "embed_dim": embed_dim if kind == "embedding" else base.embed_dim,
        "head": head_config, "labels": list(labels), "temperature": float(temperature),
        "multi_label": bool(multi_label), "finetuned_backbone": backbone is not None,
        "metrics": metrics or {}, "training": training or {},
    }
    manifest["model_id"] = model_id_for(manifest, blobs)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".model.tmp", dir=path.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False))
            zf.writestr(HEAD, head_bytes)
            zf.writestr(WEIGHTS, weights.getvalue())
            if backbone_bytes is not None:
                zf.writestr(BACKBONE, backbone_bytes)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return manifest
