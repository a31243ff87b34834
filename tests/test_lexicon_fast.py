"""The English→Arabic word lexicon (`rag.search.lexicon`): vocabulary, nearest-word translation, storage, and its
vote in fused search; hash vectors, no model."""
from __future__ import annotations

import json

import faiss
import numpy as np
import pytest

from helpers import HashEmbedder, make_article
from rag.errors import IndexProblem
from rag.ingest.corpus import LoadResult
from rag.search import fusion, lexicon
from rag.search.lexicon import Lexicon
from rag.search.retrieval import Retriever
from rag.storage.index import build_index, load_index, read_manifest
from rag.text import arabic
from rag.types import Article

pytestmark = pytest.mark.fast


def test_vocabulary_counts_normalised_words_and_keeps_the_most_frequent_spelling():
    texts = ["المدرسة المدرسه المدرسة", "الطريق Bitcoin 2015", "الطريق"]
    # المدرسة/المدرسه fold to one word (3 uses, written المدرسة twice); Latin words and digits are not Arabic.
    assert lexicon.vocabulary(texts) == ["المدرسة", "الطريق"]
    assert lexicon.vocabulary(texts, max_words=1) == ["المدرسة"]


def _lexicon(words: list[str], vectors: np.ndarray) -> Lexicon:
    return Lexicon(words, [arabic.stem(w) for w in words], lexicon.vector_index(vectors))


