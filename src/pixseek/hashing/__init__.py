"""Binary hash codes for compact indexes: random-hyperplane LSH, ITQ (unsupervised) and learned deep
hashing (trained by :mod:`pixseek.train.hashing`, read back here as a :class:`DeepHashCoder` from its
``.hash`` file). This package sits below the index layer and imports neither the trainer nor torch.

One contract: ``train(x)``, ``encode(x) -> uint8 (n, bits/8)`` packed sign bits, ``dump()`` /
:func:`load_coder` for persistence; :func:`code_metrics` scores codes by Hamming ranking.
"""
from pixseek.hashing.coders import (
    HASH_SUFFIX,
    BinaryCoder,
    DeepHashCoder,
    ITQCoder,
    LSHCoder,
    create_coder,
    hamming_rank,
    load_coder,
    read_hash_model,
)
from pixseek.hashing.evaluate import code_metrics

__all__ = ["HASH_SUFFIX", "BinaryCoder", "DeepHashCoder", "ITQCoder", "LSHCoder", "code_metrics", "create_coder",
           "hamming_rank", "load_coder", "read_hash_model"]
