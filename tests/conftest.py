"""Shared fixtures: the real embedding model and a real index built from the bundled seed articles.

Models are cached in SANAD_HOME (converted once per machine); each test session builds its own index in a
temporary folder, so tests never touch the repository's `index/`.
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session", autouse=True)
def _test_index_dir(tmp_path_factory):
    index_dir = tmp_path_factory.mktemp("index")
    os.environ["SANAD_INDEX_DIR"] = str(index_dir)
    from rag import settings

    settings.get_settings.cache_clear()
    yield index_dir


@pytest.fixture(scope="session")
def settings(_test_index_dir):
    from rag.settings import get_settings

    return get_settings()


@pytest.fixture(scope="session")
def embedder(settings):
    from rag.models import get_embedder

    return get_embedder(settings)


@pytest.fixture(scope="session")
def retriever(settings):
    """The fused retriever over the bundled seeds (the default index, built on first use)."""
    from rag.engine import get_retriever

    return get_retriever(settings)


@pytest.fixture
def fresh_settings(settings, tmp_path):
    """Settings pointing at an empty index folder of the test's own."""
    return replace(settings, index_dir=tmp_path / "index")


def shared_data(*parts: str) -> Path:
    path = SHARED.joinpath("data", *parts)
    if not path.exists():
        pytest.skip(f"shared data {path} is absent (it lives beside the checkout as ../shared)")
    return path
