"""Score fusion (`rag.search.fusion`) against hand-computed values; no model, no index."""
from __future__ import annotations

import dataclasses
from math import sqrt

import numpy as np
import pytest

from rag.search import fusion

pytestmark = pytest.mark.fast

A = np.array


def test_zscore_by_hand():
    # mean 2, population std sqrt(2/3)
    assert fusion.zscore(A([1.0, 2.0, 3.0])) == pytest.approx([-sqrt(1.5), 0.0, sqrt(1.5)])


@pytest.mark.parametrize("x", [A([5.0]), A([2.0, 2.0, 2.0]), A([], dtype=np.float64)], ids=["one", "equal", "empty"])
def test_zscore_without_spread_is_zero(x):
    z = fusion.zscore(x)
    assert z.shape == x.shape and not z.any()


def test_zscore_keeps_float32():
    # The index's scores are float32; fusion must not widen them (rankings stay bit-identical).
    assert fusion.zscore(A([0.8, 0.7, 0.9], dtype=np.float32)).dtype == np.float32


def test_best_sentence_max_pools_per_passage():
    cos = A([0.1, 0.5, 0.3, 0.2, 0.9])  # passage 0: rows 0-1, passage 1: rows 2-3, passage 2: row 4
    assert fusion.best_sentence(cos, A([0, 2, 4]), 3).tolist() == [0.5, 0.3, 0.9]
    empty = fusion.best_sentence(A([], dtype=np.float32), A([0, 0]), 2)
    assert empty.tolist() == [0.0, 0.0] and empty.dtype == np.float32


def test_dense_score_is_mean_of_passage_and_best_sentence():
    assert fusion.dense_score(A([0.8, 0.6]), A([0.9, 0.4])) == pytest.approx([0.85, 0.5])
    assert fusion.dense_score(A([0.8]), A([0.4]), sentence_weight=0.25) == pytest.approx([0.7])


def test_bm25_pool_only_positive_scores_in_the_question_language():
    bm25 = A([0.0, 5.0, 3.0, 9.0, 2.0])
    eligible = A([True, True, True, False, True])  # passage 3 is in another language: its 9.0 is noise
    assert fusion.bm25_pool(bm25, eligible, 2).tolist() == [1, 2]
    assert fusion.bm25_pool(bm25, eligible, 10).tolist() == [1, 2, 4]
    assert fusion.bm25_pool(A([2.0, 2.0, 1.0]), A([True] * 3), 2).tolist() == [0, 1]  # ties: lower id first
    assert fusion.bm25_pool(bm25, A([False] * 5), 10).tolist() == []


def test_candidates_are_the_sorted_union():
    c = fusion.candidates(A([5, 1, 3]), A([3, 9]))
    assert c.tolist() == [1, 3, 5, 9] and c.dtype == np.int64


IDS = A([3, 7, 8, 12])
DENSE = A([3.0, 1.0, 2.0, 2.0])  # mean 2, std 1/√2: z = √2, −√2, 0, 0
BM25 = A([0.0, 6.0, 2.0, 8.0])  # mean 4, std √10: z = −4/√10, 2/√10, −2/√10, 4/√10


def test_fuse_by_hand_with_a_cross_language_candidate():
    # Passage 12 is in another language: BM25 has no vote, it keeps z(dense) = 0. Its raw BM25 still counts
    # in the BM25 z-score's mean and spread (as it always has).
    ranked = fusion.fuse(IDS, DENSE, BM25, A([True, True, True, False]), dense_weight=0.5)
    expected = [
        (3, 0.5 * sqrt(2) + 0.5 * (-4 / sqrt(10))),  # 0.0747
        (12, 0.0),
        (8, 0.5 * 0.0 + 0.5 * (-2 / sqrt(10))),  # -0.316
        (7, 0.5 * -sqrt(2) + 0.5 * (2 / sqrt(10))),  # -0.391
    ]
    assert [i for i, _ in ranked] == [i for i, _ in expected]
    assert [s for _, s in ranked] == pytest.approx([s for _, s in expected])


