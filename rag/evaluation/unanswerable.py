"""Unanswerable questions built the honest way: an ARCD question asked over its own index with its own paragraph
masked out of retrieval (same article, same topic, answer gone). One index serves every question: the mask is
applied per question instead of building an index without each paragraph."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np

from rag.evaluation.gold import GoldQuestion
from rag.evaluation.metrics import contains_answer

HELD_OUT_FOLD = 0  # articles whose hash mod FOLDS is this are held out from fitting the refusal gate
FOLDS = 5


def article_group(context_id: str) -> str:
    """ARCD context ids are `<article>-p<paragraph>`: paragraphs of one article share a topic."""
    return context_id.split("-p")[0]


def article_fold(group: str) -> int:
    """The fold (of FOLDS) of an article group, by hash: fitting scripts and evaluation agree on it."""
    return int(hashlib.sha1(group.encode()).hexdigest(), 16) % FOLDS


def split_of(q: GoldQuestion) -> str:
    """'heldout' or 'fit', by the question's article (never by question: twins of one topic stay together)."""
    return "heldout" if article_fold(article_group(q.article or q.id)) == HELD_OUT_FOLD else "fit"


def removed_twin(q: GoldQuestion) -> GoldQuestion:
    """The question asked with its own paragraph gone: unanswerable; `evidence` keeps the masked article ids."""
    return replace(q, id=f"{q.id}:removed", answerable=False, answers=[], kind=f"{q.kind}-removed",
                   evidence=sorted(q.relevant_articles or {q.article}), relevant_articles=None)


@contextmanager
def excluding(retriever, article_ids: set[str]) -> Iterator[None]:
    """Retrieval over `retriever` skips every passage of `article_ids` while inside (the FAISS retriever's
    filter mask, so the dense pool and BM25 both respect it)."""
    base = type(retriever).mask
    owners = np.array([p.article_id for p in retriever.index.passages], dtype=object)
    keep = ~np.isin(owners, list(article_ids))

    def mask(filters):
        m = base(retriever, filters)
        return keep if m is None else m & keep

    retriever.mask = mask
    try:
        yield
    finally:
        del retriever.mask


def leaks(answers: list[str], texts: list[str]) -> bool:
    """The gold answer is still written in what remains shown: such a question is not unanswerable."""
    return contains_answer(" ".join(texts), answers)


def cached_rows(cache: Path | None, collect: Callable[[], object]):
    """What `collect` returns, read from `cache` when it exists and written there otherwise (the fitting
    scripts' rows take minutes to collect and seconds to refit)."""
    if cache and cache.exists():
        return json.loads(cache.read_text())
    rows = collect()
    if cache:
        cache.write_text(json.dumps(rows, ensure_ascii=False))
    return rows
