"""Binary hash codes for compact indexes: random-hyperplane LSH and ITQ (unsupervised).

One contract: ``train(x)``, ``encode(x) -> uint8 (n, bits/8)`` packed sign bits, ``dump()`` /
:func:`load_coder` for persistence. A learned (deep) code can be any coder with this contract.
"""
from pixseek.hashing.coders import BinaryCoder, ITQCoder, LSHCoder, create_coder, hamming_rank, load_coder

__all__ = ["BinaryCoder", "ITQCoder", "LSHCoder", "create_coder", "hamming_rank", "load_coder"]
