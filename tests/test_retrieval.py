"""Retrieval on the bundled seeds with the real e5 model, FAISS and BM25."""
from __future__ import annotations

import pytest

from rag.errors import QueryError

SEED = {  # article file name prefixes
    "lavrov_kerry": "000_", "borodavkin": "001_", "trust": "002_", "moscow_visit": "003_", "miqdad": "004_",
}

# Written for this test: one fact each, two per article, in each language.
ARABIC = [
    ("على ماذا اتفق لافروف وكيري في اتصالهما الهاتفي بشأن دي مستورا؟", "000_"),
    ("من الذي خرج غاضباً من اجتماع الائتلاف وقال إن الائتلاف قد مات؟", "000_"),
    ("هل ما زالت واشنطن تطالب باستقالة الأسد فوراً بحسب بورودافكين؟", "001_"),
    ("ما المنتجع الذي سيطر عليه الجيش السوري شمال حلب؟", "001_"),
    ("لماذا لا يوجد تعاون عسكري حقيقي بين روسيا وأميركا في سوريا؟", "002_"),
    ("متى دخل اتفاق وقف إطلاق النار حيز التنفيذ؟", "002_"),
    ("لماذا يزور دي ميستورا موسكو؟", "003_"),
    ("ماذا قال بوتين عن الهجوم الكيماوي في خان شيخون؟", "003_"),
    ("إلى ماذا دعا فيصل المقداد بين سورية والعراق؟", "004_"),
    ("ما الجهاز الذي بدأ الجيش الإسرائيلي بإقامته مع الجيش الروسي؟", "004_"),
]
ENGLISH = [
    ("What did Lavrov and Kerry agree about the UN envoy de Mistura in their phone call?", "000_"),
    ("Who walked out of the opposition coalition meeting angrily and said the coalition was dead?", "000_"),
    ("According to the Russian envoy in Geneva, does Washington still demand Assad's immediate resignation?", "001_"),
    ("Which resort north of Aleppo did the Syrian army take control of?", "001_"),
    ("Why is there no real military cooperation between Russia and the United States in Syria?", "002_"),
    ("When did the ceasefire agreed by Moscow and Washington come into force?", "002_"),
    ("Why is de Mistura visiting Moscow?", "003_"),
    ("What did Putin say about the chemical attack in Khan Shaykhun?", "003_"),
    ("What did Faisal al-Miqdad call for between Syria and Iraq?", "004_"),
    ("What is the Israeli army setting up with the Russian army to coordinate air traffic over Syria?", "004_"),
]


def _rank1_correct(retriever, questions):
    return [retriever.search(q, 1)[0].passage.source.startswith(prefix) for q, prefix in questions]


@pytest.mark.parametrize("questions", [ARABIC, ENGLISH], ids=["arabic", "english"])
def test_right_article_at_rank_1(retriever, questions):
    correct = _rank1_correct(retriever, questions)
    assert sum(correct) >= 8, [q for (q, _), ok in zip(questions, correct) if not ok]


def test_off_corpus_question_scores_low(retriever, settings):
    top = lambda q: retriever.search(q, 1)[0].dense  # noqa: E731
    assert top("كيف أطبخ الكبسة باللحم والأرز؟") < settings.min_score <= top("متى دخل اتفاق وقف إطلاق النار حيز التنفيذ؟")
    off_en = top("What is the best way to grow tomatoes on a balcony?")
    assert off_en < settings.min_score_cross <= top("When did the ceasefire agreed by Moscow and Washington come into force?")


def test_hits_carry_every_score_and_rank(retriever):
    hits = retriever.search("ماذا قال بوتين عن الهجوم الكيماوي؟", 5)
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert all(h.dense is not None and h.bm25 is not None for h in hits)
    assert hits[0].score >= hits[-1].score
    bm25 = retriever.search("الهجوم الكيماوي خان شيخون", 3, method="bm25")
    assert bm25[0].bm25 > 0 and "خان شيخون" in bm25[0].passage.text


def test_bm25_of_the_questions_own_words_gets_no_vote_across_languages(retriever, monkeypatch):
    # An English question: without its translated words' and names' votes, fused must rank exactly as dense does
    # (BM25 of English words over Arabic passages is noise).
    from rag.search import fusion

    monkeypatch.setattr(fusion, "TRANSLATED_WEIGHT", 0.0)
    monkeypatch.setattr(fusion, "NAMES_WEIGHT", 0.0)
    monkeypatch.setattr(fusion, "TRANSLATED_POOL", 0)
    q = "Which resort north of Aleppo did the Syrian army take control of?"
    dense = [h.passage.id for h in retriever.search(q, 5, method="dense")]
    fused = [h.passage.id for h in retriever.search(q, 5, method="fused")]
    assert fused == dense


def test_english_words_translate_to_the_arabic_the_articles_use(retriever):
    # The real model and the seeds' own lexicon: content words land on their Arabic translations, confidently.
    from rag.search import lexicon
    from rag.text import arabic

    lex = retriever.index.lexicon
    assert lex is not None and len(lex) > 1000
    words = ["Russia", "French", "president", "Syria"]
    found = lexicon.nearest(retriever.embedder.embed_queries(words), lex)
    assert [f[0][0] for f in found] == [arabic.stem(w) for w in ("روسيا", "الفرنسية", "رئيس", "السورية")]
    assert all(f[0][1] >= lexicon.MIN_SIMILARITY for f in found)
    # …and their vote lifts the passage that says it, over what dense alone ranks first
    q = "What did the French president say about Aleppo?"
    fused = retriever.search(q, 3)
    assert any("الفرنسي" in h.passage.text for h in fused)
    # what backends get for the refusal gate's coverage: the confident translations' stems, and none for
    # an Arabic question (nothing Latin to translate)
    terms = retriever.translated_terms(q)
    assert {arabic.stem("الفرنسية"), arabic.stem("رئيس")} <= set(terms)
    assert retriever.translated_terms("ماذا قال الرئيس الفرنسي عن حلب؟") == []


def test_normalised_matching_finds_variant_spelling(retriever):
    # Written without hamza and with diacritics: normalisation must still match "الأسد" / "استقالة".
    hits = retriever.search("اسْتقالة الاسد", 3, method="bm25")
    assert hits[0].bm25 > 0 and "استقالة" in hits[0].passage.text


def test_bad_queries_raise_clear_errors(retriever):
    with pytest.raises(QueryError, match="empty"):
        retriever.search("   ", 5)
    with pytest.raises(QueryError, match="unknown search method"):
        retriever.search("سؤال", 5, method="magic")


def test_long_rewritten_follow_up_is_searched(retriever, settings):
    # The length limit is checked once, where the user's question enters; two legal follow-ups joined by the
    # rewrite may exceed it and must still be searched, not fail "too long" inside retrieval.
    turn = ("ماذا قال بوتين عن الهجوم الكيماوي في خان شيخون؟ " * 40)[:1500]
    joined = f"{turn} {turn}"
    assert len(joined) > settings.max_question_chars
    assert retriever.search(joined, 3)[0].passage.source.startswith("003_")


def test_langchain_retriever(retriever):
    from rag.search.retrieval import SanadRetriever

    docs = SanadRetriever(retriever=retriever, k=3).invoke("ماذا قال بوتين عن الهجوم الكيماوي في خان شيخون؟")
    assert len(docs) == 3
    assert docs[0].metadata["source"].startswith("003_")
    assert {"passage_id", "score", "dense", "bm25", "title"} <= set(docs[0].metadata)
