"""How the extractive backend weighs a question's words when it ranks candidate sentences. No model."""
from __future__ import annotations

import pytest

from rag.answering.extractive import _coverage, _local_coverage
from rag.text import arabic

pytestmark = pytest.mark.fast


def test_a_word_only_one_candidate_shares_outweighs_the_topic_every_candidate_repeats():
    question = set(arabic.analyze("في أي عام توفي صلاح الدين الأيوبي؟"))
    sentences = ["قاد صلاح الدين الأيوبي عدة حملات ضد الصليبيين.",
                 "استعاد صلاح الدين الأيوبي مدينة القدس.",
                 "ولد صلاح الدين الأيوبي في تكريت.",
                 "أسس صلاح الدين الأيوبي الدولة الأيوبية.",
                 "توفي في دمشق عام 1193."]
    words = [set(arabic.analyze(s)) for s in sentences]
    plain = [_coverage(question, w) for w in words]
    weighted = _local_coverage([question] * len(words), words)
    assert plain[-1] < min(plain[:-1])  # the plain share prefers the sentences that repeat the name
    assert weighted[-1] > max(weighted[:-1])
    assert all(0.0 <= x <= 1.0 for x in weighted)


def test_no_question_words_cover_nothing():
    assert list(_local_coverage([set()], [{"كلمة"}])) == [0.0]
