"""LSH and ITQ binary coders over L2-normalised float vectors."""
from __future__ import annotations

import base64

import faiss
import numpy as np


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
    that minimises the quantization loss ||sgn(VR) - VR||², learned by FAISS's ``ITQTransform``."""

    name = "itq"

    def __init__(self, dim: int, bits: int, mean=None, matrix=None):
        super().__init__(dim, bits)
        self.mean, self.matrix = mean, matrix

    def train(self, x):
        x = np.ascontiguousarray(x, np.float32)
        itq = faiss.ITQTransform(self.dim, self.bits, True)
        itq.train(x)
        # ITQTransform is affine: y = A x + b. Recover A and b so encoding needs no FAISS object.
        b = itq.apply(np.zeros((1, self.dim), np.float32))[0]
        eye = itq.apply(np.eye(self.dim, dtype=np.float32)) - b
        self.matrix, self.mean = eye.astype(np.float32), b.astype(np.float32)

    def project(self, x):
        if self.matrix is None:
            raise RuntimeError("train the ITQ coder first")
        return x @ self.matrix + self.mean

    def dump(self):
        return {"name": self.name, "dim": self.dim, "bits": self.bits, "matrix": _arr(self.matrix),
                "mean": _arr(self.mean)}


def create_coder(name: str, dim: int, bits: int) -> BinaryCoder:
    if name == "lsh":
        return LSHCoder(dim, bits)
    if name == "itq":
        return ITQCoder(dim, bits)
    raise ValueError(f"unknown binary coder {name!r}; one of lsh, itq")


def load_coder(d: dict) -> BinaryCoder:
    if d["name"] == "lsh":
        return LSHCoder(d["dim"], d["bits"], planes=_unarr(d["planes"], (d["dim"], d["bits"])))
    if d["name"] == "itq":
        return ITQCoder(d["dim"], d["bits"], mean=_unarr(d["mean"], (d["bits"],)),
                        matrix=_unarr(d["matrix"], (d["dim"], d["bits"])))
    raise ValueError(f"unknown binary coder {d['name']!r}")


def hamming_rank(query_codes: np.ndarray, db_codes: np.ndarray) -> np.ndarray:
    """Hamming distances (nq, ndb) between packed codes, for evaluating code quality."""
    x = np.bitwise_xor(query_codes[:, None, :], db_codes[None, :, :])
    return np.unpackbits(x, axis=2).sum(axis=2)
