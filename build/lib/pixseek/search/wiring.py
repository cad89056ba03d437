"""Object wiring, in one place: which encoder, catalog and index a library is made of."""
from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pixseek import backends
from pixseek.encoders import Encoder, create_encoder
from pixseek.search.library import Library
from pixseek.search.pipeline import batched, decode_stream
from pixseek.store import Catalog


def default_db_path() -> Path:
    """``$PIXSEEK_DB``, else ``$XDG_DATA_HOME/pixseek/library.db``."""
    env = os.environ.get("PIXSEEK_DB")
    if env:
        return Path(env)
    data = os.environ.get("XDG_DATA_HOME", os.path.expanduser("~/.local/share"))
    return Path(data) / "pixseek" / "library.db"


def encoder_for_catalog(catalog: Catalog, model: str | os.PathLike | None) -> Encoder:
    """The encoder a catalog was built with, unless ``model`` names another (then it must match)."""
    stored = catalog.stored_encoder()
    if model is None and stored is not None:
        return create_encoder(stored["name"], **stored.get("options", {}))
    return create_encoder(model)


def open_library(db: str | os.PathLike | None = None, model: str | os.PathLike | None = None,
                 index: str | None = None, index_params: dict | None = None, batch_size: int = 32,
                 backend: str | None = None, regions: bool | None = None) -> Library:
    """Open (or create) the library at ``db``.

    ``model``: encoder name or trained-model path; default: the one the catalog was built with,
    or the default encoder for a new catalog. A different model than the catalog's raises
    :class:`~pixseek.errors.ModelMismatchError`. ``backend``: a vector database URL
    (``milvus://host:port``, see :mod:`pixseek.backends`) that holds the vectors instead of a
    local index file; remembered by the catalog like the index type. ``regions``: describe every
    image's regions while indexing (copy detection, :mod:`pixseek.compare`; a second, 384-px forward
    pass per image: indexing 3.6x slower in bench/bench_indexing.py); remembered by the catalog. Without it, regions are
    described when first needed, for the candidates a copy search or dedup verifies.
    """
    catalog = Catalog(db or default_db_path())
    try:
        encoder = encoder_for_catalog(catalog, model)
        catalog.bind_model(encoder.model_id, encoder.embed_dim, encoder_record(encoder, model))
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
        library = Library(catalog, encoder, index_kind=kind, index_params=index_params, batch_size=batch_size)
        backends.sync_with_catalog(library)
        if regions is not None:
            catalog.set_meta("regions", "1" if regions else "0")
        if catalog.get_meta("regions") == "1":
            attach_extras(library)
        return library
    except BaseException:
        catalog.close()
        raise


def attach_extras(library: Library) -> None:
    """Per-batch indexing extras of optional feature modules (region descriptors for copy detection)."""
    if importlib.util.find_spec("pixseek.compare") is not None:
        from pixseek.compare.regions import region_extra

        extra = region_extra(library)
        if extra is not None:
            library.extras.append(extra)


def encoder_record(encoder: Encoder, requested) -> dict:
    """What to store so the same encoder can be re-created from the catalog alone."""
    name = getattr(encoder, "registry_name", None) or (str(requested) if requested else None) or encoder.model_id
    options = getattr(encoder, "options", {})
    return {"name": name, "options": options, "model_id": encoder.model_id}


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
