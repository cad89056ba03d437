"""Object wiring, in one place: which encoder, catalog and index a library is made of."""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from pixseek import backends, settings
from pixseek.encoders import Encoder, create_encoder
from pixseek.errors import EmptyLibraryError, ModelMismatchError
from pixseek.search.library import Extra, Library
from pixseek.encoders.relevance import relevance_floor
from pixseek.search.pipeline import batched, decode_stream
from pixseek.store import Catalog

ExtraFactory = Callable[[Library], Extra | None]
ProjectionFactory = Callable[[str], tuple[np.ndarray, np.ndarray] | None]


def default_db_path() -> Path:
    """``$PIXSEEK_DB``, else ``$XDG_DATA_HOME/pixseek/library.db`` (:mod:`pixseek.settings`)."""
    return settings.db_path()


def encoder_for_catalog(catalog: Catalog, model: str | os.PathLike | None) -> Encoder:
    """The encoder a catalog was built with, unless ``model`` names another (then it must match)."""
    stored = catalog.stored_encoder()
    if model is None and stored is not None:
        return create_encoder(stored["name"], **stored.get("options", {}))
    return create_encoder(model)


def open_library(db: str | os.PathLike | None = None, model: str | os.PathLike | None = None,
                 index: str | None = None, index_params: dict | None = None, batch_size: int = 32,
                 backend: str | None = None, regions: bool | None = None, *, readonly: bool = False,
                 extras: Mapping[str, ExtraFactory] | None = None,
                 feedback_projection: ProjectionFactory | None = None) -> Library:
    """Open (or create) the library at ``db``.

    ``model``: encoder name or trained-model path; default: the one the catalog was built with,
    or the default encoder for a new catalog. A different model than the catalog's raises
    :class:`~pixseek.errors.ModelMismatchError`. ``backend``: a vector database URL
    (``milvus://host:port``, see :mod:`pixseek.backends`) that holds the vectors instead of a
    local index file; remembered by the catalog like the index type. ``regions``: describe every
    image's regions while indexing (copy detection, :mod:`pixseek.compare`; a second, 384-px forward
    pass per image: indexing 3.6x slower in bench/bench_indexing.py); remembered by the catalog. Without it, regions are
    described when first needed, for the candidates a copy search or dedup verifies.
    ``readonly``: for commands that only read: a missing catalog is an error (never created), an
    empty one too, nothing is written (no settings, no index file). ``extras``: per-batch indexing
    extras of feature modules by catalog flag (``{"regions": factory}``; :func:`pixseek.wiring.open_library`
    passes them), each enabled when the catalog's flag is on. ``feedback_projection``: encoder model id ->
    ``(mean, matrix)`` of a linear space relevance feedback also fits its classifier in (the encoder's
    copy-detection projection; :func:`pixseek.wiring.open_library` passes it), or None; called once the
    encoder is known.
    """
    catalog = Catalog(db or default_db_path(), create=not readonly)
    try:
        if readonly and catalog.model_id is None:
            raise EmptyLibraryError(f"{catalog.path}: the library is empty (pixseek index FOLDER --db {catalog.path})")
        encoder = encoder_for_catalog(catalog, model)
        if readonly:
            if catalog.model_id != encoder.model_id:
                raise ModelMismatchError(catalog.path, catalog.model_id, encoder.model_id)
            kind = catalog.get_meta("index_kind") or "flat"
            index_params = json.loads(catalog.get_meta("index_params") or "{}")
            backends.ensure_registered(kind)
        else:
            catalog.bind_model(encoder.model_id, encoder.embed_dim, encoder.config.record())
            if backend is not None:
                spec = backends.parse_backend(backend, json.loads(catalog.get_meta("index_params") or "{}"))
                index, index_params = spec.kind, spec.params
            kind = index or catalog.get_meta("index_kind") or "flat"
            backends.ensure_registered(kind)
            if catalog.get_meta("index_kind") != kind:
                if catalog.get_meta("index_kind") is not None and index_params is None:
                    index_params = {}  # the stored parameters belong to the previous kind (e.g. a backend URL)
                catalog.set_meta("index_kind", kind)
            if index_params is not None:
                catalog.set_meta("index_params", json.dumps(index_params))
            else:
                index_params = json.loads(catalog.get_meta("index_params") or "{}")
            if regions is not None:
                catalog.set_meta("regions", "1" if regions else "0")
        factories = [f for flag, f in (extras or {}).items() if catalog.get_meta(flag) == "1"]
        library = Library(catalog, encoder, index_kind=kind, index_params=index_params, batch_size=batch_size,
                          extras=factories, readonly=readonly, relevance_floor=relevance_floor(encoder.model_id),
                          feedback_projection=feedback_projection(encoder.model_id) if feedback_projection else None)
        if not readonly:
            backends.sync_with_catalog(library)
        return library
    except BaseException:
        catalog.close()
        raise


def encode_paths(paths: Sequence[str | os.PathLike], model: str | os.PathLike | None = None,
                 encoder: Encoder | None = None, batch_size: int = 32):
    """Encode files -> (vectors (n, d) float32 in input order for readable files, ok paths, errors)."""
    encoder = encoder or create_encoder(model)
    vecs, ok, errors = [], [], []
    for batch in batched(decode_stream(paths, encoder.preprocess), batch_size):
        good = [d for d in batch if d.pixels is not None]
        errors += [d.error.to_dict() for d in batch if d.error is not None]
        if good:
            vecs.append(encoder.embed_pixels(np.stack([d.pixels for d in good])).vectors)
            ok += [d.path for d in good]
    dim = encoder.embed_dim
    return (np.concatenate(vecs) if vecs else np.zeros((0, dim), np.float32)), ok, errors
