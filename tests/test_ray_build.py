"""Embedding on Ray (`sanad index build … --ray`): a real local Ray, the real embedding model, real indexes.

A Ray build must write the index a local build writes: the same passages and sentence rows, vectors equal up
to float tolerance, the same manifest (timing fields aside) and so the same search rankings. The bundled
seed articles (5 articles, 48 passages) keep it cheap; Ray's start and each actor's model load dominate.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from helpers import require  # noqa: E402

from rag.settings import SEEDS_DIR

require("ray", "ray")

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "متى دخل اتفاق وقف إطلاق النار حيز التنفيذ؟",
    "ما المنتجع الذي سيطر عليه الجيش السوري شمال حلب؟",
    "ماذا قال بوتين عن الهجوم الكيماوي في خان شيخون؟",
    "When did the ceasefire agreed by Moscow and Washington come into force?",
    "What did Putin say about the chemical attack in Khan Shaykhun?",
]
TIMING = ("created", "updated")


@pytest.fixture(scope="module")
def local_settings(settings, embedder, tmp_path_factory):
    """The seeds built locally (the session's model) into an index of this module's own."""
    from rag.sanad import Sanad

    s = replace(settings, index_dir=tmp_path_factory.mktemp("ray-local"), index_name="seeds")
    Sanad(s, embedder=embedder).build([SEEDS_DIR])
    return s


@pytest.fixture(scope="module")
def ray_session(settings, embedder):
    """One private local Ray for the in-process tests of this module, shut down after them."""
    from rag.embedding.ray_embedder import RayEmbedder

    starter = RayEmbedder(embedder, settings.embed_model, settings.models_dir, workers=2)
    starter.connect()
    yield
    starter.close()


def read_index(path: Path) -> dict:
    import faiss

    manifest = json.loads((path / "manifest.json").read_text())
    files = manifest.pop("files")
    fidx = faiss.read_index(str(path / files["faiss"]))
    return {
        "manifest": {k: v for k, v in manifest.items() if k not in TIMING},
        "passages": (path / files["passages"]).read_text(encoding="utf-8"),
        "articles": (path / files["articles"]).read_text(encoding="utf-8"),
        "sentence_rows": np.load(path / files["sentence_rows"]),
        "sentence_vectors": np.load(path / files["sentence_vectors"]),
        "vectors": fidx.reconstruct_n(0, fidx.ntotal),
    }


def rankings(settings, embedder) -> list[list[str]]:
    from rag.sanad import Sanad

    s = Sanad(settings, embedder=embedder)
    return [[h.passage.id for h in s.search(q, k=10)] for q in QUESTIONS]


def assert_same_index(local: Path, other: Path) -> None:
    a, b = read_index(local), read_index(other)
    assert a["manifest"] == b["manifest"]
    assert a["passages"] == b["passages"]
    assert a["articles"] == b["articles"]
    assert np.array_equal(a["sentence_rows"], b["sentence_rows"])
    assert a["vectors"].shape == b["vectors"].shape and len(a["vectors"]) == a["manifest"]["passages"]
    np.testing.assert_allclose(a["vectors"], b["vectors"], atol=1e-5)
    np.testing.assert_allclose(a["sentence_vectors"], b["sentence_vectors"], atol=1e-5)


def test_cli_ray_build_writes_the_local_index(local_settings, embedder, tmp_path):
    """`sanad index build SEEDS --ray` in a real process: its own local Ray, one actor; same index, same answers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANAD_") or k == "SANAD_HOME"}
    env.update({"PYTHONPATH": str(ROOT), "SANAD_INDEX_DIR": str(tmp_path), "COLUMNS": "200"})
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "index", "build", str(SEEDS_DIR), "--name", "seeds",
                           "--ray", "--ray-workers", "1"], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "+5 articles, +48 passages" in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stderr and "Starting execution" not in proc.stderr  # Ray Data kept quiet
    ray_settings = replace(local_settings, index_dir=tmp_path)
    assert_same_index(local_settings.index_path, ray_settings.index_path)
    assert rankings(ray_settings, embedder) == rankings(local_settings, embedder)


def test_two_actors_return_vectors_in_order(ray_session, local_settings, embedder):
    """Two actors finish batches out of order (long passages first, short sentences after); every vector
    must still land on its own text, and progress must count each text once."""
    from rag.embedding.ray_embedder import RayEmbedder
    from rag.storage.index import load_index

    index = load_index(local_settings.index_path, embedder.model_id)
    passages = sorted((p.text for p in index.passages), key=len, reverse=True)[:24]
    sentences = [index.passages[i].text[s:e] for i, s, e in index.sentence_rows[:72]]
    texts = passages + sentences
    done = []
    ray = RayEmbedder(embedder, local_settings.embed_model, local_settings.models_dir, workers=2, batch_size=12)
    got = ray.embed_passages(texts, progress=done.append)
    np.testing.assert_allclose(got, embedder.embed_passages(texts), atol=1e-5)
    assert sum(done) == len(texts)
    assert ray.embed_passages([]).shape == (0, embedder.dim)


def test_a_worker_with_another_model_fails_the_build(ray_session, settings, embedder):
    """A node whose model differs from the one the manifest records stops the build with one line."""
    from rag.embedding.ray_embedder import RayEmbedder
    from rag.errors import ConfigError

    class Other:  # the driver's model as the index would record it: not what the workers load
        model_id, dim = "some-other-model", embedder.dim

    ray = RayEmbedder(Other(), settings.embed_model, settings.models_dir, workers=1)
    with pytest.raises(ConfigError, match="some-other-model") as err:
        ray.embed_passages(["نص قصير"])
    assert "\n" not in str(err.value)
