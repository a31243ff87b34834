"""`Query`: a question checked and understood once, at the entry point, then passed down unchanged.

Language means two things and both are kept: `lang` is what the question is written in (it steers BM25's vote
and the relevance threshold); `answer_lang` is what the user wants the answer in (it steers the wording).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from rag.errors import QueryError
from rag.ingest.dates import iso_date
from rag.settings import Settings
from rag.text import arabic

LANGUAGES = ("ar", "en")

# Words asking for the newest reports: such questions prefer recent articles (a small bonus by date rank).
_RECENT = re.compile(r"\b(latest|recent|recently|newest|most recent)\b|(?:^|\s)(?:ال)?(?:آخر|اخر|أحدث|احدث|أخير|الأخيرة|الاخيرة|مؤخرا|مؤخراً)(?=\s|$|[؟?.,،])",
                     re.IGNORECASE)


def wants_recent(text: str) -> bool:
    return bool(_RECENT.search(text))


@dataclass(frozen=True)
class Filters:
    """What a search is limited to: articles dated date_from..date_to (ISO, inclusive) from these outlets.
    Empty fields limit nothing; an article without a parseable date fails any date limit."""

    date_from: str = ""
    date_to: str = ""
    outlets: tuple[str, ...] = ()  # lower-case outlet names (the articles' `source`)

    def __bool__(self) -> bool:
        return bool(self.date_from or self.date_to or self.outlets)

    def admits(self, outlet: str, date: str) -> bool:
        if self.outlets and outlet.lower() not in self.outlets:
            return False
        if (self.date_from or self.date_to) and not iso_date(date):
            return False
        return (not self.date_from or date >= self.date_from) and (not self.date_to or date <= self.date_to)


def make_filters(date_from: str | None = None, date_to: str | None = None,
                 outlets: Iterable[str] | str | None = None) -> Filters:
    """Checked filters; a date that is not a date, or a range that ends before it starts, is a QueryError."""
    def day(value: str | None, what: str) -> str:
        value = (value or "").strip()
        if not value:
            return ""
        iso = iso_date(value)
        if not iso:
            raise QueryError(f"{what} date {value!r} is not a date; write it as YYYY-MM-DD")
        return iso

    start, end = day(date_from, "the from"), day(date_to, "the to")
    if start and end and start > end:
        raise QueryError(f"the date range ends ({end}) before it starts ({start})")
    if isinstance(outlets, str):
        outlets = outlets.replace("،", ",").split(",")
    names = tuple(sorted({o.strip().lower() for o in outlets or () if o and o.strip()}))
    return Filters(start, end, names)


@dataclass(frozen=True)
class Query:
    text: str  # the question as asked, trimmed
    lang: str  # the language the question is written in
    answer_lang: str  # the language to answer in
    backend: str
    top_k: int
    history: tuple[dict, ...] = ()  # earlier turns: {"role": "user" | "assistant", "content": str}
    searched: str = ""  # the standalone question retrieval looks for (a rewritten follow-up); defaults to text
    filters: Filters = Filters()

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
               backend: str | None = None, language: str | None = None, filters: Filters | None = None) -> Query:
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
                 backend=backend or settings.backend, top_k=k, history=turns, filters=filters or Filters())
