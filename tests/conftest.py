"""Shared fixtures: the real embedding model and a real index built from the bundled seed articles.

Models are cached in SANAD_HOME (converted once per machine); each test session builds its own index in a
temporary folder, so tests never touch the repository's `index/`.
"""
from __future__ import annotations

import os
from dataclasses import replace

import pytest
from helpers import free_port  # noqa: F401  (fixtures below launch apps on free ports)


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
    from rag.embedding.embedders import get_embedder

    return get_embedder(settings)


@pytest.fixture(scope="session")
def sanad(settings, embedder):
    """The session's Sanad over the bundled seeds (the default index, built on first use)."""
    from rag.sanad import sanad_for

    return sanad_for(settings)


@pytest.fixture(scope="session")
def retriever(sanad):
    return sanad.retriever


@pytest.fixture(scope="session")
def sentences(sanad):
    """Passage-sentence vectors (the index's own where it has them), as verification and extraction use."""
    return sanad.sentences


@pytest.fixture
def fresh_settings(settings, tmp_path):
    """Settings pointing at an empty index folder of the test's own."""
    return replace(settings, index_dir=tmp_path / "index")


@pytest.fixture(scope="module")
def ui_settings(retriever, settings, tmp_path_factory, request):
    """Settings over a private copy of the session's seed index, for this test module (UI tests upload
    articles; other modules must not see them). Uploads are on: they are off by default."""
    import shutil

    folder = tmp_path_factory.mktemp(f"{request.module.__name__}-index")
    shutil.copytree(settings.index_path, folder / settings.index_name)
    return replace(settings, index_dir=folder, uploads=True)


@pytest.fixture(scope="module")
def ui_url(ui_settings):
    """The chat app launched on a free loopback port for this test module; yields its URL."""
    from rag.sanad import sanad_for
    from ui.app import build_app

    sanad = sanad_for(ui_settings)
    sanad.retriever  # load before the first request
    app = build_app(sanad)
    port = free_port()
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


@pytest.fixture(scope="session")
def llm_gguf(settings):
    """The local GGUF (SANAD_LLM_GGUF or the assembled Qwen2.5 model); assembled here if missing."""
    from helpers import require

    from rag.errors import LLMError
    from rag.llm import gguf_path, install_llm

    require("llama_cpp", "llm")
    try:
        return gguf_path(settings)
    except LLMError:
        return install_llm(settings, log=lambda msg: None)


@pytest.fixture(scope="session")
def llm_server(llm_gguf, tmp_path_factory):
    """A real OpenAI-compatible server (`python -m llama_cpp.server`) on loopback; yields its base URL."""
    import subprocess
    import sys
    import time

    import httpx

    port = free_port()
    log_path = tmp_path_factory.mktemp("llm_server") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(llm_gguf), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", "4096", "--chat_format", "chatml",
           "--n_threads", str(os.cpu_count() or 1), "--verbose", "False"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{tail}")
            try:
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer on {base_url} within 120 s")
            time.sleep(0.5)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
