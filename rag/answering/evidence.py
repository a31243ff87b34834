"""Sentence-level evidence: split passages into sentences and score how well a sentence supports a claim.

Support mixes word overlap (after Arabic normalisation and stemming) with embedding similarity, so a claim
written in English can be checked against an Arabic passage. Passage sentence vectors are cached per passage.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from rag.embedding.embedders import Embedder
from rag.ingest.chunking import sentence_spans
from rag.text.injection import is_instruction
from rag.types import Passage

# e5 cosine between a sentence and an unrelated one sits near 0.75; paraphrases reach 0.88+.
COS_FLOOR, COS_FULL = 0.80, 0.90
SUPPORTED = 0.5  # support at or above this backs a claim


@dataclass(frozen=True)
class Sentence:
    passage_index: int  # 0-based index into the shown passages
    text: str
    start: int  # offsets inside the passage text
    end: int


def passage_sentences(passages: list[Passage]) -> list[Sentence]:
    out = []
    for i, p in enumerate(passages):
        for s, e in sentence_spans(p.text):
            out.append(Sentence(i, p.text[s:e], s, e))
    return out


def evidence_sentences(passages: list[Passage]) -> tuple[list[Sentence], list[int]]:
    """The passages' sentences that may serve as evidence (text that tries to instruct the model never does),
    and their positions among all the passages' sentences (to pick their rows of the sentence vectors)."""
    pairs = [(i, s) for i, s in enumerate(passage_sentences(passages)) if not is_instruction(s.text)]
    return [s for _, s in pairs], [i for i, _ in pairs]


def lexical_support(claim_tokens: list[str], sentence_tokens: set[str]) -> float:
    """Share of the claim's content words found in the sentence."""
    if not claim_tokens:
        return 0.0
    return sum(t in sentence_tokens for t in claim_tokens) / len(claim_tokens)


def cosine_support(cos: np.ndarray) -> np.ndarray:
    return np.clip((cos - COS_FLOOR) / (COS_FULL - COS_FLOOR), 0.0, 1.0)


class SentenceVectors:
    """Passage-sentence embeddings, computed once per passage and kept in a bounded LRU cache."""

    def __init__(self, embedder: Embedder, capacity: int = 5000) -> None:
        self.embedder = embedder
        self.capacity = capacity
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        # An index's own sentence data: passage id → position, each passage's first row, rows, vectors. Sliced
        # per passage on demand, so attaching a 100k-passage archive costs one dict, not 100k memmap slices.
        self._positions: dict[str, int] = {}
        self._starts = self._rows = self._vectors = None

    def attach(self, rows: np.ndarray, vectors: np.ndarray, passage_ids: list[str]) -> None:
        """Serve sentence vectors an index already holds, instead of embedding them again."""
        self._starts = np.searchsorted(np.asarray(rows[:, 0]), np.arange(len(passage_ids) + 1))
        self._rows, self._vectors = rows, vectors
        self._positions = {pid: i for i, pid in enumerate(passage_ids)}

    def _indexed(self, passage_id: str) -> tuple[np.ndarray, np.ndarray] | None:
        i = self._positions.get(passage_id)
        if i is None:
            return None
        lo, hi = self._starts[i], self._starts[i + 1]
        return np.asarray(self._rows[lo:hi, 1:]), np.asarray(self._vectors[lo:hi], np.float32)

    def for_passage(self, passage: Passage) -> np.ndarray:
        indexed = self._indexed(passage.id)
        if indexed is not None:
            spans = np.array(sentence_spans(passage.text), dtype=np.int32).reshape(-1, 2)
            if spans.shape == indexed[0].shape and (spans == indexed[0]).all():  # not a trimmed copy
                return indexed[1]
        key = f"{passage.id}\0{hash(passage.text)}"  # a trimmed copy shares the passage's id, not its text
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        texts = [passage.text[s:e] for s, e in sentence_spans(passage.text)]
        vecs = self.embedder.embed_passages(texts) if texts else np.zeros((0, self.embedder.dim), np.float32)
        with self._lock:
            self._cache[key] = vecs
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        return vecs

    def for_passages(self, passages: list[Passage]) -> np.ndarray:
        parts = [self.for_passage(p) for p in passages]
        return np.concatenate(parts) if parts else np.zeros((0, self.embedder.dim), np.float32)
