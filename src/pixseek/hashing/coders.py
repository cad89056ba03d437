"""Binary coders over L2-normalised float vectors: LSH, ITQ, and learned (deep-hash) projections."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from pathlib import Path

import faiss
import numpy as np

from pixseek.errors import TrainedModelError


class BinaryCoder:
    name = "base"

    def __init__(self, dim: int, bits: int):
        if bits % 8:
            raise ValueError(f"bits must be a multiple of 8, got {bits}")
        self.dim, self.bits = dim, bits

    def train(self, x: np.ndarray) -> None:  # noqa: B027 - optional
        """Learn from sample vectors (LSH needs nothing)."""

    def project(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def encode(self, x: np.ndarray) -> np.ndarray:
        return np.packbits(self.project(np.asarray(x, np.float32)) > 0, axis=1)

    def dump(self) -> dict:
        raise NotImplementedError


def _arr(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, np.float32).tobytes()).decode()


def _unarr(s: str, shape) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), np.float32).reshape(shape).copy()


class LSHCoder(BinaryCoder):
    """Random hyperplanes through the origin (sign of a Gaussian projection), seeded."""

    name = "lsh"

    def __init__(self, dim: int, bits: int, seed: int = 0, planes: np.ndarray | None = None):
        super().__init__(dim, bits)
        self.planes = planes if planes is not None else np.random.default_rng(seed).standard_normal((dim, bits)).astype(np.float32)

    def project(self, x):
        return x @ self.planes

    def dump(self):
        return {"name": self.name, "dim": self.dim, "bits": self.bits, "planes": _arr(self.planes)}


class ITQCoder(BinaryCoder):
    """Iterative quantization (Gong & Lazebnik 2011): PCA to ``bits`` dimensions, then the rotation
    that minimises the quantization loss ||sgn(VR) - VR||², learned by FAISS's ``ITQTransform``.

    FAISS centres and re-normalises the input, then applies an affine chain (PCA, rotation); the
    three parts are kept as arrays so encoding needs no FAISS object: ``normalize(x - center) A + bias``."""

    name = "itq"

    def __init__(self, dim: int, bits: int, center=None, matrix=None, bias=None):
        super().__init__(dim, bits)
        self.center, self.matrix, self.bias = center, matrix, bias

    def train(self, x):
        x = np.ascontiguousarray(x, np.float32)
        itq = faiss.ITQTransform(self.dim, self.bits, True)
        itq.train(x)
        chain = itq.pca_then_itq
        bias = chain.apply(np.zeros((1, self.dim), np.float32))[0]
        self.matrix = np.ascontiguousarray(chain.apply(np.eye(self.dim, dtype=np.float32)) - bias, np.float32)
        self.bias = bias.astype(np.float32)
        self.center = faiss.vector_to_array(itq.mean).astype(np.float32)
        check = itq.apply(x[:8])
        if not np.allclose(self.project(x[:8]), check, atol=1e-4):  # FAISS changed its transform
            raise RuntimeError("ITQ arrays do not reproduce faiss.ITQTransform")

    def project(self, x):
        if self.matrix is None:
            raise RuntimeError("train the ITQ coder first")
        c = x - self.center
        c /= np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
        return c @ self.matrix + self.bias

    def dump(self):
        return {"name": self.name, "dim": self.dim, "bits": self.bits, "center": _arr(self.center),
                "matrix": _arr(self.matrix), "bias": _arr(self.bias)}


class DeepHashCoder(BinaryCoder):
    """A learned linear hash head ``sgn(xW + b)`` (trained by :mod:`pixseek.train.hashing` with a
    metric loss plus a quantization loss); inference is one matrix product, no torch. Carries its own
    ``model_id`` and the ``base_model_id`` of the encoder whose embeddings it was trained on."""

    name = "deep"

    def __init__(self, dim: int, bits: int, weight: np.ndarray, bias: np.ndarray, base_model_id: str,
                 info: dict | None = None):
        super().__init__(dim, bits)
        self.weight = np.ascontiguousarray(weight, np.float32).reshape(dim, bits)
        self.bias = np.ascontiguousarray(bias, np.float32).reshape(bits)
        self.base_model_id, self.info = base_model_id, info or {}
        digest = hashlib.sha256(self.weight.tobytes() + self.bias.tobytes() + base_model_id.encode()).hexdigest()
        self.model_id = f"deephash{bits}-{digest[:12]}"

    def project(self, x):
        return x @ self.weight + self.bias

    def dump(self):
        return {"name": self.name, "dim": self.dim, "bits": self.bits, "weight": _arr(self.weight),
                "bias": _arr(self.bias), "base_model_id": self.base_model_id, "model_id": self.model_id,
                "info": self.info}

    def save(self, path: str | os.PathLike) -> Path:
        """Write a ``.hash`` file (JSON) atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".hash.tmp", dir=path.parent)
        with os.fdopen(fd, "w") as fh:
            json.dump(self.dump(), fh)
        os.replace(tmp, path)
        return path


HASH_SUFFIX = ".hash"


def read_hash_model(path: str | os.PathLike) -> DeepHashCoder:
    try:
        coder = load_coder(json.loads(Path(path).read_text()))
    except (OSError, ValueError, KeyError) as exc:
        raise TrainedModelError(path, f"cannot read deep-hash model: {exc}") from exc
    if not isinstance(coder, DeepHashCoder):
        raise TrainedModelError(path, f"not a deep-hash model (a {coder.name} coder)")
    return coder


def create_coder(name: str, dim: int, bits: int) -> BinaryCoder:
    """``lsh`` | ``itq`` | a trained ``.hash`` file (its own length wins over ``bits``)."""
    if name == "lsh":
        return LSHCoder(dim, bits)
    if name == "itq":
        return ITQCoder(dim, bits)
    if str(name).endswith(HASH_SUFFIX):
        coder = read_hash_model(name)
        if coder.dim != dim:
            raise ValueError(f"{name}: trained on {coder.dim}-d embeddings, the index holds {dim}-d vectors")
        return coder
    raise ValueError(f"unknown binary coder {name!r}; one of lsh, itq, or a trained {HASH_SUFFIX} file")


def load_coder(d: dict) -> BinaryCoder:
    if d["name"] == "lsh":
        return LSHCoder(d["dim"], d["bits"], planes=_unarr(d["planes"], (d["dim"], d["bits"])))
    if d["name"] == "itq":
        return ITQCoder(d["dim"], d["bits"], center=_unarr(d["center"], (d["dim"],)),
                        matrix=_unarr(d["matrix"], (d["dim"], d["bits"])), bias=_unarr(d["bias"], (d["bits"],)))
    if d["name"] == "deep":
        return DeepHashCoder(d["dim"], d["bits"], _unarr(d["weight"], (d["dim"], d["bits"])),
                             _unarr(d["bias"], (d["bits"],)), d["base_model_id"], d.get("info"))
    raise ValueError(f"unknown binary coder {d['name']!r}")


def hamming_rank(query_codes: np.ndarray, db_codes: np.ndarray) -> np.ndarray:
    """Hamming distances (nq, ndb) between packed codes, for evaluating code quality."""
    x = np.bitwise_xor(query_codes[:, None, :], db_codes[None, :, :])
    return np.unpackbits(x, axis=2).sum(axis=2)
