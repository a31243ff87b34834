"""The `Backend` interface: what every answer generator provides, and the `Draft` it hands back.

A backend only writes. Retrieval happens before it, and verification after it, in the pipeline
(`rag/generation.py`), whatever the backend: a backend cannot skip the citation check.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from rag.settings import Settings
from rag.types import Citation, Hit

if TYPE_CHECKING:
    from rag.answering.evidence import SentenceVectors
    from rag.embedding.embedders import Embedder
    from rag.query import Query


@dataclass(frozen=True)
class Resources:
    """What a backend may use, owned by the `Sanad` object that calls it."""

    settings: Settings
    embedder: "Embedder"
    sentences: "SentenceVectors"
    embed_query: Callable[[str], np.ndarray]  # (1, dim), cached per question
    # A question's words translated into the index's language (BM25 stems; [] when the index cannot): what
    # an English question's words are in Arabic sentences (rag/search/lexicon.py).
    translated_terms: Callable[[str], list[str]] = lambda question: []
    # The span reader's encoder (rag/answering/reader.py), loaded on first call; None: no reader.
    reader: Callable[[], object | None] = lambda: None
    # How many passages the searched index holds (0: unknown): the refusal gate's bar depends on it.
    index_size: Callable[[], int] = lambda: 0


@dataclass
class Draft:
    """A backend's answer before verification.

    `chunks` streams the text. `shown` are the passages as the backend showed them, numbered from 1 (an LLM
    prompt may trim them). `quoted` is set by a backend that copies source sentences itself: its citations
    are then checked as verbatim quotes instead of as free-text claims. `refusal` (why) is set when the backend
    found no answer, at the latest when `chunks` is exhausted. `echo_words` are words of the backend's own
    prompt, which a model may echo without inventing anything.
    """

    shown: list[Hit]
    chunks: Iterator[str]
    quoted: list[Citation] | None = None
    refusal: str | None = None
    echo_words: str = ""


@runtime_checkable
class Backend(Protocol):
    name: str  # what users pick: SANAD_BACKEND, --backend, the UI's dropdown
    heavy: bool  # runs a language model: the UI queues such answers so they never starve the others

    def available(self, settings: Settings) -> bool:
        """Usable right now with these settings (cheap: no model load)."""

    def generate(self, query: "Query", hits: list[Hit], res: Resources) -> Draft:
        """Answer `query.search_text` in `query.answer_lang` from `hits`, numbered from 1."""

    def rewrite(self, query: "Query", res: Resources) -> str | None:
        """A standalone version of a follow-up question, or None to use the pipeline's heuristic."""
