"""The answer pipeline: query → (rewrite a follow-up) → retrieve → backend drafts → verify → `Answer`.

Whatever the backend, its citations are checked in code before the answer is returned: free text claim by
claim (`verify.verify`), quotes as verbatim copies of the cited passage (`verify.check_quotes`).
`answer()` / `answer_stream()` are the package-level entry points over a default `Sanad` object.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from rag.answering import prompts
from rag.answering.verify import check_quotes, verify
from rag.backends import Backend, Draft, Resources
from rag.query import Query
from rag.response import Response
from rag.settings import Settings
from rag.text import arabic
from rag.types import Answer, Hit

if TYPE_CHECKING:
    from rag.sanad import Sanad

_FOLLOW_UP = re.compile(
    r"\b(it|its|he|she|him|her|they|them|their|that|this|those|these|there|the same|also|and what|what about)\b|"
    r"^(و|ف)|(ه|ها|هم|هما)\b|\b(ذلك|هذا|هذه|تلك|هناك|هؤلاء|نفسه|أيضا|أيضاً)\b",
    re.IGNORECASE,
)


def standalone_question(query: Query, backend: Backend, res: Resources) -> str:
    """A follow-up rewritten into a question that stands alone, so retrieval finds the right passages."""
    previous = [m["content"] for m in query.history if m["role"] == "user" and m["content"]]
    if not previous:
        return query.text
    rewritten = backend.rewrite(query, res)
    if rewritten:
        return rewritten[: res.settings.max_question_chars]
    # Heuristic: a short question or one that points back ("it", "عنه", "و...") borrows the previous question.
    if len(arabic.tokens(query.text)) <= 4 or _FOLLOW_UP.search(query.text):
        return f"{previous[-1]} {query.text}"
    return query.text


def _refusal(query: Query, hits: list[Hit], timings: dict, why: str, **extra) -> Answer:
    return Answer(text=prompts.REFUSAL[query.answer_lang], language=query.answer_lang, passages=hits, refused=True,
                  backend=query.backend, question=query.search_text, refusal_reason=why, timings=timings, **extra)


def run(sanad: "Sanad", query: Query) -> Iterator[str | Answer]:
    """Text chunks as they are produced, then the verified `Answer` (the last item, always)."""
    backend = sanad.backends.get(query.backend)
    res = sanad.resources()
    settings = sanad.settings
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    query = query.rewritten(standalone_question(query, backend, res))
    timings["rewrite"] = time.perf_counter() - t0

    t = time.perf_counter()
    hits = sanad.search(query.search_text, query.top_k, "fused", lang=query.lang, filters=query.filters)
    timings["retrieve"] = time.perf_counter() - t
    # Cross-lingual cosines run lower, so the bar depends on whether the sources share the question's language.
    threshold = settings.min_score if hits and hits[0].passage.lang == query.lang else settings.min_score_cross
    if not hits or (hits[0].dense or 0.0) < threshold:
        timings["total"] = time.perf_counter() - t0
        yield _refusal(query, hits, timings, "no passage is relevant enough")
        return

    t = time.perf_counter()
    draft = backend.generate(query, hits, res)
    chunks: list[str] = []
    for chunk in draft.chunks:
        if not chunks:
            timings["first_token"] = time.perf_counter() - t0
        chunks.append(chunk)
        yield chunk
    timings["generate"] = time.perf_counter() - t
    yield _verified(query, draft, "".join(chunks), res, settings, timings, t0)


def _verified(query: Query, draft: Draft, text: str, res: Resources, settings: Settings, timings: dict,
              t0: float) -> Answer:
    shown = draft.shown
    if draft.refusal:
        timings["total"] = time.perf_counter() - t0
        return _refusal(query, shown, timings, draft.refusal)
    t = time.perf_counter()
    if draft.quoted is not None:
        checked = check_quotes(text, draft.quoted, shown)
    else:
        checked = verify(text.strip(), shown, res.sentences, query.search_text, draft.echo_words)
    timings["verify"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    if not checked.citations:
        return _refusal(query, shown, timings, "no sentence of the answer is supported", verification=checked.report)
    short = next((line.strip() for line in checked.text.splitlines() if line.strip()), "") \
        if any(c.span for c in checked.citations) else ""
    return Answer(text=checked.text, language=query.answer_lang, citations=checked.citations, passages=shown,
                  short=short, backend=query.backend, question=query.search_text, timings=timings, verification=checked.report)


def answer_stream(question: str, *, history: list[dict] | None = None, top_k: int | None = None,
                  backend: str | None = None, language: str | None = None,
                  settings: Settings | None = None) -> Response:
    """The answer as a `Response`: iterate it for the text as it is produced, then read `.answer`."""
    from rag.sanad import sanad_for

    return sanad_for(settings).ask(question, history=history, top_k=top_k, backend=backend, language=language)


def answer(question: str, *, history: list[dict] | None = None, top_k: int | None = None, backend: str | None = None,
           language: str | None = None, settings: Settings | None = None) -> Answer:
    """Answer a question from the indexed articles, in the question's language, with verified citations."""
    return answer_stream(question, history=history, top_k=top_k, backend=backend, language=language,
                         settings=settings).answer
