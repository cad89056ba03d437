"""Fixture: one real Milvus 2.3 standalone server per test session, on loopback, data under tmp."""
from __future__ import annotations

import pytest

from pixseek.backends.milvus_server import MilvusStandalone


@pytest.fixture(scope="session")
def milvus(tmp_path_factory):
    server = MilvusStandalone(tmp_path_factory.mktemp("milvus"), start_timeout=180, stop_timeout=5)
    server.start()
    try:
        yield server
    finally:
        server.stop()
