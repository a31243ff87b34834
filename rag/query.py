"""`Query`: a question checked and understood once, at the entry point, then passed down unchanged.

Language means two things and both are kept: `lang` is what the question is written in (it steers BM25's vote
and the relevance threshold); `answer_lang` is what the user wants the answer in (it steers the wording).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from rag.errors import QueryError
from rag.settings import Settings
from rag.text import arabic

LANGUAGES = ("ar", "en")


@dataclass(frozen=True)
class Query:
    text: str  # the question as asked, trimmed
    lang: str  # the language the question is written in
    answer_lang: str  # the language to answer in
    backend: str
    top_k: int
    history: tuple[dict, ...] = ()  # earlier turns: {"role": "user" | "assistant", "content": str}
    searched: str = ""  # the standalone question retrieval looks for (a rewritten follow-up); defaults to text

    @property
    def search_text(self) -> str:
        return self.searched or self.text

    def rewritten(self, standalone: str) -> "Query":
        return replace(self, searched=standalone)


def check_question(question: str, max_chars: int) -> str:
    q = (question or "").strip()
    if not q:
        raise QueryError("the question is empty")
    if len(q) > max_chars:
        raise QueryError(f"the question is too long ({len(q)} characters; the limit is {max_chars})")
    return q


def detect_lang(text: str) -> str:
    try:
        return arabic.detect_language(text)
    except ValueError:
        raise QueryError("cannot tell the question's language: write it in Arabic or English") from None


def answer_language(question_lang: str, language: str | None) -> str:
    if language in LANGUAGES:
        return language
    if language not in (None, "", "auto"):
        raise QueryError(f"unknown answer language {language!r}; use 'ar', 'en' or 'auto'")
    return question_lang


def make_query(question: str, settings: Settings, *, history: list[dict] | None = None, top_k: int | None = None,
               backend: str | None = None, language: str | None = None) -> Query:
    """The one place a question is checked and its languages decided; raises QueryError for the user."""
    text = check_question(question, settings.max_question_chars)
    try:
        lang = detect_lang(text)
    except QueryError:
        if language not in LANGUAGES:
            raise
        lang = language  # e.g. only digits and names: trust the language the user asked for
    k = settings.top_k if top_k is None else top_k
    if not isinstance(k, int) or k < 1:
        raise QueryError(f"top_k must be a positive whole number, got {k!r}")
    turns = tuple({"role": str(m.get("role", "")), "content": str(m.get("content", ""))}
                  for m in history or [] if isinstance(m, dict))
    return Query(text=text, lang=lang, answer_lang=answer_language(lang, language),
                 backend=backend or settings.backend, top_k=k, history=turns)
