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
    r = readers.Reader(np.ones(4, np.float32), np.zeros(4, np.float32), np.full(n, 0.5, np.float32), "abc")
    path = tmp_path / "reader.json"
    readers.save(r, path)
    back = readers.load(path)
    assert back.base == "abc" and back.window.tolist() == [0.5] * n and back.start.tolist() == [1.0] * 4
    stale = tmp_path / "stale.json"
    stale.write_text(path.read_text().replace('"len<=1"', '"len<=0"'))  # fitted on other span cues
    assert readers.load(stale) is None and readers.load(tmp_path / "none.json") is None


def test_no_reading_without_an_encoder_and_no_encoder_for_other_e5_weights(tmp_path):
    assert readers.word_scores(None, "من؟", ["جملة"]) is None
    other = tmp_path / "multilingual-e5-small"  # a converted e5 folder whose weights are not the fitted ones
    other.mkdir()
    (other / "sanad_source.json").write_text('{"sha256": "0000"}')
    assert readers.encoder(tmp_path) is None
    assert not any(p.name.startswith("multilingual-e5-small-") for p in tmp_path.iterdir())  # nothing built


def test_the_shipped_reader_matches_todays_span_cues_and_its_adapter_pairs_up():
    r = readers.load()
    assert r is not None, "rag/answering/reader.json is missing or stale: run scripts/fit_reader.py --write"
    assert r.window.shape == (len(span.FEATURES),) and r.start.shape == r.end.shape and r.start.shape[0] % 2 == 0
    with np.load(readers.ADAPTER_FILE) as pairs:
        names = {k.rsplit(".", 1)[0] for k in pairs.files}
        assert names and all(n.startswith("encoder.layer.") and n.endswith(".weight") for n in names)
        for n in names:  # b @ a has the weight's shape: (out, rank) @ (rank, in)
            assert pairs[n + ".b"].shape[1] == pairs[n + ".a"].shape[0] < min(pairs[n + ".a"].shape[1], 64)


def test_the_adapter_merges_into_a_folder_of_its_own_and_leaves_the_base_as_it_was(tmp_path):
    import json

    from safetensors.numpy import load_file, save_file

    from rag.embedding.e5 import E5_FOLDER, ensure_adapted_folder

    base = tmp_path / E5_FOLDER  # a stand-in for the converted e5 folder: one weight, a tokenizer, its source
    (base / "1_Pooling").mkdir(parents=True)
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    save_file({"encoder.layer.0.output.dense.weight": w, "pooler.bias": np.ones(2, np.float32)},
              str(base / "model.safetensors"))
    (base / "tokenizer.json").write_text("{}")
    (base / "1_Pooling" / "config.json").write_text("{}")
    (base / "sanad_source.json").write_text(json.dumps({"sha256": "base"}))
    a, b = np.ones((1, 3), np.float16), np.array([[1.0], [2.0]], np.float16)
    np.savez(tmp_path / "adapter.npz", **{"encoder.layer.0.output.dense.weight.a": a,
                                          "encoder.layer.0.output.dense.weight.b": b})
    folder = ensure_adapted_folder(tmp_path, tmp_path / "adapter.npz")
    merged = load_file(str(folder / "model.safetensors"))
    assert np.allclose(merged["encoder.layer.0.output.dense.weight"], w + b.astype(np.float32) @ a)
    assert merged["pooler.bias"].tolist() == [1.0, 1.0]
    assert (folder / "tokenizer.json").is_file() and (folder / "1_Pooling" / "config.json").is_file()
    source = json.loads((folder / "sanad_source.json").read_text())
    assert source["sha256"] != "base" and source["adapter"] == "adapter.npz"  # its ONNX files are its own
    assert np.array_equal(load_file(str(base / "model.safetensors"))["encoder.layer.0.output.dense.weight"], w)
    assert ensure_adapted_folder(tmp_path, tmp_path / "adapter.npz") == folder  # built once
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".e5-")]  # no build left aside


def test_cover_prefers_the_window_that_holds_the_answer_the_model_hesitates_over():
    # The model splits its belief between words 1–2 and words 1–3; by expected F1 alone the shorter wins (it
    # overlaps both), valuing "holds the whole answer" moves to the window holding both.
    wins = [(1, 3), (1, 4), (5, 6)]
    scores = np.array([1.0, 0.9, -5.0])
    assert span.best_window_f1(wins, scores)[0] == 0
    b, expected = span.best_window_f1(wins, scores, cover=4.0)
    assert b == 1 and 0 < expected < 1  # the confidence stays the window's expected F1


def test_a_reader_that_cannot_be_built_leaves_answers_to_the_span_cues(tmp_path, monkeypatch):
    from rag.sanad import Sanad
    from rag.settings import Settings

    calls = []

    def broken(models_dir):
        calls.append(models_dir)
        raise OSError("No space left on device")

    monkeypatch.setattr(readers, "encoder", broken)
    sanad = Sanad(Settings(home=tmp_path, index_dir=tmp_path / "index"))
    assert sanad.reader() is None and sanad.reader() is None
    assert len(calls) == 1  # not retried on every question
    assert Sanad(Settings(home=tmp_path, reader="off")).reader() is None
