"""Trained ``.model`` artefacts (written by :mod:`pixseek.train.artifact`) as encoders.

A ``.model`` file is a zip holding ``model.json`` (the manifest: model id, base encoder, head config,
label names, metrics), ``head.onnx`` (base embedding -> new embedding, or -> class logits) and, for a
fine-tuned backbone, ``backbone.onnx`` (pixels -> feature map, ImageNet logits, like the base).
Inference needs onnxruntime and numpy only: base features (ONNX) then the head (ONNX).

``create_encoder("shoes.model")`` loads one through the path loader registered below.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from functools import cached_property
from pathlib import Path

import numpy as np

from pixseek.encoders.base import Embedding, Encoder, EncoderConfig, l2_normalize
from pixseek.encoders.efficientnet import OnnxCnnEncoder, softmax
from pixseek.encoders.onnx_runtime import cached_onnx, make_session, run_session
from pixseek.encoders.registry import create_encoder, register_path_loader
from pixseek.errors import PixseekError, TrainedModelError
from pixseek.preprocess import PreprocessConfig

FORMAT = "pixseek-model/1"
SUFFIX = ".model"
MANIFEST, HEAD, BACKBONE, WEIGHTS = "model.json", "head.onnx", "backbone.onnx", "head.npz"
KINDS = ("embedding", "tagger")


def model_id_for(manifest: dict, blobs: list[bytes]) -> str:
    """``<base model id>+<kind>:<name>-<content hash>``: two trainings never share an id."""
    digest = hashlib.sha256(b"".join(blobs) + json.dumps(manifest.get("head", {}), sort_keys=True).encode())
    return f"{manifest['base']['model_id']}+{manifest['kind']}:{manifest['name']}-{digest.hexdigest()[:12]}"


def read_manifest(path: str | Path) -> dict:
    """The manifest of a ``.model`` file; :class:`TrainedModelError` names the file if it is not one."""
    try:
        with zipfile.ZipFile(path) as zf:
            manifest = json.loads(zf.read(MANIFEST))
    except FileNotFoundError:
        raise TrainedModelError(path, "no such file") from None
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise TrainedModelError(path, f"not a pixseek model file ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise TrainedModelError(path, f"unknown model format {manifest.get('format')!r}; this pixseek reads {FORMAT}")
    if manifest.get("kind") not in KINDS:
        raise TrainedModelError(path, f"unknown model kind {manifest.get('kind')!r}")
    return manifest


class _ArtefactBackbone(OnnxCnnEncoder):
    """The base CNN with fine-tuned weights shipped in the artefact (same two outputs as the base)."""

    def __init__(self, base: OnnxCnnEncoder, onnx_bytes: bytes):
        digest = hashlib.sha256(onnx_bytes).hexdigest()[:16]
        super().__init__(base.name, base.preprocess, pooling=base.pooling, threads=base.threads,
                         registry_name=base.config.name, embedding_space=f"finetuned-{digest}")
        self._bytes = onnx_bytes

    @cached_property
    def onnx_path(self):
        key = f"finetuned-{hashlib.sha256(self._bytes).hexdigest()[:16]}"
        return cached_onnx(key, lambda p: p.write_bytes(self._bytes))


class TrainedEncoder(Encoder):
    """Base encoder features, then the trained head.

    ``embedding`` models: the head maps the base embedding to a new L2-normalised embedding; the
    ImageNet probabilities of the base pass through. ``tagger`` models: the embedding stays the base
    one; probabilities are the user classes' (calibrated) followed by the base's ImageNet ones.
    """

    def __init__(self, path: str | Path, manifest: dict, base: Encoder, head_onnx: bytes,
                 threads: int | None = None):
        self.path = Path(path)
        self.manifest = manifest
        self.base = base
        self.kind = manifest["kind"]
        self.user_labels: list[str] = list(manifest.get("labels", []))
        self.temperature = float(manifest.get("temperature", 1.0))
        self.multi_label = bool(manifest.get("multi_label", False))
        self.threads = threads
        self._head_onnx = head_onnx
        b = base.config
        common = {"name": str(self.path.resolve()), "model_id": manifest["model_id"], "preprocess": b.preprocess,
                  "feature_maps": b.feature_maps, "kind": self.kind, "base": b}
        if self.kind == "embedding":  # a new embedding; the base's ImageNet probabilities pass through
            config = EncoderConfig(embed_dim=int(manifest["embed_dim"]), labels=b.labels, label_groups=b.label_groups,
                                   **common)
        else:  # a tagger keeps the base embedding (and its space); its classes come first, then the base's
            n = len(self.user_labels)
            groups = (("user", 0, n),) + tuple(("base" if g == "labels" else g, n + a, n + c)
                                               for g, a, c in b.label_groups)
            config = EncoderConfig(embed_dim=b.embed_dim, labels=tuple(self.user_labels) + b.labels,
                                   label_groups=groups, embedding_space=b.embedding_space, **common)
        super().__init__(config)

    @cached_property
    def head(self):
        key = f"head-{hashlib.sha256(self._head_onnx).hexdigest()[:16]}"
        return make_session(cached_onnx(key, lambda p: p.write_bytes(self._head_onnx)), self.threads or 1)

    def head_outputs(self, base_vectors: np.ndarray) -> np.ndarray:
        """Run the head on base embeddings (n, base dim) -> (n, embed dim) or (n, classes) logits."""
        return run_session(self.head, base_vectors)[0]

    def class_probs(self, logits: np.ndarray) -> np.ndarray:
        z = logits / self.temperature
        if self.multi_label:
            return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
        return softmax(z)

    def embed_pixels(self, pixels: np.ndarray) -> Embedding:
        base = self.base.embed_pixels(pixels)
        out = self.head_outputs(base.vectors)
        if self.kind == "embedding":
            return Embedding(vectors=l2_normalize(out), probs=base.probs)
        probs = self.class_probs(out)
        if base.probs is not None:
            probs = np.concatenate([probs, base.probs], axis=1)
        return Embedding(vectors=base.vectors, probs=probs)

    def feature_maps(self, pixels: np.ndarray) -> np.ndarray:
        return self.base.feature_maps(pixels)


def is_model_file(path: Path) -> bool:
    return path.suffix == SUFFIX and path.is_file()


def load_trained(path: str | Path, threads: int | None = None, **_ignored) -> TrainedEncoder:
    """Load a ``.model`` file: its base encoder from the registry, its head (and backbone) from the zip."""
    manifest = read_manifest(path)
    try:
        with zipfile.ZipFile(path) as zf:
            head = zf.read(HEAD)
            backbone = zf.read(BACKBONE) if BACKBONE in zf.namelist() else None
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise TrainedModelError(path, f"damaged model file ({exc})") from None
    spec = manifest["base"]
    try:
        base = create_encoder(spec["name"], threads=threads, **spec.get("options", {}))
    except PixseekError as exc:
        raise TrainedModelError(path, f"base encoder {spec['name']!r} unavailable: {exc}") from None
    if base.model_id != spec["model_id"]:
        raise TrainedModelError(path, f"base encoder is now {base.model_id!r}, the model was trained on "
                                      f"{spec['model_id']!r}")
    if backbone is not None:
        if not isinstance(base, OnnxCnnEncoder):
            raise TrainedModelError(path, f"a fine-tuned backbone needs an ONNX CNN base, not {spec['name']!r}")
        base = _ArtefactBackbone(base, backbone)
    pp = manifest.get("preprocess")
    if pp is not None and PreprocessConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in pp.items()}) \
            != base.preprocess:
        raise TrainedModelError(path, "preprocessing in the model file differs from its base encoder's")
    return TrainedEncoder(path, manifest, base, head, threads=threads)


register_path_loader(is_model_file, load_trained)
