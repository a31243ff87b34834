"""The refusal gate's pure parts (no model): its signals, the logistic fit and threshold, the clause the answer
leads with when the span model is unsure, and the own-paragraph mask the unanswerable ARCD set is built with."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest

from rag.answering import answerable, extractive, span
from rag.answering.evidence import Sentence
from rag.evaluation.gold import GoldQuestion
from rag.evaluation.unanswerable import excluding, leaks, removed_twin, split_of
from rag.types import Hit, Passage

pytestmark = pytest.mark.fast


def _hit(text: str, score: float, dense: float, bm25: float, lang: str = "ar", article: str = "a") -> Hit:
    return Hit(Passage(id=f"{article}-{score}", article_id=article, title="t", text=text, lang=lang,
                       ordinal=0, start=0, end=len(text)), score,
               dense=dense, bm25=bm25)


def _signals(**kw) -> answerable.Signals:
    base = dict(top_dense=0.85, dense_margin=0.02, fused_margin=0.5, bm25_top=2.0, best_cos=0.85, top_cos=0.86,
                cos_gap=0.05, coverage=0.6, max_coverage=0.6, kind_checkable=1.0, kind_fits=1.0, span_conf=0.5,
                same_lang=1.0)
    return answerable.Signals(**{**base, **kw})


def test_signals_read_scores_coverage_and_the_asked_kind():
    hits = [_hit("x", 2.0, 0.86, 12.0), _hit("y", 1.5, 0.83, 3.0)]
    cos, cov = np.array([0.80, 0.88, 0.70]), np.array([0.5, 0.25, 0.0])
    s = answerable.signals(hits, cos, cov, chosen=0, kind="date", kind_fits=True, span_conf=0.4, q_lang="ar")
    assert s.top_dense == 0.86 and s.dense_margin == pytest.approx(0.03) and s.fused_margin == pytest.approx(0.5)
    assert s.bm25_top == pytest.approx(np.log1p(12.0))
    assert s.best_cos == pytest.approx(0.80) and s.top_cos == pytest.approx(0.88)
    assert s.cos_gap == pytest.approx(0.08) and s.coverage == 0.5 and s.max_coverage == 0.5
    assert (s.kind_checkable, s.kind_fits, s.span_conf, s.same_lang) == (1.0, 1.0, 0.4, 1.0)
    # A person question cannot be checked by form: neither flag is set; no short answer: no sentence signals.
    s = answerable.signals(hits[:1], cos, cov, chosen=None, kind="person", kind_fits=True, span_conf=0.0,
                           q_lang="en")
    assert (s.kind_checkable, s.kind_fits, s.best_cos, s.coverage, s.same_lang, s.fused_margin) == (0, 0, 0, 0, 0, 0)


def test_the_gate_answers_above_its_threshold_and_refuses_below():
    gate = answerable.Gate(mean=(0.0,) * len(answerable.FEATURES), scale=(1.0,) * len(answerable.FEATURES),
                           weights=tuple(4.0 if f == "coverage" else 0.0 for f in answerable.FEATURES), bias=-2.0,
                           threshold=0.5)
    assert gate.answerable(_signals(coverage=0.9)) and not gate.answerable(_signals(coverage=0.1))
    assert gate.probability(_signals(coverage=0.9)) > gate.probability(_signals(coverage=0.6))
    assert answerable.answerable(_signals(coverage=0.1), gate) is False


def test_the_bar_rises_with_the_index_size_between_its_calibration_points():
    gate = answerable.Gate(mean=(0.0,) * len(answerable.FEATURES), scale=(1.0,) * len(answerable.FEATURES),
                           weights=tuple(4.0 if f == "coverage" else 0.0 for f in answerable.FEATURES), bias=-2.0,
                           threshold=0.25, calibrated=((100, 0.25), (10_000, 0.85)))
    assert gate.threshold_at(0) == 0.25  # unknown size: the fitted bar
    assert gate.threshold_at(50) == 0.25 and gate.threshold_at(1_000_000) == 0.85  # outside: the nearest point
    assert abs(gate.threshold_at(1_000) - 0.55) < 1e-9  # halfway in log(passages)
    p = gate.probability(_signals(coverage=0.7))  # ~0.69: answered over a small index, refused over a big one
    assert 0.25 < p < 0.85
    assert gate.answerable(_signals(coverage=0.7), passages=100)
    assert not gate.answerable(_signals(coverage=0.7), passages=10_000)
    assert answerable.answerable(_signals(coverage=0.7), gate, passages=10_000) is False
    # The shipped gate: its own fitted bar at ARCD's size, a higher one over the archive.
    shipped = answerable.GATE
    assert shipped.threshold_at(356) == shipped.threshold < shipped.threshold_at(125_371)


def test_fit_learns_which_signal_separates_and_the_threshold_keeps_false_refusals_low():
    rng = np.random.default_rng(0)
    y = np.repeat([1, 0], 200)
    x = rng.normal(size=(400, len(answerable.FEATURES)))
    x[:, answerable.FEATURES.index("coverage")] += 2.5 * y  # only coverage tells them apart
    mean, scale, w, b = answerable.fit(x, y)
    assert np.argmax(np.abs(w)) == answerable.FEATURES.index("coverage") and w.max() > 0
    z = (x - mean) / scale
    p = 1 / (1 + np.exp(-(z @ w + b)))
    t = answerable.choose_threshold(p, y, max_false_refusals=0.05)
    refuse = p < t
    assert (refuse & (y == 1)).sum() / 200 <= 0.05
    assert answerable.refusal_f1(refuse, y) > 0.6


def test_refusal_f1_counts_refusing_as_the_positive_class():
    y = np.array([1, 1, 0, 0])
    assert answerable.refusal_f1(np.array([False, False, True, True]), y) == 1.0
    assert answerable.refusal_f1(np.array([True, False, True, False]), y) == pytest.approx(0.5)
    assert answerable.refusal_f1(np.zeros(4, bool), y) == 0.0


def test_an_unsure_span_widens_to_its_clause_verbatim_and_short():
    sentence = "قال المبعوث الأممي ستيفان دي ميستورا، أمس، إنه يسعى لعقد جولة ثالثة في جنيف قبل نهاية آب المقبل."
    at = sentence.index("جولة ثالثة")
    sp = span.Span(at, at + len("جولة ثالثة"), "جولة ثالثة", "other", 0.0, confidence=0.1)
    wide = extractive.clause_around(sentence, sp)
    assert sentence[wide.start:wide.end] == wide.text and wide.start <= sp.start and sp.end <= wide.end
    assert wide.text == "إنه يسعى لعقد جولة ثالثة في جنيف قبل نهاية آب المقبل"
    long_clause = " ".join(f"كلمة{i}" for i in range(30))
    s2 = long_clause + " الجواب هنا " + long_clause
    at = s2.index("الجواب")
    wide = extractive.clause_around(s2, span.Span(at, at + 6, "الجواب", "other", 0.0, 0.1))
    assert "الجواب" in wide.text and len(wide.text.split()) <= span.MAX_WORDS
    sure = extractive.Short(Sentence(0, sentence, 0, len(sentence)), 1.0, replace(sp, confidence=0.99))
    assert extractive.lead_span(sure) == sure.span


@dataclass
class _Index:
    passages: list


class _Retriever:
    def __init__(self, articles):
        self.index = _Index([Passage(id=f"p{i}", article_id=a, title="", text="", lang="ar", ordinal=0,
                                     start=0, end=0)
                             for i, a in enumerate(articles)])

    def mask(self, filters):
        return None if not filters else np.array([True, False, True, True])


def test_excluding_masks_the_own_paragraph_on_top_of_filters_and_restores():
    r = _Retriever(["a", "b", "a", "c"])
    with excluding(r, {"a"}):
        assert r.mask(None).tolist() == [False, True, False, True]
        assert r.mask("some filter").tolist() == [False, False, False, True]
    assert r.mask(None) is None  # the class's own mask again


def test_removed_twins_are_unanswerable_split_by_article_and_leaks_are_caught():
    q = GoldQuestion(id="7", question="متى؟", lang="ar", answers=["1958"], article="arcd-a0003-p002",
                     kind="arcd", relevant_articles={"arcd-a0003-p002"})
    t = removed_twin(q)
    assert (t.id, t.answerable, t.answers, t.evidence, t.kind) == ("7:removed", False, [], ["arcd-a0003-p002"],
                                                                   "arcd-removed")
    sibling = replace(q, id="8", article="arcd-a0003-p005")
    assert split_of(q) == split_of(sibling) in ("fit", "heldout")
    assert leaks(["13 أكتوبر 1958"], ["ولد في 13 أكتوبر 1958."]) and not leaks(["1958"], ["ولد عام 1960"])


def test_the_fitted_gate_leaves_cross_lingual_questions_to_the_pipeline():
    weak = _signals(top_dense=0.78, best_cos=0.78, top_cos=0.78, coverage=0.0, max_coverage=0.0)
    assert not answerable.answerable(weak)  # same language: too weak, refused
    assert answerable.answerable(replace(weak, same_lang=0.0))  # fitted on Arabic only: not judged


def test_fitting_rows_are_collected_once_and_then_read_from_the_cache(tmp_path):
    from rag.evaluation.unanswerable import cached_rows

    calls = []

    def collect():
        calls.append(1)
        return {"passages": 3, "rows": [{"id": "q1", "y": 1}]}

    cache = tmp_path / "rows.json"
    assert cached_rows(cache, collect) == cached_rows(cache, collect) == {"passages": 3, "rows": [{"id": "q1", "y": 1}]}
    assert len(calls) == 1 and cache.exists()
    assert cached_rows(None, collect)["passages"] == 3 and len(calls) == 2  # no cache: always collected
