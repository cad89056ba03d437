"""Encoder registry and factory, in the manner of timm's ``create_model``.

Each entry carries its own :class:`PreprocessConfig`; each encoder built declares what it is and can do
in its :class:`~pixseek.encoders.base.EncoderConfig` (``encoder.config``). Names resolve through the registry;
paths (for example a trained ``.model`` artefact) resolve through registered path loaders.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pixseek.encoders.base import Encoder
from pixseek.errors import UnknownEncoderError
from pixseek.preprocess import PreprocessConfig

DEFAULT_ENCODER = "efficientnet_lite0"


@dataclass(frozen=True)
class EncoderSpec:
    name: str
    factory: Callable[..., Encoder]
    preprocess: PreprocessConfig
    description: str
    offline: bool = True  # weights ship in a package; False: needs a hub download once
    tags: tuple[str, ...] = field(default_factory=tuple)


class _Registry:
    def __init__(self) -> None:
        self.specs: dict[str, EncoderSpec] = {}
        self.path_loaders: list[tuple[Callable[[Path], bool], Callable[..., Encoder]]] = []


_registry = _Registry()


def register_encoder(name: str, *, preprocess: PreprocessConfig, description: str, offline: bool = True,
                     tags: tuple[str, ...] = ()):
    """Decorator: ``@register_encoder("name", preprocess=...)`` over a factory ``f(preprocess, **kw)``."""

    def deco(factory: Callable[..., Encoder]):
        if name in _registry.specs:
            raise ValueError(f"encoder {name!r} registered twice")
        _registry.specs[name] = EncoderSpec(name, factory, preprocess, description, offline, tags)
        return factory

    return deco


def register_path_loader(accepts: Callable[[Path], bool], load: Callable[..., Encoder]) -> None:
    """Let ``create_encoder(path)`` load artefacts such as trained models."""
    _registry.path_loaders.append((accepts, load))


def list_encoders() -> list[EncoderSpec]:
    return [_registry.specs[k] for k in sorted(_registry.specs)]


def get_spec(name: str) -> EncoderSpec:
    try:
        return _registry.specs[name]
    except KeyError:
        raise UnknownEncoderError(name, list(_registry.specs)) from None


def default_encoder_name() -> str:
    return os.environ.get("PIXSEEK_MODEL", DEFAULT_ENCODER)


def _declared(encoder: Encoder, name: str) -> Encoder:
    """The encoder's own config must say the name it is built by (catalogs store it to rebuild it)."""
    if encoder.config.name != name:
        raise ValueError(f"encoder built as {name!r} declares the name {encoder.config.name!r}")
    return encoder


def create_encoder(name: str | os.PathLike | None = None, **kwargs) -> Encoder:
    """Build an encoder by registry name, or from a model file through a registered path loader."""
    name = name or default_encoder_name()
    if name in _registry.specs:
        spec = _registry.specs[name]
        return _declared(spec.factory(preprocess=kwargs.pop("preprocess", spec.preprocess), **kwargs), name)
    path = Path(name)
    if path.exists():
        for accepts, load in _registry.path_loaders:
            if accepts(path):
                return _declared(load(path, **kwargs), str(path.resolve()))
    raise UnknownEncoderError(str(name), list(_registry.specs))
