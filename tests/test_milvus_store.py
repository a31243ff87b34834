"""SANAD_STORE=milvus against the real Milvus engine: milvus-lite 2.5 (pinned in the `milvus` extra) runs the
Milvus server binary in-process on a file in a tmp folder. Compared with the FAISS store over the same seeds.

Needs `pip install '.[milvus]'`; skipped with the reason when absent."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_citations_valid, require  # noqa: E402

require("pymilvus", "milvus")
require("milvus_lite", "milvus")

from rag.sanad import Sanad  # noqa: E402
from rag.storage.milvus import MilvusIndex, open_store  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GOLD = [json.loads(line) for line in (ROOT / "eval/gold/seeds.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()]
QUESTIONS = [g for g in GOLD if g["lang"] == "ar"][:4] + [g for g in GOLD if g["lang"] == "en"][:3]
NEW_ARTICLE = ("قمة المناخ في الرياض\n"
               "افتتحت في الرياض صباح اليوم قمة إقليمية للمناخ بمشاركة وزراء البيئة من اثنتي عشرة دولة عربية. "
               "وقال رئيس القمة إن الدول المشاركة ستعلن خطة مشتركة لخفض الانبعاثات بنسبة ثلاثين في المئة.")
# Its words (Syriapress, 2254) appear in an Arabic seed passage: BM25 matches it, but must get no vote.
EN_LATIN = "What does the Syriapress report say about resolution 2254?"


@pytest.fixture(scope="module")
def milvus(settings, embedder, tmp_path_factory):
    """A Sanad over a Milvus index of the seeds (built on first use, as the FAISS default index is)."""
    folder = tmp_path_factory.mktemp("milvus")
    s = replace(settings, store="milvus", milvus_uri=str(folder / "sanad.db"), index_dir=folder / "index")
    sanad = Sanad(s, embedder=embedder)
    sanad.retriever  # builds the seeds
    yield sanad
    open_store(s).close()


@pytest.mark.parametrize("method", ["fused", "dense", "bm25"])
def test_rankings_equal_the_faiss_store(milvus, retriever, method, monkeypatch):
    # milvus-lite searches exactly (FLAT), BM25 runs on Sanad's analysed terms: the same top 5, the same scores.
    # Documented differences: BM25 alone lists only passages that match (FAISS pads with zero scores), and the
    # Milvus store has no lexicon, so English questions get no translated-word or names' vote there (switched off).
    from rag.search import fusion

    monkeypatch.setattr(fusion, "TRANSLATED_WEIGHT", 0.0)
    monkeypatch.setattr(fusion, "NAMES_WEIGHT", 0.0)
    monkeypatch.setattr(fusion, "TRANSLATED_POOL", 0)
    for g in QUESTIONS:
        a = retriever.search(g["question"], 5, method, lang=g["lang"])
        a = [h for h in a if method != "bm25" or h.score > 0]
        b = milvus.retriever.search(g["question"], 5, method, lang=g["lang"])
        assert len(b) == len(a), (g["id"], method)
        if not a:
            continue
        assert b[0].passage.id == a[0].passage.id, (g["id"], method)
        assert [h.passage.id for h in b] == [h.passage.id for h in a][:len(b)], (g["id"], method)
        assert np.allclose([h.score for h in b], [h.score for h in a][:len(b)], atol=1e-4), (g["id"], method)


def test_bm25_gets_no_vote_across_languages(milvus):
    store, r = milvus.retriever.index, milvus.retriever
    ids, _ = store.bm25_top(EN_LATIN, 10)
    assert len(ids) > 0  # BM25 itself matches the Arabic passage's Latin words …
    assert len(store.bm25_top(EN_LATIN, 10, lang="en")[0]) == 0  # … but there is no English passage to vote for
    fused = r.search(EN_LATIN, 8, "fused", lang="en")
    assert any(h.bm25 > 0 for h in fused)
    dense = r.search(EN_LATIN, 8, "dense")
    assert [h.passage.id for h in fused] == [h.passage.id for h in dense]  # the ranking is the dense one alone
    ar = r.search(EN_LATIN, 8, "fused", lang="ar")  # told it is Arabic, BM25 does vote: the scores move
    assert not np.allclose([h.score for h in ar], [h.score for h in fused])


def test_incremental_add_and_rebuild_views(milvus, tmp_path):
    store = milvus.retriever.index
    before_p, before_a, before_ids = store.size, len(store.articles), [p.id for p in store.passages]
    (tmp_path / "climate.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    report = milvus.build([tmp_path / "climate.txt"])
    assert report.added_articles == 1 and report.total_articles == before_a + 1
    store = milvus.retriever.index
    assert store.size == before_p + report.added_passages
    assert [p.id for p in store.passages][:before_p] == before_ids  # the old passages untouched, in order
    top = milvus.search("ما نسبة خفض الانبعاثات التي ستعلنها قمة المناخ في الرياض؟", 1)[0]
    assert "الانبعاثات" in top.passage.text
    again = milvus.build([tmp_path / "climate.txt"])  # adding it twice adds nothing
    assert again.added_articles == 0 and again.duplicates == 1 and milvus.retriever.size == store.size


def test_reopen_after_restart_and_a_build_that_dies_before_commit(embedder, tmp_path):
    """A build in another process commits; a second one is killed after inserting its rows but before its
    manifest row: a reader (after the restart) sees the first version whole and nothing of the second."""
    db = tmp_path / "m.db"
    script = f"""
