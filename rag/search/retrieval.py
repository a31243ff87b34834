"""Dense (FAISS), keyword (Arabic BM25) and fused search over an index, returning typed `Hit`s.

This module gathers scores from the model and the index; how they combine (sentence max-pooling, the dense
score, BM25's language rule, z-score fusion) is pure arithmetic in `rag.search.fusion`.
"""
from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from rag.answering.evidence import SentenceVectors
from rag.embedding.embedders import Embedder
from rag.errors import QueryError
from rag.query import Filters, wants_recent
from rag.search import fusion, lexicon, transliterate
from rag.storage.ann import SentenceCandidates, sentence_starts
from rag.storage.index import Index
from rag.text import arabic, exonyms
from rag.types import Hit, Passage

METHODS = ("dense", "bm25", "fused")
POOL = 100  # candidates taken from each method before fusion
FILTERED_POOL = 4  # a filtered search takes this many times more FAISS candidates before masking
FOLD_DEPTH = 3  # same-story folding looks at k × this many ranked passages
WORD_CACHE = 50_000  # English words whose translation is kept (cleared when full)


def checked_search(question: str, method: str) -> str:
    """The question, trimmed, for a search by `method`; QueryError for an unknown method or an empty question.
    (Its length was checked where it entered: a rewritten follow-up may join two questions.)"""
    if method not in METHODS:
        raise QueryError(f"unknown search method {method!r}; use one of {', '.join(METHODS)}")
    question = question.strip()
    if not question:
        raise QueryError("the question is empty")
    return question


