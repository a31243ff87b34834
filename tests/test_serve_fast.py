"""Serving at archive size: exact below SANAD_EXACT_MAX, HNSW + sentence IVF-SQ8 above it with measured recall,
memory-mapped loads that search exactly as eager loads did, and one-line errors for damaged new files.
No model: HashEmbedder vectors through the real FAISS, bm25s and store code."""
from __future__ import annotations

import dataclasses

import bm25s
import numpy as np
import pytest

from rag.errors import IndexProblem
from rag.ingest.corpus import LoadResult
from rag.search.retrieval import LazyBestSentence, Retriever
from rag.settings import get_settings
from rag.storage import ann
from rag.storage.index import build_index, load_index
from tests.helpers import HashEmbedder, make_article

pytestmark = pytest.mark.fast

QUESTIONS = ["الحكومة الوزير المدينة", "الطاقة المياه", "الفريق المدرب الملعب", "المحكمة البرلمان الشرطة",
             "الكتاب المكتبة"]


def _build(path, n, monkeypatch, exact_max, start=0):
    monkeypatch.setenv("SANAD_EXACT_MAX", str(exact_max))
    get_settings.cache_clear()
    build_index(path, LoadResult(articles=[make_article(i) for i in range(start, start + n)]), HashEmbedder())
    return load_index(path)


def _ranked(retriever, method, **kw):
    return [[(h.passage.id, round(h.score, 6)) for h in retriever.search(q, 10, method, **kw)] for q in QUESTIONS]


def test_below_the_threshold_search_stays_exact(tmp_path, monkeypatch):
    idx = _build(tmp_path / "small", 40, monkeypatch, exact_max=10_000)
    assert idx.manifest["search"] == "exact" and idx.manifest["faiss_kind"] == "flat"
    assert "ann" not in idx.manifest and idx.sentence_ann is None
    assert idx.sentence_vectors.dtype == np.float32
    r = Retriever(idx, HashEmbedder(), 0.5)
    assert isinstance(r._best_sentence(r.embed("الحكومة")), np.ndarray)  # the full scan, as before


def test_above_the_threshold_ann_is_chosen_tuned_and_its_recall_recorded(tmp_path, monkeypatch, capsys):
    idx = _build(tmp_path / "big", 150, monkeypatch, exact_max=50)
    m = idx.manifest
    assert len(idx.passages) > 50
    assert m["search"] == "approximate" and m["faiss_kind"] == "hnsw"
    assert m["ann"]["passages"]["recall_at_10"] >= ann.TARGET_RECALL
    assert m["ann"]["sentences"]["recall_at_10"] >= ann.TARGET_RECALL
    assert m["ann"]["sentences"]["kind"] == "ivfsq8"
    # Tuned on question-like vectors (titles embedded as queries), not on the index's own vectors.
    assert m["ann"]["passages"]["tuned_on"] == m["ann"]["sentences"]["tuned_on"] == "article titles as queries"
    assert idx.faiss_index.hnsw.efSearch == m["ann"]["passages"]["ef_search"]  # the tuned setting, applied
    assert idx.sentence_ann.ntotal == len(idx.sentence_rows) and idx.sentence_vectors.dtype == np.float16

    from typer.testing import CliRunner

    from rag.cli import app

    monkeypatch.setenv("SANAD_INDEX_DIR", str(tmp_path))
    get_settings.cache_clear()
    out = CliRunner().invoke(app, ["index", "info", "--name", "big"])
    assert out.exit_code == 0 and "recall_at_10" in out.output and "approximate" in out.output


def test_ann_search_matches_exact_search(tmp_path, monkeypatch):
    exact = Retriever(_build(tmp_path / "exact", 150, monkeypatch, exact_max=100_000), HashEmbedder(), 0.5)
    approx = Retriever(_build(tmp_path / "approx", 150, monkeypatch, exact_max=50), HashEmbedder(), 0.5)
    q = approx.embed(QUESTIONS[0])
    lazy = approx._best_sentence(q)
    assert isinstance(lazy, LazyBestSentence)
    ids = np.arange(approx.size)
    full = exact._best_sentence(q)
    assert np.allclose(lazy[ids], full, atol=2e-3)  # exact per passage, from fp16 sentence vectors
    for method in ("dense", "fused"):
        a, e = _ranked(approx, method), _ranked(exact, method)
        overlap = np.mean([len({p for p, _ in x} & {p for p, _ in y}) / 10 for x, y in zip(a, e)])
        assert overlap >= 0.98, method


