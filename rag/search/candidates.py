"""Search over a store that answers candidate queries itself (Milvus), with the same scoring as `Retriever`.

The FAISS `Retriever` holds every score in memory; a store built for archives past one machine cannot, so it
answers narrower questions (`CandidateStore`): the top passages by vector, by best sentence and by BM25, and
exact scores for a given candidate set. Combining them is the same pure arithmetic (`rag.search.fusion`):
dense = mean of passage and best-sentence cosine, z-score fusion, BM25 voting only in the question's language.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rag.embedding.embedders import Embedder
from rag.errors import QueryError
from rag.search import fusion
from rag.search.retrieval import POOL, checked_search
from rag.text import arabic
from rag.types import Hit, Passage


class CandidateStore(Protocol):
    """What `StoreRetriever` needs from a store. Ids are the store's int64 passage ids; arrays are aligned."""

    model_id: str
    size: int

    def dense_top(self, q: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]: ...  # (ids, cosines)
    def sentence_top(self, q: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]: ...  # (ids, best sentence cos)
    def passage_cos(self, q: np.ndarray, ids: np.ndarray) -> np.ndarray: ...
    def best_sentence_cos(self, q: np.ndarray, ids: np.ndarray) -> np.ndarray: ...
    def bm25_top(self, question: str, n: int, lang: str | None = None) -> tuple[np.ndarray, np.ndarray]: ...
    def bm25_for(self, question: str, ids: np.ndarray) -> np.ndarray: ...
    def langs(self, ids: np.ndarray) -> np.ndarray: ...
    def get_passages(self, ids: Sequence[int]) -> list[Passage]: ...
    def pinned(self) -> "CandidateStore": ...  # the same store fixed to the version it shows now


@dataclass
class StoreRetriever:
    """`Retriever`'s interface (`search`, `embed`, `size`, `index`, `embedder`, `dense_weight`) over a store."""

    index: CandidateStore
    embedder: Embedder
    dense_weight: float
    embed_query: Callable[[str], np.ndarray] | None = None

    def __post_init__(self) -> None:
        if self.index.model_id != self.embedder.model_id:
            raise ValueError(f"index built with {self.index.model_id}, embedder is {self.embedder.model_id}")

    @property
    def size(self) -> int:
        return self.index.size

    def embed(self, question: str) -> np.ndarray:
        if self.embed_query is not None:
            return self.embed_query(question)
        return self.embedder.embed_queries([question])

    def dense_scores(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by dense score; candidates from the passage vectors and from the best sentences, as `Retriever`."""
        n = max(k, POOL)
        by_passage, p_cos = self.index.dense_top(q, n)
        by_sentence, s_cos = self.index.sentence_top(q, n)
        cand = fusion.candidates(by_passage, by_sentence)
        dense = self._dense_for(cand, q, dict(zip(by_passage.tolist(), p_cos)), dict(zip(by_sentence.tolist(), s_cos)))
        order = fusion.top(dense, k)
        return cand[order], dense[order]

    def _dense_for(self, ids: np.ndarray, q: np.ndarray, p_known: dict | None = None,
                   s_known: dict | None = None) -> np.ndarray:
        # Scores the searches already returned are reused; the rest are computed exactly from stored vectors.
        return fusion.dense_score(_fill(ids, p_known or {}, lambda m: self.index.passage_cos(q, m)),
                                  _fill(ids, s_known or {}, lambda m: self.index.best_sentence_cos(q, m)))

    def search(self, question: str, k: int = 5, method: str = "fused", lang: str | None = None,
               filters=None) -> list[Hit]:
        if filters:
            raise QueryError("date and outlet filters need the FAISS index (SANAD_STORE=faiss)")
        question = checked_search(question, method)
        if self.size == 0:
            return []
        k = max(1, min(k, self.size))
        return _Pinned(self.index.pinned(), self.embedder, self.dense_weight, self.embed_query)._search(
            question, k, method, lang)

    def _search(self, question: str, k: int, method: str, lang: str | None) -> list[Hit]:
        if method == "dense":
            ids, scores = self.dense_scores(self.embed(question)[0], k)
            return self._hits(ids, scores, dense=scores)
        if method == "bm25":
            ids, scores = self.index.bm25_top(question, k)
            return self._hits(ids, scores, bm25=scores)
        return self._fused(question, k, lang)

    def _fused(self, question: str, k: int, lang: str | None) -> list[Hit]:
        lang = lang or arabic.language_or(question)
        q = self.embed(question)[0]
        dense_ids, _ = self.dense_scores(q, POOL)
        bm_ids, bm_scores = self.index.bm25_top(question, POOL, lang)  # BM25 votes only in the question's language
        cand = fusion.candidates(dense_ids, bm_ids)
        dense = self._dense_for(cand, q)
        bm = _fill(cand, dict(zip(bm_ids.tolist(), bm_scores)), lambda m: self.index.bm25_for(question, m))
        same_lang = self.index.langs(cand) == lang
        ranked = fusion.fuse(cand, dense, bm, same_lang, self.dense_weight)[:k]
        ids = np.array([i for i, _ in ranked], np.int64)
        pos = {c: j for j, c in enumerate(cand.tolist())}
        scores = np.array([s for _, s in ranked], np.float64)
        at = [pos[i] for i in ids.tolist()]
        return self._hits(ids, scores, dense=dense[at], bm25=bm[at])

    def _hits(self, ids: np.ndarray, scores: np.ndarray, dense: np.ndarray | None = None,
              bm25: np.ndarray | None = None) -> list[Hit]:
        passages = self.index.get_passages(ids.tolist())
        return [Hit(p, float(scores[r]), dense=None if dense is None else float(dense[r]),
                    bm25=None if bm25 is None else float(bm25[r]), rank=r + 1) for r, p in enumerate(passages)]


class _Pinned(StoreRetriever):
    def __post_init__(self) -> None:  # checked by the retriever that made it
        pass


def _fill(ids: np.ndarray, known: dict, compute: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Scores for `ids`: those in `known`, the rest from one `compute` call over the missing ids."""
    out = np.zeros(len(ids), np.float32)
    missing = []
    for j, i in enumerate(ids.tolist()):
        if i in known:
            out[j] = known[i]
        else:
            missing.append(j)
    if missing:
        out[missing] = compute(ids[missing])
    return out