import os, sys
sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]
from pathlib import Path
from helpers import HashEmbedder, loaded
from rag.storage.milvus import MilvusIndex, build_milvus
store = MilvusIndex({str(db)!r}, "news", Path({str(tmp_path / 'news')!r}))
if sys.argv[1] == "first":
    build_milvus(store, loaded(0, 1, 2), HashEmbedder())
else:
    insert = store.client.insert
    def dying_insert(name, rows, **kw):
        if name == store.c_manifest:
            os._exit(9)  # killed at the commit point
        return insert(name, rows, **kw)
    store.client.insert = dying_insert
    build_milvus(store, loaded(3, 4), HashEmbedder())
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    assert subprocess.run([sys.executable, "-c", script, "first"], env=env, timeout=120).returncode == 0
    assert subprocess.run([sys.executable, "-c", script, "dies"], env=env, timeout=120).returncode == 9
    store = MilvusIndex(str(db), "news", tmp_path / "news")
    try:
        assert store.size == 3 and [a.id for a in store.articles] == ["art00000", "art00001", "art00002"]
        assert store.client.query(store.c_passages, filter="version > 0", output_fields=["count(*)"])[0][
            "count(*)"] > 3  # the dead build's rows are there, unseen
        from helpers import HashEmbedder, loaded

        from rag.search.candidates import StoreRetriever
        from rag.storage.milvus import build_milvus

        r = StoreRetriever(store, HashEmbedder(), 0.5)
        assert {h.passage.article_id for h in r.search("الحكومة الوزير", 10)} <= {"art00000", "art00001", "art00002"}
        build_milvus(store, loaded(3, 4), HashEmbedder())  # the next build sweeps the leftovers and commits
        assert store.size == 5
        n = store.client.query(store.c_passages, filter="version > 0", output_fields=["count(*)"])[0]["count(*)"]
        assert n == 5
    finally:
        store.close()


def test_answer_end_to_end_with_sanad_store_milvus(milvus, monkeypatch):
    from rag import answer
    from rag.settings import get_settings

    s = milvus.settings
    for key, value in {"SANAD_STORE": "milvus", "SANAD_MILVUS_URI": s.milvus_uri,
                       "SANAD_INDEX_DIR": str(s.index_dir)}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        a = answer(GOLD[0]["question"])
        assert_citations_valid(a)
        assert any(x in a.text for x in GOLD[0]["answers"]) or "لافروف" in a.text
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_bad_settings_are_one_line_errors(settings, tmp_path):
    from rag.errors import ConfigError
    from rag.settings import from_env

    with pytest.raises(ConfigError, match="SANAD_STORE"):
        from_env({"SANAD_STORE": "chroma"})
    with pytest.raises(ConfigError, match="must end in .db"):
        MilvusIndex(str(tmp_path / "m.sqlite"), "x", tmp_path / "x")


def test_the_chat_ui_serves_from_milvus(milvus):
    """The store is chosen by settings: the same app, launched over the Milvus-backed Sanad, answers with citations
    and counts the Milvus index's articles."""
    from gradio_client import Client
    from helpers import free_port

    from ui.app import _index_summary, build_app

    assert f"**{len(milvus.retriever.index.articles)}**" in _index_summary(milvus)
    app = build_app(milvus)
    port = free_port()
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        out = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(
            question=GOLD[0]["question"], chat=[], backend="extractive", top_k=5, language="auto", api_name="/ask")
        html = out[1][-1]["content"]
        html = html if isinstance(html, str) else str(html)
        assert "sanad-final" in html and 'class="sanad-cite"' in html
    finally:
        app.close()
