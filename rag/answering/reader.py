"""The embedding model read as a span reader: which words of a candidate sentence answer the question.

No QA model exists offline, but the e5 encoder, run over "query: <question> passage: <sentence>" together,
gives every word of the sentence a state that has seen the question. Two linear heads over [state, state ×
question state] score each word as the start and as the end of the answer; a window's score adds them to the
span cues of `span.py` (weights fitted jointly). Fitted on ARCD train's answer spans, Arabic questions and their
English translations (`scripts/fit_reader.py`; the seed gold set is never used). Held-out span F1 given the
answer sentence (5 folds by article): Arabic 0.427 → 0.432, English 0.376 → 0.445; end to end on ARCD (the
same folds), short-answer F1 Arabic 0.310 → 0.328, English 0.238 → 0.300.

Used only with an embedder that exposes its token states (the ONNX engine, the default); others keep the span
cues alone. Pure functions but `word_scores`, which runs the embedder once over a question's candidates.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.answering import span as spans

READER_FILE = Path(__file__).with_name("reader.json")
QUERY, PASSAGE = "query: ", " passage: "


@dataclass(frozen=True)
class Reader:
    start: np.ndarray  # (2·dim,) over [word state, word state × question state]
    end: np.ndarray
    window: np.ndarray  # the span cues' weights, fitted with the heads (len(span.FEATURES))
    model_id: str  # the embedder whose states the heads read


WordScores = tuple[np.ndarray, np.ndarray]  # per word of span.tokenize(sentence): start and end scores


def save(reader: Reader, path: Path = READER_FILE) -> None:
    path.write_text(json.dumps({"model_id": reader.model_id, "features": list(spans.FEATURES),
                                "start": np.round(reader.start, 5).tolist(), "end": np.round(reader.end, 5).tolist(),
                                "window": np.round(reader.window, 5).tolist()}) + "\n", encoding="utf-8")


@functools.cache
def load(path: Path = READER_FILE) -> Reader | None:
    """The fitted reader, or None when absent or fitted on other span cues than today's."""
    if not path.is_file():
        return None
    d = json.loads(path.read_text(encoding="utf-8"))
    if d.get("features") != list(spans.FEATURES):
        return None
    return Reader(np.asarray(d["start"], np.float32), np.asarray(d["end"], np.float32),
                  np.asarray(d["window"], np.float32), d["model_id"])


def word_states(offsets: np.ndarray, states: np.ndarray, shift: int, words: Sequence[tuple[int, int]]
                ) -> tuple[np.ndarray, np.ndarray]:
    """The question's state (mean of its tokens, before `shift`) and each word's (mean of the tokens inside its
    character span, shifted by `shift`; zeros for a word no token covers) from one pass's token states."""
    real = offsets[:, 1] > offsets[:, 0]
    in_q = real & (offsets[:, 1] <= shift)
    q = states[in_q].mean(0) if in_q.any() else states.mean(0)
    out = np.zeros((len(words), states.shape[1]), np.float32)
    for k, (s, e) in enumerate(words):
        inside = real & (offsets[:, 0] < e + shift) & (offsets[:, 1] > s + shift)
        if inside.any():
            out[k] = states[inside].mean(0)
    return q, out


def heads(reader: Reader, q: np.ndarray, words: np.ndarray) -> WordScores:
    phi = np.concatenate([words, words * q], axis=1)
    return phi @ reader.start, phi @ reader.end


def window_scores(reader: Reader, x: np.ndarray, wins: Sequence[tuple[int, int]], scores: WordScores) -> np.ndarray:
    """Each window's score: its span cues (x) by the reader's weights plus its first word's start score and its
    last word's end score."""
    w = np.asarray(wins)
    start, end = scores
    return (x @ reader.window + start[w[:, 0]] + end[w[:, 1] - 1]).astype(np.float64)


def word_scores(embedder, question: str, sentences: list[str]) -> list[WordScores] | None:
    """Start/end scores for the words of each sentence, from one pass of the embedder over the question with
    each sentence; None when no reader is fitted for this embedder or it does not expose token states."""
    reader = load()
    token_states: Callable | None = getattr(embedder, "token_states", None)
    if reader is None or token_states is None or reader.model_id != embedder.model_id or not sentences:
        return None
    head = QUERY + question + PASSAGE
    out = []
    for sentence, (offsets, states) in zip(sentences, token_states([head + s for s in sentences])):
        words = [(t.start, t.end) for t in spans.tokenize(sentence)]
        q, w = word_states(offsets, states, len(head), words)
        out.append(heads(reader, q, w))
    return out