def test_fuse_lets_bm25_vote_in_the_question_language():
    # Same candidates, all in the question's language: passage 12's BM25 now lifts it to the top.
    ranked = fusion.fuse(IDS, DENSE, BM25, A([True] * 4), dense_weight=0.5)
    assert ranked[0] == (12, pytest.approx(0.5 * 4 / sqrt(10)))
    w = 0.8  # the weight matters: z(dense) dominates
    ranked = fusion.fuse(IDS, DENSE, BM25, A([True] * 4), dense_weight=w)
    assert ranked[0] == (3, pytest.approx(w * sqrt(2) + (1 - w) * (-4 / sqrt(10))))


def test_fuse_without_any_bm25_vote_ranks_as_dense():
    ranked = fusion.fuse(IDS, DENSE, BM25, A([False] * 4), dense_weight=0.5)
    assert ranked == [(3, pytest.approx(sqrt(2))), (8, 0.0), (12, 0.0), (7, pytest.approx(-sqrt(2)))]


def test_fuse_ties_keep_candidate_order():
    # z(dense) = −z(bm25) exactly, so at weight 0.5 every fused score is 0: order stays 10, 20, 30.
    ids, dense, bm25 = A([10, 20, 30]), A([3.0, 2.0, 1.0]), A([1.0, 2.0, 3.0])
    assert fusion.fuse(ids, dense, bm25, A([True] * 3), 0.5) == [(10, 0.0), (20, 0.0), (30, 0.0)]
    assert fusion.fuse(A([30, 20, 10]), dense, bm25, A([True] * 3), 0.5) == [(30, 0.0), (20, 0.0), (10, 0.0)]


def test_fuse_single_candidate_and_empty():
    assert fusion.fuse(A([5]), A([0.8]), A([3.0]), A([True]), 0.5) == [(5, 0.0)]
    empty = A([], dtype=np.float32)
    assert fusion.fuse(A([], dtype=np.int64), empty, empty, A([], dtype=bool), 0.5) == []


# -- cross-language questions: dense's order, but for a small vote by shared tokens

def test_cross_language_when_few_dense_candidates_share_the_question_language():
    assert fusion.cross_language(A([False, False, True]))  # 1/3 < 0.5: an English question over Arabic passages
    assert not fusion.cross_language(A([True, True, False]))
    assert not fusion.cross_language(A([True, False]))  # exactly half: the question's language is not a minority
    assert fusion.cross_language(A([], dtype=bool))


def test_cross_language_fused_order_is_dense_order_without_shared_signal():
    # Whatever BM25 says (here it favours 7 and 12), no eligible candidate and a zero vote leave dense's order.
    vote = fusion.shared_vote(A([0.0, 0.0, 0.0, 0.0]), weight=0.3)
    assert not vote.any()
    ranked = fusion.fuse(IDS, DENSE, BM25, A([False] * 4), dense_weight=0.5, bonus=vote)
    assert [i for i, _ in ranked] == [3, 8, 12, 7]  # dense 3.0, 2.0, 2.0 (tie: candidate order), 1.0
    rng = np.random.default_rng(0)
    for _ in range(200):  # and for any scores: the order is the stable sort of dense
        n = int(rng.integers(1, 30))
        ids, dense = np.arange(n) * 3, rng.standard_normal(n).astype(np.float32).round(1)
        got = fusion.fuse(ids, dense, rng.random(n) * 10, np.zeros(n, bool), 0.4, fusion.shared_vote(np.zeros(n)))
        assert [i for i, _ in got] == ids[np.argsort(-dense, kind="stable")].tolist()


def test_shared_tokens_are_those_without_arabic_letters():
    assert fusion.shared_tokens(["bitcoin", "2018", "بيتكوين", "caf"]) == ["bitcoin", "2018", "caf"]
    assert fusion.shared_tokens([]) == []


def test_shared_vote_by_hand():
    assert fusion.shared_vote(A([0.0, 2.0, 4.0]), weight=0.3).tolist() == pytest.approx([0.0, 0.15, 0.3])
    assert fusion.shared_vote(A([], dtype=np.float32), weight=0.3).tolist() == []
    assert not fusion.shared_vote(A([1.0, 5.0]), weight=0.0).any()


