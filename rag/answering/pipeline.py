"""The answer pipeline: query → (rewrite a follow-up) → retrieve → backend drafts → verify → stream → `Answer`.

Whatever the backend, its citations are checked in code before its text is shown: free text claim by claim, each
sentence as soon as it is complete (`verify.verify`); quotes as verbatim copies of the cited passage
(`verify.check_quotes`), before the first chunk. Text once streamed is never taken back.
`answer()` / `answer_stream()` are the package-level entry points over a default `Sanad` object.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from rag.answering import prompts
from rag.answering.verify import (
    Verified,
    check_quotes,
    span_ok,
    strip_citations,
    verify,
)
from rag.backends import Backend, Draft, Resources
from rag.ingest.chunking import sentence_spans
from rag.query import Query
from rag.response import Response
from rag.settings import Settings
from rag.text import arabic
from rag.types import Answer, Hit, Verification

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


def run(sanad: Sanad, query: Query) -> Iterator[str | Answer]:
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
    checker = _quoted_stream if draft.quoted is not None else _claim_stream
    state = _Checked()
    for chunk in checker(draft, query, res, state):
        if "first_token" not in timings:
            timings["first_token"] = time.perf_counter() - t0
        yield chunk
    timings["generate"] = time.perf_counter() - t
    yield _answer(query, draft, state, timings, t0)


class _Checked:
    """What the checking stream decided: the verified result, and whether any text reached the reader."""

    def __init__(self) -> None:
        self.verified: Verified | None = None
        self.shown = False
        self.refusal = ""
        self.verify_seconds = 0.0


# A citation mark that may still be arriving right after a sentence's full stop ("… Moscow. [1]").
_LEADING_MARKS = re.compile(r"(?:\s*\[\d+(?:\s*[,،]\s*\d+)*\])+")
_LETTER = re.compile(r"[^\W\d_]")


def complete_sentence(buffer: str) -> int | None:
    """Where the first sentence of streamed text ends, once it surely has (the next sentence has begun with a
    word, after any citation marks that belong to the first); None while it may still grow."""
    spans = sentence_spans(buffer)
    if len(spans) < 2:
        return None
    cut = spans[1][0]
    m = _LEADING_MARKS.match(buffer, cut)
    if m:
        cut = m.end()
    return cut if _LETTER.search(strip_citations(buffer[cut:])) else None


def _claim_stream(draft: Draft, query: Query, res: Resources, state: _Checked) -> Iterator[str]:
    """Free text, verified sentence by sentence as it is generated: a sentence is shown only once it has been
    checked, so nothing shown is ever taken back. Sentences without a citation (a lead-in such as "According to
    the articles:") wait for the next supported sentence, and are never shown on their own."""
    shown, buffer, pending = draft.shown, "", ""
    kept: list[Verified] = []

    def check(piece: str) -> str:
        nonlocal pending
        t = time.perf_counter()
        v = verify(piece.strip(), shown, res.sentences, query.search_text, draft.echo_words)
        state.verify_seconds += time.perf_counter() - t
        kept.append(v)
        if not v.text:
            return ""
        if not v.citations:
            pending += (" " if pending else "") + v.text
            return ""
        out = (" " if state.shown else "") + (pending + " " if pending else "") + v.text
        pending = ""
        state.shown = True
        return out

    for chunk in draft.chunks:
        buffer += chunk
        while (cut := complete_sentence(buffer)) is not None:
            piece, buffer = buffer[:cut], buffer[cut:]
            if out := check(piece):
                yield out
    if buffer.strip() and (out := check(buffer)):
        yield out
    state.verified = _merge(kept)


def _merge(parts: list[Verified]) -> Verified:
    """Per-sentence verification results as one (verification is per sentence, so this equals checking the
    whole text at once); lead-ins that no supported sentence followed are left out."""
    text, pending, citations, report = [], [], [], Verification()
    for v in parts:
        for f in ("kept", "repaired", "dropped", "out_of_range", "unsupported_sentences"):
            setattr(report, f, getattr(report, f) + getattr(v.report, f))
        report.changes += v.report.changes
        if v.text and not v.citations:
            pending.append(v.text)
        elif v.text:
            text += pending + [v.text]
            pending = []
            citations += v.citations
    return Verified(" ".join(text), citations, report)


def _quoted_stream(draft: Draft, query: Query, res: Resources, state: _Checked) -> Iterator[str]:
    """A backend's own quotations are checked before any text is shown: each citation must quote a shown passage
    verbatim, and a short-answer span must lie in its quote (then the first line, once complete, must hold it)."""
    shown = draft.shown
    bad = [c for c in draft.quoted
           if not (1 <= c.number <= len(shown) and shown[c.number - 1].passage.text[c.start:c.end] == c.quote)
           or (c.span is not None and not c.start <= c.span[0] < c.span[1] <= c.end)]
    if bad:
        state.verified = check_quotes("", draft.quoted, shown)
        state.refusal = "a quotation does not match its source"
        for _ in draft.chunks:  # let the backend finish (it may hold a model lock); show nothing
            pass
        return
    spanned = [c for c in draft.quoted if c.span is not None]
    produced, held = [], ""
    for chunk in draft.chunks:
        produced.append(chunk)
        if spanned and not state.shown:  # hold the first line until it is complete and checked
            held += chunk
            if "\n" not in held:
                continue
            chunk, held = held, ""
            if not all(span_ok(chunk, c, shown[c.number - 1].passage.text) for c in spanned):
                state.refusal = "the short answer is not a part of its quoted sentence"
                for _ in draft.chunks:
                    pass
                return
        state.shown = True
        yield chunk
    if held:
        if not all(span_ok(held, c, shown[c.number - 1].passage.text) for c in spanned):
            state.refusal = "the short answer is not a part of its quoted sentence"
            return
        state.shown = True
        yield held
    t = time.perf_counter()
    state.verified = check_quotes("".join(produced), draft.quoted, shown)
    state.verify_seconds += time.perf_counter() - t


def _answer(query: Query, draft: Draft, state: _Checked, timings: dict, t0: float) -> Answer:
    shown = draft.shown
    timings["verify"] = state.verify_seconds
    timings["total"] = time.perf_counter() - t0
    checked = state.verified
    # A refusal the backend reached after text was shown does not take that (verified) text back.
    if (draft.refusal and not state.shown) or state.refusal or checked is None:
        return _refusal(query, shown, timings, state.refusal or draft.refusal or "nothing was generated",
                        **({"verification": checked.report} if checked is not None else {}))
    if not checked.citations:
        return _refusal(query, shown, timings, "no sentence of the answer is supported", verification=checked.report)
    short = next((line.strip() for line in checked.text.splitlines() if line.strip()), "") \
        if any(c.span for c in checked.citations) else ""
    translated = next((c.translation for c in checked.citations if c.translation), "")
    return Answer(text=checked.text, language=query.answer_lang, citations=checked.citations, passages=shown,
                  short=translated or short, backend=query.backend, question=query.search_text, timings=timings,
                  verification=checked.report)


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