@pytest.mark.parametrize("n_words", [3, lexicon.HNSW_MIN_WORDS])
def test_each_word_takes_its_nearest_lexicon_words_stem(n_words):
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((n_words, 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    vecs[:3] = np.eye(3, 8)
    lex = _lexicon(["المياه", "مياه", "السعر", *[f"كلمة{i}" for i in range(n_words - 3)]], vecs)
    assert isinstance(lex.vectors, faiss.IndexHNSW) == (n_words >= lexicon.HNSW_MIN_WORDS)
    words = np.zeros((3, 8), np.float32)
    words[0, :3], words[1, :3], words[2, :3] = [0.9, 0.1, 0], [0, 0.2, 0.8], [0.1, 0.8, 0.1]
    words /= np.linalg.norm(words, axis=1, keepdims=True)
    found = lexicon.nearest(words, lex, k=1)
    assert [f[0][0] for f in found] == [arabic.stem("المياه"), arabic.stem("السعر"), arabic.stem("مياه")]
    assert [f[0][1] for f in found] == pytest.approx([0.9 / np.hypot(0.9, 0.1), 0.8 / np.hypot(0.2, 0.8),
                                                      0.8 / np.sqrt(0.66)], abs=1e-4)
    second = lexicon.nearest(words, lex)  # k=2: the runner-up too, best first
    assert [len(f) for f in second] == [2, 2, 2]
    if n_words == 3:  # (among 20,000 random words another may come second)
        assert second[0][1][0] == arabic.stem("مياه")
    assert lexicon.nearest(np.zeros((0, 8), np.float32), lex) == []


def test_only_confident_translations_vote_each_stem_once():
    found = [[("متحد", 0.924), ("امم", 0.916)],  # UN: two forms, 0.008 apart: both
             [("ضمن", 0.883), ("ان", 0.878)],  # envoy: a guess, left out
             [("سور", 0.938), ("دمشق", 0.916)],  # Syria: the runner-up is too far behind
             [("متحد", 0.95)]]
    assert lexicon.confident_stems(found) == ["متحد", "امم", "سور"]
    assert lexicon.confident_stems(found, floor=0.8, margin=0.0) == ["متحد", "ضمن", "سور"]


def test_only_latin_content_words_are_translated():
    assert lexicon.translatable_words("How many samples of water did the SFDA test in 2015 في الرياض?") == \
        ["many", "samples", "water", "SFDA", "test"]


def test_lexicon_round_trip_and_a_damaged_one(tmp_path):
    lex = _lexicon(["المياه", "السعر"], np.eye(2, 4, dtype=np.float32))
    lexicon.save_lexicon(tmp_path / "lx", lex)
    back = lexicon.load_lexicon(tmp_path / "lx")
    assert back.words == lex.words and back.stems == lex.stems
    assert np.array_equal(back.vectors.reconstruct_n(0, 2), np.eye(2, 4, dtype=np.float32))
    (tmp_path / "lx" / lexicon.WORDS_FILE).write_text(json.dumps([["المياه"], ["مياه"]]))  # 1 word, 2 vectors
    with pytest.raises(ValueError):
        lexicon.load_lexicon(tmp_path / "lx")


class TranslatingEmbedder(HashEmbedder):
    """Hash vectors, but an English word in `DICTIONARY` gets its Arabic translation's vector: a perfect lexicon."""

    DICTIONARY = {"hospital": "المستشفى", "opened": "افتتح"}

    def embed_queries(self, texts):
        return self.embed_passages([self.DICTIONARY.get(t.lower(), t) for t in texts])


def _articles() -> list[Article]:
    arts = [make_article(i, sentences=2) for i in range(8)]
    arts.append(Article(id="hosp", title="خبر", text="افتتح المستشفى الجديد أبوابه للمرضى في المدينة.", source="h.txt"))
    return arts


def test_an_index_holds_its_lexicon_and_english_words_vote_through_it(tmp_path):
    emb = TranslatingEmbedder()
    build_index(tmp_path / "ix", LoadResult(articles=_articles()), emb)
    index = load_index(tmp_path / "ix", emb.model_id)
    assert index.lexicon is not None and "المستشفى" in index.lexicon.words
    r = Retriever(index, emb, dense_weight=0.5)
    translated = r._bm25_translated("Which hospital opened?")[0]
    assert translated is not None
    top = int(np.argmax(translated))
    assert index.passages[top].article_id == "hosp" and translated[top] > 0
    # The vote lifts the passage that holds the translated word; without it (weight 0) dense's hash order rules.
    ranked = [h.passage.article_id for h in r.search("Which hospital opened?", 3, "fused", lang="en")]
    assert ranked[0] == "hosp"
    assert r._bm25_translated("٢٠١٥؟") == (None, None)  # nothing to translate: no vote at all


def test_a_name_the_embedding_cannot_place_is_found_by_its_spelling(tmp_path):
    emb = TranslatingEmbedder()
    arts = _articles() + [Article(id="jed", title="خبر", text="افتتح في جدة معرض الكتاب الدولي.", source="j.txt")]
    build_index(tmp_path / "ix", LoadResult(articles=arts), emb)
    r = Retriever(load_index(tmp_path / "ix", emb.model_id), emb, dense_weight=0.5)
    # Hash vectors place "Jeddah" near no Arabic word; its consonants (J·D, a final ah) spell جدة.
    assert lexicon.confident_stems(lexicon.nearest(emb.embed_queries(["Jeddah"]), r.index.lexicon)) == []
    assert arabic.stem("جدة") in r.translated_terms("What opened in Jeddah?")
    assert r.translated_terms("What opened in jeddah?") == [arabic.stem("افتتح")]  # lower case: not a name
    # a name English writes otherwise takes the exonym table's Arabic, which no spelling or hash vector gives
    assert arabic.stem("الأردن") in r.translated_terms("What opened in Jordan?")
    assert {arabic.stem("السعودية"), arabic.stem("المملكة")} <= set(r.translated_terms("Who rules Saudi Arabia?"))
    ranked = [h.passage.article_id for h in r.search("What opened in Jeddah?", 3, "fused", lang="en")]
    assert ranked[0] == "jed"


class _Vocabulary:
    def __init__(self, words):
        self.words = words

    def get_vocab(self):
        return {"\u2581" + w: i for i, w in enumerate(self.words)}


def test_a_rare_name_is_spelled_first_even_where_the_embedding_is_sure(tmp_path):
    # The embedding may place a rare name "confidently" on a wrong word (the archive's Ittihad → عتيد): here
    # Muntari lands on المستشفى. A name that is no whole word of the embedder's vocabulary is spelled first.
    class Misplacing(TranslatingEmbedder):
        DICTIONARY = {**TranslatingEmbedder.DICTIONARY, "muntari": "المستشفى"}

    emb = Misplacing()
    arts = _articles() + [Article(id="m", title="خبر", text="انضم مونتاري إلى التدريبات.", source="m.txt")]
    build_index(tmp_path / "ix", LoadResult(articles=arts), emb)
    index = load_index(tmp_path / "ix", emb.model_id)
    emb.tokenizer = _Vocabulary(["Which", "player", "joined"])
    r = Retriever(index, emb, dense_weight=0.5)
    assert arabic.stem("مونتاري") in r.translated_terms("Did Muntari join?")
    # a sure name also votes alone: the names' BM25 is the article that writes it
    assert r.translation("Did Muntari join?")[1] == [arabic.stem("مونتاري")]
    names = r._bm25_translated("Did Muntari join?")[1]
    assert index.passages[int(np.argmax(names))].article_id == "m"
    emb.tokenizer = _Vocabulary(["Which", "player", "joined", "Muntari"])  # a common word: the embedding decides
    r = Retriever(index, emb, dense_weight=0.5)
    assert r.translation("Did Muntari join?") == ([arabic.stem("المستشفى")], [])


def test_without_the_vote_the_order_is_dense(tmp_path, monkeypatch):
    monkeypatch.setattr(fusion, "TRANSLATED_WEIGHT", 0.0)
    monkeypatch.setattr(fusion, "NAMES_WEIGHT", 0.0)
    emb = TranslatingEmbedder()
    build_index(tmp_path / "ix", LoadResult(articles=_articles()), emb)
    r = Retriever(load_index(tmp_path / "ix", emb.model_id), emb, dense_weight=0.5)
    q = "Which hospital opened?"
    assert [h.passage.id for h in r.search(q, 5, "fused", lang="en")] == \
        [h.passage.id for h in r.search(q, 5, "dense", lang="en")]


def _drop_lexicon(path):
    """Make the index look built before lexicons: its manifest names no lexicon."""
    m = read_manifest(path)
    del m["files"]["lexicon"]
    (path / "manifest.json").write_text(json.dumps(m))
    return m


def test_an_index_built_before_lexicons_loads_and_the_next_build_adds_one(tmp_path):
    emb = TranslatingEmbedder()
    data = LoadResult(articles=_articles())
    build_index(tmp_path / "ix", data, emb)
    before = _drop_lexicon(tmp_path / "ix")
    (tmp_path / "ix" / "notes.txt").write_text("mine")
    old = load_index(tmp_path / "ix", emb.model_id)
    assert old.lexicon is None
    assert Retriever(old, emb, dense_weight=0.5)._bm25_translated("Which hospital opened?") == (None, None)
    stages = []
    report = build_index(tmp_path / "ix", data, emb, stages=lambda s, d, t: stages.append(s))
    assert report.added_passages == 0 and "lexicon" in stages
    after = read_manifest(tmp_path / "ix")
    assert {k: v for k, v in after["files"].items() if k != "lexicon"} == before["files"]  # nothing else rewritten
    assert load_index(tmp_path / "ix", emb.model_id).lexicon is not None
    assert (tmp_path / "ix" / "notes.txt").read_text() == "mine"


def test_a_damaged_lexicon_is_reported_not_replaced(tmp_path):
    emb = TranslatingEmbedder()
    build_index(tmp_path / "ix", LoadResult(articles=_articles()), emb)
    folder = tmp_path / "ix" / read_manifest(tmp_path / "ix")["files"]["lexicon"]
    (folder / lexicon.WORDS_FILE).write_text("[[\"x\"], []]")
    # Loaded with the first English question (Arabic ones never need it): reported then, as a corrupt index.
    r = Retriever(load_index(tmp_path / "ix", emb.model_id), emb, dense_weight=0.5)
    assert r.search("المستشفى", 3, "fused")
    with pytest.raises(IndexProblem, match="corrupt.*lexicon"):
        r.search("Which hospital opened?", 3, "fused")
    assert (folder / lexicon.WORDS_FILE).read_text() == "[[\"x\"], []]"
    (folder / lexicon.VECTORS_FILE).unlink()  # a missing part is found at load
    with pytest.raises(IndexProblem, match="corrupt"):
        load_index(tmp_path / "ix", emb.model_id)


class _Vocab:
    def get_vocab(self):
        return {"\u2581hospital": 1, "\u2581opened": 2, "\u2581x": 3, "hospital": 4, "\u2581مستشفى": 5, "\u2581a1": 6}


def test_an_archive_lexicon_pretranslates_the_tokenizers_latin_words_as_a_question_would(tmp_path, monkeypatch):
    from rag.settings import get_settings

    emb = TranslatingEmbedder()
    emb.tokenizer = _Vocab()
    assert lexicon.tokenizer_words(emb) == ["hospital", "opened"]  # whole Latin words only (▁ pieces, ≥ 2 letters)
    assert lexicon.tokenizer_words(HashEmbedder()) == []
    monkeypatch.setenv("SANAD_EXACT_MAX", "5")  # archive size: more passages than this
    get_settings.cache_clear()
    build_index(tmp_path / "ix", LoadResult(articles=_articles()), emb)
    get_settings.cache_clear()
    index = load_index(tmp_path / "ix", emb.model_id)
    assert set(index.lexicon.known) == {"hospital", "opened"}
    live = Retriever(index, emb, dense_weight=0.5)
    # Translated at build exactly as at query time: the same stems, the same scores.
    assert index.lexicon.known["hospital"][0] == (arabic.stem("المستشفى"), pytest.approx(1.0, abs=1e-4))
    embedded = []
    emb.embed_queries = lambda texts: (embedded.extend(texts), TranslatingEmbedder.embed_queries(emb, texts))[1]
    scores = live._bm25_translated("Which new hospital opened?")[0]
    assert embedded == ["new"]  # only the word the build did not know
    index.lexicon.known.clear()
    assert np.array_equal(Retriever(index, emb, dense_weight=0.5)._bm25_translated("Which new hospital opened?")[0],
                          scores)