def test_ann_filtered_search_returns_only_allowed_passages(tmp_path, monkeypatch):
    from rag.query import Filters

    r = Retriever(_build(tmp_path / "approx", 150, monkeypatch, exact_max=50), HashEmbedder(), 0.5)
    outlet = r.outlets[7]
    hits = r.search(QUESTIONS[1], 5, "dense", filters=Filters(outlets=(outlet,)))
    assert hits and all(h.outlet == outlet for h in hits)


def test_incremental_build_above_the_threshold_extends_the_sentence_index(tmp_path, monkeypatch):
    path = tmp_path / "grow"
    first = _build(path, 120, monkeypatch, exact_max=50)
    trained = first.sentence_ann.nlist if hasattr(first.sentence_ann, "nlist") else None
    grown = _build(path, 30, monkeypatch, exact_max=50, start=500)
    assert grown.sentence_ann.ntotal == len(grown.sentence_rows) > len(first.sentence_rows)
    assert grown.sentence_ann.nlist == trained
    assert grown.manifest["ann"]["sentences"]["recall_at_10"] >= ann.TARGET_RECALL
    assert np.array_equal(np.asarray(grown.sentence_vectors[:len(first.sentence_vectors)]),
                          np.asarray(first.sentence_vectors))


@pytest.mark.parametrize("exact_max", [100_000, 50])
def test_memory_mapped_load_searches_exactly_as_an_eager_load(tmp_path, monkeypatch, exact_max):
    idx = _build(tmp_path / "i", 150, monkeypatch, exact_max=exact_max)
    assert isinstance(idx.sentence_vectors, np.memmap)
    files = idx.manifest["files"]
    eager = dataclasses.replace(idx, sentence_vectors=np.load(idx.path / files["sentence_vectors"]),
                                sentence_rows=np.load(idx.path / files["sentence_rows"]),
                                bm25=bm25s.BM25.load(str(idx.path / files["bm25"])))
    for method in ("bm25", "dense", "fused"):
        assert _ranked(Retriever(idx, HashEmbedder(), 0.5), method) == \
            _ranked(Retriever(eager, HashEmbedder(), 0.5), method)


@pytest.mark.parametrize("key", ["sentence_ann", "sentence_vectors", "sentence_rows"])
def test_damaged_new_files_are_one_line_index_problems(tmp_path, monkeypatch, key):
    idx = _build(tmp_path / "d", 150, monkeypatch, exact_max=50)
    target = idx.path / idx.manifest["files"][key]
    target.write_bytes(target.read_bytes()[:100])
    with pytest.raises(IndexProblem) as exc:
        load_index(idx.path)
    assert "\n" not in str(exc.value) and "--rebuild" in str(exc.value)


def test_recall_at_counts_the_exact_top_k_found():
    exact = np.array([[1, 2, 3, 4]])
    assert ann.recall_at(np.array([[4, 3, 9, 8]]), exact, k=4) == 0.5
    assert ann.recall_at(np.array([[1, 2, 3, 4]]), exact, k=4) == 1.0


def test_an_index_from_the_old_onnx_fp32_id_is_the_same_model(tmp_path, monkeypatch):
    # ONNX fp32 computes torch's vectors; its indexes once carried "+onnx-fp32" and must still load as that model.
    import json

    idx = _build(tmp_path / "old", 20, monkeypatch, exact_max=10_000)
    m = json.loads((idx.path / "manifest.json").read_text())
    m["model_id"] += "+onnx-fp32"
    (idx.path / "manifest.json").write_text(json.dumps(m))
    assert load_index(idx.path, HashEmbedder().model_id).model_id == HashEmbedder().model_id
