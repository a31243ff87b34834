"""The span reader: which words of a candidate sentence answer the question.

No QA model exists offline, so one is made from e5: the encoder reads "query: <question> passage: <sentence>"
together, so every word of the sentence has a state that has seen the question. Two linear heads over [state,
state × question state] score each word as the start and as the end of the answer; a window's score adds them to
the span cues of `span.py`. Heads, cue weights and a low-rank adapter on e5's top 8 layers are fitted together on
ARCD train's answer spans, Arabic questions and their English translations (`scripts/fit_reader.py`; the seed gold
set is never used). The adapter (`reader_adapter.npz`, 1.7 MB) is merged into the bundled e5 weights once, into a
model folder of its own, and runs on ONNX Runtime like the base (`encoder`).

Held-out span F1 given the answer sentence (the articles `sanad eval answers --split heldout` holds out): Arabic
0.407 → 0.562, English 0.307 → 0.582 (span cues alone → reader); linear heads on the frozen encoder, the reader
before this one, reached 0.455 / 0.511 on another fold where the adapter reached 0.617 / 0.694.

Pure functions but `encoder` and `word_scores`, which runs the encoder once over a question's candidates.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.answering import span as spans

READER_FILE = Path(__file__).with_name("reader.json")
ADAPTER_FILE = Path(__file__).with_name("reader_adapter.npz")  # the encoder's low-rank weight changes
QUERY, PASSAGE = "query: ", " passage: "


@dataclass(frozen=True)
class Reader:
    start: np.ndarray  # (2·dim,) over [word state, word state × question state]
    end: np.ndarray
    window: np.ndarray  # the span cues' weights, fitted with the heads (len(span.FEATURES))
    base: str  # sha256 of the e5 weights the adapter was fitted on (the converted e5 folder's sanad_source.json)


WordScores = tuple[np.ndarray, np.ndarray]  # per word of span.tokenize(sentence): start and end scores


def save(reader: Reader, path: Path = READER_FILE) -> None:
    path.write_text(json.dumps({"base": reader.base, "features": list(spans.FEATURES),
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
                  np.asarray(d["window"], np.float32), d.get("base", ""))


def token_weights(offsets: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Weights over one pass's tokens that average those inside characters [lo, hi) (special tokens, whose
    offsets are empty, never count); all zero when no token lies there."""
    inside = (offsets[:, 1] > offsets[:, 0]) & (offsets[:, 0] < hi) & (offsets[:, 1] > lo)
    return (inside / max(1, inside.sum())).astype(np.float32)


def word_states(offsets: np.ndarray, states: np.ndarray, shift: int, words: Sequence[tuple[int, int]]
                ) -> tuple[np.ndarray, np.ndarray]:
    """The question's state (mean of its tokens, before `shift`) and each word's (mean of the tokens inside its
    character span, shifted by `shift`; zeros for a word no token covers) from one pass's token states."""
    q = token_weights(offsets, 0, shift) @ states
    pool = np.stack([token_weights(offsets, s + shift, e + shift) for s, e in words]) if words else np.zeros(
        (0, len(offsets)), np.float32)
    return q, (pool @ states).astype(np.float32)


def heads(reader: Reader, q: np.ndarray, words: np.ndarray) -> WordScores:
    phi = np.concatenate([words, words * q], axis=1)
    return phi @ reader.start, phi @ reader.end


def window_scores(reader: Reader, x: np.ndarray, wins: Sequence[tuple[int, int]], scores: WordScores) -> np.ndarray:
    """Each window's score: its span cues (x) by the reader's weights plus its first word's start score and its
    last word's end score."""
    w = np.asarray(wins)
    start, end = scores
    return (x @ reader.window + start[w[:, 0]] + end[w[:, 1] - 1]).astype(np.float64)


@functools.cache
def encoder(models_dir: Path, adapter: Path = ADAPTER_FILE):
    """The reader's own encoder: e5 with the fitted adapter merged in, on ONNX Runtime (built on first use, like
    the base model's ONNX file), or None when no reader is fitted for today's e5 weights."""
    from rag.embedding.e5 import ensure_adapted_folder, ensure_e5_folder
    from rag.embedding.onnx import load_onnx_embedder

    reader = load()
    if reader is None or not adapter.is_file():
        return None
    if reader.base != json.loads((ensure_e5_folder(models_dir) / "sanad_source.json").read_text())["sha256"]:
        return None  # fitted on other e5 weights: its adapter would change another model
    folder = ensure_adapted_folder(models_dir, adapter)
    sha = json.loads((folder / "sanad_source.json").read_text())["sha256"]
    return load_onnx_embedder(folder, "fp32", f"sanad-reader@{sha[:12]}", pool_sentences=False)


def word_scores(encoder, question: str, sentences: list[str]) -> list[WordScores] | None:
    """Start/end scores for the words of each sentence, from one pass of the reader's encoder (`encoder()`) over
    the question with each sentence; None without a fitted reader or encoder."""
    reader = load()
    if reader is None or encoder is None or not sentences:
        return None
    head = QUERY + question + PASSAGE
    out = []
    for sentence, (offsets, states) in zip(sentences, encoder.token_states([head + s for s in sentences])):
        words = [(t.start, t.end) for t in spans.tokenize(sentence)]
        q, w = word_states(offsets, states, len(head), words)
        out.append(heads(reader, q, w))
    return out