def test_shared_vote_nudges_but_does_not_override_dense():
    # z(dense) = √2, −√2, 0, 0. A vote of 0.5 for 12 (its shared BM25 is the best) lifts it over 8, its tie,
    # but not over 3, whose dense lead (√2) is larger than the whole vote.
    vote = fusion.shared_vote(A([0.0, 0.0, 0.0, 8.0]), weight=0.5)
    ranked = fusion.fuse(IDS, DENSE, BM25, A([False] * 4), dense_weight=0.5, bonus=vote)
    assert ranked == [(3, pytest.approx(sqrt(2))), (12, pytest.approx(0.5)), (8, 0.0), (7, pytest.approx(-sqrt(2)))]


def _bilingual_retriever(tmp_path):
    """Six Arabic articles and two mostly-Latin ones (labelled 'en') in a real FAISS + BM25 index; hash vectors."""
    from helpers import HashEmbedder, make_article

    from rag.ingest.corpus import LoadResult
    from rag.search.retrieval import Retriever
    from rag.storage.index import build_index, load_index
    from rag.types import Article

    arts = [make_article(i, sentences=2) for i in range(6)]
    arts += [Article(id=f"mixed{i}", title="قائمة", text=f"Bitcoin mining Satoshi Nakamoto wallet {i} blockchain "
                     "ledger صفحة.", source=f"m{i}.txt") for i in range(2)]
    emb = HashEmbedder()
    build_index(tmp_path / "ix", LoadResult(articles=arts), emb)
    return Retriever(load_index(tmp_path / "ix", emb.model_id), emb, dense_weight=0.5)


def test_english_question_over_arabic_index_ranks_as_dense(tmp_path, monkeypatch):
    monkeypatch.setattr(fusion, "SHARED_WEIGHT", 0.0)  # the structural rule alone; the votes are tested apart
    monkeypatch.setattr(fusion, "TRANSLATED_WEIGHT", 0.0)
    monkeypatch.setattr(fusion, "NAMES_WEIGHT", 0.0)
    # The mixed-script passages match every English word of the question; before, BM25 pooled them and their
    # z-score (over candidates that mostly score 0) lifted them over the Arabic passages dense ranks first.
    r = _bilingual_retriever(tmp_path)
    assert sorted(r.langs.tolist()).count("en") == 2
    q = "What is Bitcoin mining and who is Satoshi Nakamoto?"
    dense = [h.passage.id for h in r.search(q, 8, "dense", lang="en")]
    fused = [h.passage.id for h in r.search(q, 8, "fused", lang="en")]
    assert fused == dense


# -- one source of truth for the question's length limit and the fusion weight

def test_question_length_is_checked_only_with_the_callers_limit():
    import inspect

    from rag.errors import QueryError
    from rag.query import check_question
    from rag.search.retrieval import Retriever

    assert check_question("  سؤال ", 5) == "سؤال"
    with pytest.raises(QueryError, match="too long .*limit is 10"):
        check_question("x" * 11, 10)
    with pytest.raises(TypeError):
        check_question("سؤال")  # no built-in limit competing with Settings.max_question_chars
    # Retrieval has no length limit of its own: two 1,500-character follow-ups joined by the rewrite still search.
    assert "max" not in inspect.signature(Retriever.search).parameters
    assert "too long" not in inspect.getsource(Retriever)


def test_retriever_takes_its_fusion_weight_from_the_caller():
    from rag.search.retrieval import Retriever

    (weight,) = [f for f in dataclasses.fields(Retriever) if f.name == "dense_weight"]
    assert weight.default is dataclasses.MISSING and weight.default_factory is dataclasses.MISSING


@pytest.mark.parametrize("n", [0, 1, 5, 100, 4999, 10_000, 20_000])
def test_top_over_many_scores_is_the_full_stable_sort(n):
    # Above PARTIAL_SORT_MIN `top` selects before sorting; many ties (and -inf, as a filter masks) must still
    # come out exactly as a stable full sort orders them, also at the cut.
    rng = np.random.default_rng(n)
    scores = rng.integers(0, 50, 10_000).astype(np.float32)
    scores[rng.integers(0, 10_000, 300)] = -np.inf
    assert len(scores) > fusion.PARTIAL_SORT_MIN
    assert fusion.top(scores, n).tolist() == np.argsort(-scores, kind="stable")[:n].tolist()
