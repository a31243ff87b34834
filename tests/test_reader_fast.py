"""The span reader's arithmetic (rag/answering/reader.py), without the model."""
from __future__ import annotations

import numpy as np
import pytest

from rag.answering import reader as readers
from rag.answering import span

pytestmark = pytest.mark.fast


def test_word_states_average_the_tokens_inside_each_word_and_the_question_before_the_shift():
    # tokens: <s>(0,0) q1(0,2) q2(3,5) s1(6,9) s2(9,11) s3(12,15)
    offsets = np.array([[0, 0], [0, 2], [3, 5], [6, 9], [9, 11], [12, 15]])
    states = np.arange(12, dtype=np.float32).reshape(6, 2)
    q, w = readers.word_states(offsets, states, shift=6, words=[(0, 5), (6, 9), (20, 22)])
    assert q.tolist() == [3.0, 4.0]  # mean of q1 and q2, the special token left out
    assert w[0].tolist() == [7.0, 8.0]  # s1 and s2 lie in the first word (6..11 after the shift)
    assert w[1].tolist() == [10.0, 11.0]
    assert w[2].tolist() == [0.0, 0.0]  # a word no token covers


def test_a_window_scores_its_cues_plus_its_first_words_start_and_last_words_end():
    r = readers.Reader(np.zeros(4, np.float32), np.zeros(4, np.float32), np.array([1.0, -1.0], np.float32), "m")
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    start, end = np.array([0.0, 5.0, 0.0]), np.array([0.0, 0.0, 2.0])
    scores = readers.window_scores(r, x, [(0, 1), (1, 3), (0, 3)], (start, end))
    assert scores.tolist() == [1.0 + 0 + 0, -1.0 + 5 + 2, 0.0 + 0 + 2]


def test_the_heads_read_the_words_state_and_its_product_with_the_question():
    r = readers.Reader(np.array([1, 0, 0, 1], np.float32), np.array([0, 1, 1, 0], np.float32), np.zeros(1), "m")
    q = np.array([2.0, 3.0], np.float32)
    start, end = readers.heads(r, q, np.array([[1.0, 1.0]], np.float32))
    assert start.tolist() == [1.0 + 3.0] and end.tolist() == [1.0 + 2.0]


def test_saved_weights_load_back_and_a_stale_or_missing_file_is_no_reader(tmp_path):
    n = len(span.FEATURES)
    r = readers.Reader(np.ones(4, np.float32), np.zeros(4, np.float32), np.full(n, 0.5, np.float32), "e5@abc")
    path = tmp_path / "reader.json"
    readers.save(r, path)
    back = readers.load(path)
    assert back.model_id == "e5@abc" and back.window.tolist() == [0.5] * n and back.start.tolist() == [1.0] * 4
    stale = tmp_path / "stale.json"
    stale.write_text(path.read_text().replace('"len<=1"', '"len<=0"'))  # fitted on other span cues
    assert readers.load(stale) is None and readers.load(tmp_path / "none.json") is None


def test_no_reading_without_token_states_or_for_another_model():
    class NoStates:
        model_id = "x"

    assert readers.word_scores(NoStates(), "من؟", ["جملة"]) is None
    if readers.load() is not None:  # the shipped weights read only the model they were fitted on
        class States:
            model_id = "another-model"

            def token_states(self, texts):
                raise AssertionError("must not run for another model")

        assert readers.word_scores(States(), "من؟", ["جملة"]) is None


def test_the_shipped_reader_matches_todays_span_cues():
    r = readers.load()
    assert r is not None, "rag/answering/reader.json is missing or stale: run scripts/fit_reader.py --write"
    assert r.window.shape == (len(span.FEATURES),) and r.start.shape == r.end.shape and r.start.shape[0] % 2 == 0