@dataclass
class Retriever:
    """Search over one index. `dense_weight` has no default of its own: pass `Settings.dense_weight`.
    Questions are checked where they enter (`rag.query`), not here: a follow-up rewrite may join two.
    `embed_query` is the owner's (cached) question embedder; `sentences` gets the index's sentence vectors."""

    index: Index
    embedder: Embedder
    dense_weight: float
    embed_query: Callable[[str], np.ndarray] | None = None  # (1, dim); default: the embedder, uncached
    sentences: SentenceVectors | None = None

    def __post_init__(self) -> None:
        if self.index.model_id != self.embedder.model_id:
            raise ValueError(f"index built with {self.index.model_id}, embedder is {self.embedder.model_id}")
        cat = self.index.catalog
        self.langs = cat.langs
        owners = np.asarray(self.index.sentence_rows[:, 0]) if len(self.index.sentence_rows) else np.zeros(0, np.int64)
        self._sentence_starts = np.searchsorted(owners, np.arange(self.size))  # each passage's first sentence
        # An archive-size index: candidate passages come from the sentence ANN, scored exactly (no full scan).
        self._sentence_ann = None if self.index.sentence_ann is None else SentenceCandidates(
            self.index.sentence_ann, self.index.sentence_vectors, owners, sentence_starts(owners, self.size))
        # Article metadata per passage (passages store none of it): outlet, ISO date, day number.
        self.outlets = cat.outlets
        self.dates = cat.passage_dates()
        self.days = cat.per_passage(np.array([_day(d) for d in cat.article_dates.tolist()], np.int64), -1)
        self._translations: dict[str, tuple[str, float]] = {}  # English word → (stem, similarity): embedded once
        if self.sentences is not None:
            self.sentences.attach(self.index.sentence_rows, self.index.sentence_vectors, cat.passage_ids.tolist())

    @property
    def size(self) -> int:
        return len(self.index.catalog.passage_ids)

    # -- single methods: (ids, scores), best first

    def embed(self, question: str) -> np.ndarray:
        """The question's vector, (1, dim)."""
        if self.embed_query is not None:
            return self.embed_query(question)
        return self.embedder.embed_queries([question])

    def mask(self, filters: Filters | None) -> np.ndarray | None:
        """One bool per passage: its article passes the filters. None when nothing is filtered."""
        if not filters:
            return None
        m = np.ones(self.size, bool)
        if filters.outlets:
            m &= np.isin(self.outlets, list(filters.outlets))
        if filters.date_from or filters.date_to:
            m &= self.days >= 0
            m &= np.array([(not filters.date_from or d >= filters.date_from) and
                           (not filters.date_to or d <= filters.date_to) for d in self.dates], bool)
        return m

    def dense_scores(self, q: np.ndarray, k: int, best_sentence: np.ndarray | None = None,
                     mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k passages by dense score: the mean of the passage's cosine and its best sentence's cosine.

        The sentence term finds the one sentence that answers (ARCD train dense MRR@10 0.783 → 0.807);
        candidates come from both the FAISS passage index and the sentence scores.
        """
        n = max(k, POOL)
        _, ids = self.index.faiss_index.search(q, min(n * (FILTERED_POOL if mask is not None else 1), self.size),
                                               params=_allowed(self.index.faiss_index, mask))
        if best_sentence is None:
            best_sentence = self._best_sentence(q)
        if isinstance(best_sentence, LazyBestSentence):
            by_sentence = best_sentence.top(n, mask)
        else:
            # Sentence candidates are exact over the allowed passages: a narrow filter still finds its best ones.
            by_sentence = fusion.top(best_sentence if mask is None else np.where(mask, best_sentence, -np.inf), n)
        cand = fusion.candidates(ids[0][ids[0] >= 0], by_sentence, mask=mask)
        scores = self._dense_for(cand, q, best_sentence)
        order = fusion.top(scores, k)
        return cand[order], scores[order]

    def _best_sentence(self, q: np.ndarray) -> np.ndarray | LazyBestSentence:
        """Each passage's best sentence cosine: a full scan below SANAD_EXACT_MAX passages; above it, computed
        on demand for the passages asked for (the same exact values, from the stored sentence vectors)."""
        if self._sentence_ann is not None:
            return LazyBestSentence(self._sentence_ann, q[0])
        return fusion.best_sentence(self.index.sentence_vectors @ q[0], self._sentence_starts, self.size)

    def bm25_all(self, question: str) -> np.ndarray:
        toks = arabic.analyze(question)
        scores = self.index.bm25.get_scores(toks) if toks else np.zeros(self.size)
        return np.asarray(scores, dtype=np.float32)

    def _dense_for(self, ids: np.ndarray, q: np.ndarray, best_sentence: np.ndarray) -> np.ndarray:
        vecs = self.index.faiss_index.reconstruct_batch(ids)
        return fusion.dense_score(vecs @ q[0], best_sentence[ids])

    # -- public

    def _hit(self, i: int, score: float, rank: int, passage: Passage | None = None, **scores) -> Hit:
        """Hit for passage row i (`passage`: the record, when the caller already read it)."""
        return Hit(passage or self.index.passages[i], float(score), rank=rank, outlet=str(self.outlets[i]),
                   date=str(self.dates[i]), url=self.index.catalog.url(i), **scores)

    def search(self, question: str, k: int = 5, method: str = "fused", lang: str | None = None,
               filters: Filters | None = None) -> list[Hit]:
        question = checked_search(question, method)
        if self.size == 0:
            return []
        k = max(1, min(k, self.size))
        mask = self.mask(filters)
        if mask is not None and not mask.any():
            return []
        if method == "dense":
            ids, scores = self.dense_scores(self.embed(question), k, mask=mask)
            return [self._hit(i, s, r + 1, dense=float(s)) for r, (i, s) in enumerate(zip(ids, scores))]
        bm = self.bm25_all(question)
        if method == "bm25":
            ids = fusion.top(bm if mask is None else np.where(mask, bm, -np.inf), k)
            ids = ids if mask is None else ids[mask[ids]]
            return [self._hit(i, bm[i], r + 1, bm25=float(bm[i])) for r, i in enumerate(ids)]
        return self._fused(question, bm, k, lang, mask)

    def _fused(self, question: str, bm: np.ndarray, k: int, lang: str | None,
               mask: np.ndarray | None = None) -> list[Hit]:
        lang = lang or arabic.language_or(question)
        q = self.embed(question)
        best_sentence = self._best_sentence(q)
        dense_ids, _ = self.dense_scores(q, POOL, best_sentence, mask)
        same_lang = self.langs == lang
        if fusion.cross_language(same_lang[dense_ids]):
            # Mostly another language than the question's: its own words' BM25 pools none and votes for none;
            # its words translated through the lexicon do both, and what both languages write alike (Latin names,
            # digits) may vote a little.
            translated, names = self._bm25_translated(question)
            other_lang = ~same_lang if mask is None else ~same_lang & mask
            pool = fusion.bm25_pool(translated, other_lang, fusion.TRANSLATED_POOL) if translated is not None \
                else np.zeros(0, np.int64)
            cand = fusion.candidates(dense_ids, pool, mask=mask)
            eligible = np.zeros(len(cand), bool)
            vote = fusion.shared_vote(self._bm25_shared(question, bm)[cand])
            if translated is not None:
                vote = vote + fusion.translated_vote(translated[cand])
            if names is not None:  # the names again, alone: the most specific words a news question has
                vote = vote + fusion.translated_vote(names[cand], fusion.NAMES_WEIGHT)
        else:
            cand = fusion.candidates(dense_ids, fusion.bm25_pool(bm, same_lang if mask is None else same_lang & mask,
                                                                 POOL), mask=mask)
            eligible, vote = same_lang[cand], np.zeros(len(cand))
        dense = self._dense_for(cand, q, best_sentence)
        bonus = vote + (fusion.recency_bonus(self.days[cand]) if wants_recent(question) else 0.0)
        ranked = fusion.fuse(cand, dense, bm[cand], eligible, self.dense_weight, bonus)[:k * FOLD_DEPTH]
        dense_of = dict(zip(cand.tolist(), dense.tolist()))
        # The same story from several outlets shows once, "also reported by" the others.
        # Grouped by outlet: one outlet's near-identical articles (ARCD's Wikipedia revisions, a site's updates)
        # are each shown; folding them hid the asked one (ARCD fused MRR@10 0.857 → 0.839, English below dense).
        records = {i: self.index.passages[i] for i, _ in ranked}  # read once each (on demand in an archive)
        into = fusion.fold_same_story([records[i].text for i, _ in ranked],
                                      [self.outlets[i] or records[i].article_id for i, _ in ranked])
        also: dict[int, list[str]] = {}
        for j, t in enumerate(into):
            outlet = self.outlets[ranked[t][0]]
            other = self.outlets[ranked[j][0]]
            if t != j and other and other != outlet and other not in also.setdefault(t, []):
                also[t].append(other)
        kept = [j for j, t in enumerate(into) if t == j][:k]
        return [self._hit(ranked[j][0], ranked[j][1], r + 1, records[ranked[j][0]], dense=dense_of[ranked[j][0]],
                          bm25=float(bm[ranked[j][0]]), also=tuple(also.get(j, ())))
                for r, j in enumerate(kept)]

    def _bm25_translated(self, question: str) -> tuple[np.ndarray | None, np.ndarray | None]:
        """BM25 by the question's Latin-script words translated through the index's lexicon, and by its names
        alone (see `translation`); each None when there is nothing to score (no lexicon, or no word found)."""
        terms, names = self.translation(question)
        return (np.asarray(self.index.bm25.get_scores(terms), np.float32) if terms else None,
                np.asarray(self.index.bm25.get_scores(names), np.float32) if names else None)

    def translated_terms(self, question: str) -> list[str]:
        """The BM25 stems of the Arabic words the question's Latin-script words translate to (see `translation`)."""
        return self.translation(question)[0]

    def translation(self, question: str) -> tuple[list[str], list[str]]:
        """(terms, names): the BM25 stems of the Arabic words the question's Latin-script words translate to (for
        a name, its Arabic in the exonym table, else the lexicon's confident translation, else the words that
        spell it), and those of its names that are sure (the table's, and rare names' spellings). ([], []) without
        a lexicon or with nothing found."""
        lex = self.index.lexicon
        words = lexicon.translatable_words(question) if lex is not None and len(lex) else []
        if not words:
            return [], []
        found = {w: lex.known.get(w) or self._translations.get(w) for w in dict.fromkeys(words)}
        todo = [w for w, f in found.items() if f is None]
        if todo:
            found.update(zip(todo, lexicon.nearest(self.embedder.embed_queries(todo), lex)))
            if len(self._translations) > WORD_CACHE:  # (another thread may clear it too: `found` is this call's)
                self._translations.clear()
            self._translations.update((w, found[w]) for w in todo)
        # A name English writes otherwise (Jordan / الأردن) takes the table's Arabic (rag/text/exonyms.py). A rare
        # name (no whole word of the embedder's vocabulary) is looked up by its spelling first: the embedding
        # "confidently" put Ittihad on عتيد, Sahir on سرير, Giroud on جيرارد. Any other name is spelled only when the
        # embedding does not place it (Jeddah → جدة): spelling first for every capitalised word (Cup → كوب, House →
        # هوس) was worse. English R@5 / MRR@10, ARCD train (169): 0.947 / 0.796 → spelling 0.959 / 0.814 →
        # exonyms 0.959 / 0.813 → rare names spelled first 0.959 / 0.810; news gold over the archive (79): 0.772 /
        # 0.588 → 0.772 / 0.595 → 0.772 / 0.608 → 0.785 / 0.617. Seed gold: 0.962 / 0.854 → 0.962 / 0.843 (all).
        # The sure names also vote alone (fusion.NAMES_WEIGHT).
        terms, names = [], []
        for i, w in enumerate(words):
            name = transliterate.is_name(w)
            forms = name and (exonyms.arabic_forms(" ".join(words[i:i + 2])) or exonyms.arabic_forms(w))
            sure = [t for form in forms for t in arabic.analyze(form)] if forms else []
            spelled = lex.spelled(w) if name and not sure else []  # (an exonym needs no spelling)
            if not forms and spelled and self._whole_words and w not in self._whole_words:
                sure = spelled
            names += sure
            terms += sure or lexicon.confident_stems([found[w]]) or spelled
        return list(dict.fromkeys(terms)), list(dict.fromkeys(names))

    @cached_property
    def _whole_words(self) -> Collection[str]:
        """The Latin whole words of the embedder's vocabulary (empty without one): a name that is none of them is
        rare, and its spelling says more than its embedding. An archive's lexicon has translated them all already
        (its `known`), which spares a cold start the scan of the tokenizer's 250k pieces."""
        lex = self.index.lexicon
        return lex.known.keys() if lex is not None and lex.known else frozenset(lexicon.tokenizer_words(self.embedder))

    def _bm25_shared(self, question: str, bm: np.ndarray) -> np.ndarray:
        """BM25 by the question's shared tokens only (Latin names, digits); `bm` itself when those are all."""
        toks = arabic.analyze(question)
        shared = fusion.shared_tokens(toks)
        if len(shared) == len(toks):
            return bm
        return np.asarray(self.index.bm25.get_scores(shared), np.float32) if shared else np.zeros_like(bm)


class LazyBestSentence:
    """Best-sentence cosines of an archive-size index, computed exactly for the passages indexed (`bs[ids]`),
    each once per query; `top` finds candidate passages through the sentence ANN."""

    def __init__(self, ann: SentenceCandidates, q: np.ndarray) -> None:
        self.ann, self.q = ann, np.asarray(q, np.float32)
        self._known = np.full(ann.size, np.nan, np.float32)

    def top(self, n: int, mask: np.ndarray | None = None) -> np.ndarray:
        ids, scores = self.ann.top(self.q, n, mask)
        self._known[ids] = scores
        return ids

    def __getitem__(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, np.int64)
        todo = ids[np.isnan(self._known[ids])]
        if len(todo):
            todo = np.unique(todo)
            self._known[todo] = self.ann.exact(todo, self.q)
        return self._known[ids]


def _allowed(fidx, mask: np.ndarray | None):
    """Search parameters restricting an HNSW search to the filter's passages (a flat search is masked after)."""
    import faiss

    if mask is None or not isinstance(fidx, faiss.IndexHNSW):
        return None
    bits = np.packbits(mask, bitorder="little")
    sel = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
    params = faiss.SearchParametersHNSW(sel=sel, efSearch=fidx.hnsw.efSearch)
    params._keep = (sel, bits)  # SWIG holds raw pointers: the selector and its buffer live as long as params
    return params


def _day(iso: str) -> int:
    """Days since year 1 of an ISO date; -1 for none."""
    from datetime import date

    return date.fromisoformat(iso).toordinal() if iso else -1


def _langchain_retriever() -> type:
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever

    class SanadRetriever(BaseRetriever):
        """The fused retriever as a LangChain `BaseRetriever` (documents carry every score in metadata)."""

        retriever: Any  # a Retriever; typed loosely so pydantic does not inspect the dataclass
        k: int = 5
        method: str = "fused"

        model_config = {"arbitrary_types_allowed": True}

        def _get_relevant_documents(self, query: str, *,
                                    run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
            hits = self.retriever.search(query, self.k, self.method)
            return [Document(page_content=h.passage.text, id=h.passage.id,
                             metadata={"passage_id": h.passage.id, "title": h.passage.title, "score": h.score,
                                       "dense": h.dense, "bm25": h.bm25, "rank": h.rank,
                                       "article_id": h.passage.article_id, "source": h.passage.source})
                    for h in hits]

    return SanadRetriever


def __getattr__(name: str):
    # LangChain (~0.5 s of imports) loads only for whoever uses the LangChain retriever, not for every search.
    if name == "SanadRetriever":
        globals()[name] = cls = _langchain_retriever()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
