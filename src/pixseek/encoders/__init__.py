"""Encoders: a registry + factory; one contract (:class:`Encoder`)."""
from pixseek.encoders.base import Embedding, Encoder, EncoderConfig
from pixseek.encoders.registry import (
    EncoderSpec,
    create_encoder,
    default_encoder_name,
    get_spec,
    list_encoders,
    register_encoder,
    register_path_loader,
)

# Importing the modules registers their encoders.
from pixseek.encoders import efficientnet as _efficientnet  # noqa: E402,F401
from pixseek.encoders import trained as _trained  # noqa: E402,F401  (loads trained .model files)
from pixseek.encoders import hf as _hf  # noqa: E402,F401  (CLIP / SigLIP / DINOv2 via transformers, lazily)

__all__ = [
    "Embedding",
    "Encoder",
    "EncoderConfig",
    "EncoderSpec",
    "create_encoder",
    "default_encoder_name",
    "get_spec",
    "list_encoders",
    "register_encoder",
    "register_path_loader",
]
