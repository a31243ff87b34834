"""`answer()` and `answer_stream()`: retrieve → number and present passages → generate → verify citations.

Backends: `extractive` (offline default, no LLM), `llamacpp` (local GGUF) and `openai` (any OpenAI-compatible
server). Whatever the backend, citations are checked in code before the answer is returned.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace

from . import arabic, extractive, prompts
from .errors import LLMError, QueryError
from .retrieval import check_question
from .settings import Settings, get_settings
from .types import Answer, Hit
from .verify import verify

BACKENDS = ("extractive", "llamacpp", "openai")
_FOLLOW_UP = re.compile(
    r"\b(it|its|he|she|him|her|they|them|their|that|this|those|these|there|the same|also|and what|what about)\b|"
    r"^(و|ف)|(ه|ها|هم|هما)\b|\b(ذلك|هذا|هذه|تلك|هناك|هؤلاء|نفسه|أيضا|أيضاً)\b",
    re.IGNORECASE,
)


def resolve_language(question: str, language: str | None) -> str:
    if language in ("ar", "en"):
        return language
    if language not in (None, "", "auto"):
        raise QueryError(f"unknown answer language {language!r}; use 'ar', 'en' or 'auto'")
    try:
        return arabic.detect_language(question)
    except ValueError:
        raise QueryError("cannot tell the question's language: write it in Arabic or English") from None


def _user_turns(history: list[dict] | None) -> list[str]:
    return [str(m.get("content", "")) for m in history or [] if m.get("role") == "user" and m.get("content")]


def standalone_question(question: str, history: list[dict] | None, settings: Settings, backend: str) -> str:
    """Rewrite a follow-up into a question that stands alone, so retrieval finds the right passages."""
    previous = _user_turns(history)
    if not previous:
        return question
    if backend in ("llamacpp", "openai"):
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        from .llm import chat_model, invoke_text

        msgs = [SystemMessage(prompts.REWRITE)]
        for m in (history or [])[-6:]:
            text = str(m.get("content", ""))[:1000]
            msgs.append(HumanMessage(text) if m.get("role") == "user" else AIMessage(text))
        msgs.append(HumanMessage(question))
        rewritten = invoke_text(chat_model(settings, backend), msgs).strip().splitlines()
        if rewritten and rewritten[0].strip():
            return rewritten[0].strip()[: settings.max_question_chars]
    # Heuristic: a short question or one that points back ("it", "عنه", "و...") borrows the previous question.
    if len(arabic.tokens(question)) <= 4 or _FOLLOW_UP.search(question):
        return f"{previous[-1]} {question}"
    return question


def _refusal(question: str, language: str, hits: list[Hit], backend: str, timings: dict, why: str) -> Answer:
    return Answer(text=prompts.REFUSAL[language], language=language, passages=hits, refused=True, backend=backend,
                  question=question, changes=[why], timings=timings)


def answer_stream(question: str, *, history: list[dict] | None = None, top_k: int | None = None,
                  backend: str | None = None, language: str | None = None,
                  settings: Settings | None = None) -> Iterator[str | Answer]:
    """Yield the answer's text as it is produced, then the verified `Answer` (always the last item)."""
    from .engine import get_retriever

    settings = settings or get_settings()
    backend = backend or settings.backend
    if backend not in BACKENDS:
        raise QueryError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    question = check_question(question, settings.max_question_chars)
    language = resolve_language(question, language)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    searched = standalone_question(question, history, settings, backend)
    timings["rewrite"] = time.perf_counter() - t0
    retriever = get_retriever(settings)
    t = time.perf_counter()
    hits = retriever.search(searched, top_k or settings.top_k, "fused")
    timings["retrieve"] = time.perf_counter() - t

    threshold = settings.min_score if hits and hits[0].passage.lang == language else settings.min_score_cross
    if not hits or (hits[0].dense or 0.0) < threshold:
        timings["total"] = time.perf_counter() - t0
        yield _refusal(searched, language, hits, backend, timings, "no passage is relevant enough")
        return

    if backend == "extractive":
        yield from _extractive(searched, language, hits, retriever, backend, timings, t0)
    else:
        yield from _generate(searched, language, hits, retriever, backend, settings, timings, t0)


def _extractive(question, language, hits, retriever, backend, timings, t0) -> Iterator[str | Answer]:
    t = time.perf_counter()
    q_vec = retriever.embed(question)[0]
    chosen = extractive.select(question, q_vec, hits, retriever.embedder)
    pieces, citations = extractive.compose(chosen, hits, language)
    timings["generate"] = time.perf_counter() - t
    if not pieces:
        timings["total"] = time.perf_counter() - t0
        yield _refusal(question, language, hits, backend, timings, "no sentence answers the question")
        return
    yield from pieces
    timings["total"] = time.perf_counter() - t0
    yield Answer(text="".join(pieces), language=language, citations=citations, passages=hits, backend=backend,
                 question=question, timings=timings, verification={"kept": len(citations)})


def _generate(question, language, hits, retriever, backend, settings, timings, t0) -> Iterator[str | Answer]:
    from .llm import chat_model, stream_text

    messages, shown = prompts.build_messages(question, hits, language, settings.llm_context, settings.llm_max_tokens)
    model = chat_model(settings, backend)
    t = time.perf_counter()
    chunks: list[str] = []
    for chunk in stream_text(model, messages):
        if not chunks:
            timings["first_token"] = time.perf_counter() - t0
        chunks.append(chunk)
        yield chunk
    timings["generate"] = time.perf_counter() - t
    raw = "".join(chunks).strip()
    if not raw:
        raise LLMError("the language model returned an empty answer")
    t = time.perf_counter()
    if prompts.REFUSAL[language].rstrip(".") in raw or prompts.REFUSAL["en"].rstrip(".") in raw:
        timings["total"] = time.perf_counter() - t0
        yield _refusal(question, language, shown, backend, timings, "the model found no answer in the sources")
        return
    checked = verify(raw, shown, retriever.embedder, question)
    timings["verify"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    if not checked.citations:
        ans = _refusal(question, language, shown, backend, timings, "no sentence of the answer is supported")
        yield replace(ans, changes=ans.changes + checked.changes, verification=checked.counts)
        return
    yield Answer(text=checked.text, language=language, citations=checked.citations, passages=shown,
                 backend=backend, question=question, changes=checked.changes, timings=timings,
                 verification=checked.counts)


def answer(question: str, *, history: list[dict] | None = None, top_k: int | None = None, backend: str | None = None,
           language: str | None = None, settings: Settings | None = None) -> Answer:
    """Answer a question from the indexed articles, in the question's language, with verified citations."""
    final = None
    for item in answer_stream(question, history=history, top_k=top_k, backend=backend, language=language,
                              settings=settings):
        final = item
    assert isinstance(final, Answer)
    return final
