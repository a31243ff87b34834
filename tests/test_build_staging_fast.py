"""Resumable builds without a model: batch planning, the input fingerprint, and a build that dies mid-embedding
(an exception after some checkpoints) resuming to the index an uninterrupted build writes. The real model,
a real process and SIGKILL are in test_build_resume.py."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from helpers import HashEmbedder, loaded, make_article

from rag.ingest.chunking import ChunkSpec
from rag.storage import staging
from rag.storage.index import build_index, load_index

pytestmark = pytest.mark.fast


def test_plan_cuts_at_article_boundaries_and_covers_everything():
    counts = [(3, 9), (0, 0), (5, 12), (1, 2), (4, 8), (2, 5)]
    plan = staging.plan_batches(counts, 4)
    assert [(b.start, b.end) for b in plan] == [(0, 3), (3, 5), (5, 6)]
    assert [b.passages for b in plan] == [8, 5, 2] and [b.sentences for b in plan] == [21, 10, 5]
    assert staging.plan_batches([], 4) == []
    assert len(staging.plan_batches(counts, 1)) == 5  # the empty article joins the next batch
    assert staging.plan_batches(counts, 10_000) == [staging.Batch(0, 6, 15, 36)]


def test_fingerprint_changes_with_anything_a_checkpoint_depends_on():
    arts = [make_article(i) for i in range(3)]
    fp = staging.fingerprint(arts, "m", ChunkSpec(), 100, "new")
    assert fp == staging.fingerprint(list(arts), "m", ChunkSpec(), 100, "new")
    edited = [arts[0], replace(arts[1], text=arts[1].text + " جديد."), arts[2]]
    others = [
        staging.fingerprint(edited, "m", ChunkSpec(), 100, "new"),
        staging.fingerprint(arts[:2], "m", ChunkSpec(), 100, "new"),
        staging.fingerprint(arts[::-1], "m", ChunkSpec(), 100, "new"),
        staging.fingerprint([replace(arts[0], title="x"), *arts[1:]], "m", ChunkSpec(), 100, "new"),
        staging.fingerprint(arts, "other-model", ChunkSpec(), 100, "new"),
        staging.fingerprint(arts, "m", ChunkSpec(max_tokens=120), 100, "new"),
        staging.fingerprint(arts, "m", ChunkSpec(), 50, "new"),
        staging.fingerprint(arts, "m", ChunkSpec(), 100, "extend:passages-18c0.jsonl"),
    ]
    assert fp not in others and len(set(others)) == len(others)


class Dies(Exception):
    pass


class DyingEmbedder(HashEmbedder):
    """Embeds `calls` batches' worth of passage calls, then raises (a build killed mid-embedding)."""

    def __init__(self, calls: int) -> None:
        self.calls = calls

    def embed_passages(self, texts, batch_size=32, progress=None):
        if self.calls <= 0:
            raise Dies()
        self.calls -= 1
        return super().embed_passages(texts, batch_size, progress)


def read(path: Path) -> dict:
    m = json.loads((path / "manifest.json").read_text())
    idx = load_index(path)
    return {"passages": [p.to_dict() for p in idx.passages], "articles": [a.__dict__ for a in idx.articles],
            "vectors": idx.faiss_index.reconstruct_n(0, idx.faiss_index.ntotal),
            "sentvecs": idx.sentence_vectors, "rows": idx.sentence_rows, "n": m["passages"]}


def same(a: dict, b: dict) -> None:
    assert a["passages"] == b["passages"] and a["articles"] == b["articles"] and a["n"] == b["n"]
    np.testing.assert_array_equal(a["rows"], b["rows"])
    np.testing.assert_allclose(a["vectors"], b["vectors"], atol=1e-6)
    np.testing.assert_allclose(a["sentvecs"], b["sentvecs"], atol=1e-6)


def entries(path: Path) -> set[str]:
    return {c.name for c in path.iterdir()}


def test_a_build_that_dies_resumes_from_its_checkpoints_to_the_same_index(tmp_path):
    data = loaded(*range(12))
    build_index(tmp_path / "whole", data, HashEmbedder(), batch_size=2)
    whole = read(tmp_path / "whole")

    idx = tmp_path / "resumed"
    idx.mkdir()
    (idx / "notes.txt").write_text("mine")  # a user's file: never touched
    with pytest.raises(Dies):
        build_index(idx, data, DyingEmbedder(calls=4), batch_size=2)  # 2 calls a batch: 2 of 6 batches checkpointed
    [folder] = staging.staging_folders(idx)
    assert sorted(c.name for c in folder.iterdir()) == ["batch-00000.npz", "batch-00001.npz", "plan.json"]
    assert not (idx / "manifest.json").exists()
    (folder / "stray.txt").write_text("not the store's")  # kept, and so its folder

    seen = []
    counting = HashEmbedder()
    calls = []
    counting.embed_passages = lambda texts, batch_size=32, progress=None: (
        calls.append(len(texts)), HashEmbedder.embed_passages(counting, texts, batch_size, progress))[1]
    counting.embed_queries = lambda texts: HashEmbedder.embed_passages(counting, texts)  # the lexicon's words
    build_index(idx, data, counting, batch_size=2, stages=lambda s, d, t: seen.append((s, d, t)))
    plan = json.loads(json.dumps([s for s in seen if s[0] == "resuming"]))
    assert plan and plan[0][1] == 2 and plan[0][2] > 2
    assert len(calls) == 2 * (plan[0][2] - 2)  # only the batches not checkpointed were embedded
    same(read(idx), whole)
    assert sorted(c.name for c in folder.iterdir()) == ["stray.txt"]
    assert {"notes.txt", folder.name} <= entries(idx)
    assert {s for s, *_ in seen} >= {"resuming", "embedding", "gathering", "writing"}


def test_other_inputs_never_reuse_checkpoints_and_commit_removes_staging(tmp_path):
    idx = tmp_path / "i"
    with pytest.raises(Dies):
        build_index(idx, loaded(*range(10)), DyingEmbedder(calls=2), batch_size=2)
    [stale] = staging.staging_folders(idx)
    other = loaded(*range(1, 11))
    seen = []
    build_index(idx, other, HashEmbedder(), batch_size=2, stages=lambda s, d, t: seen.append(s))
    assert "resuming" not in seen and not stale.exists() and not staging.staging_folders(idx)
    fresh = tmp_path / "fresh"
    build_index(fresh, other, HashEmbedder(), batch_size=2)
    same(read(idx), read(fresh))


def test_extending_an_index_embeds_only_new_articles_and_resumes(tmp_path):
    idx, ref = tmp_path / "i", tmp_path / "ref"
    for path in (idx, ref):
        build_index(path, loaded(*range(5)), HashEmbedder(), batch_size=2)
    build_index(ref, loaded(*range(12)), HashEmbedder(), batch_size=2)
    with pytest.raises(Dies):
        build_index(idx, loaded(*range(12)), DyingEmbedder(calls=2), batch_size=2)
    report = build_index(idx, loaded(*range(12)), HashEmbedder(), batch_size=2)
    assert report.added_articles == 7 and report.total_articles == 12
    same(read(idx), read(ref))
    assert not staging.staging_folders(idx)
