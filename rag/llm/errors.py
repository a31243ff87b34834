"""Running a chat model: every failure (server down, timeout, HTTP error, garbage, context overflow, empty
answer) becomes an `LLMError` with a one-line message that says where and why."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from rag.errors import LLMError


def one_line(exc: BaseException | str, limit: int = 300) -> str:
    text = re.sub(r"\s+", " ", str(exc)).strip() or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _where(model) -> str:
    base = getattr(model, "openai_api_base", None)
    if base:
        return f"the LLM server at {base}"
    path = getattr(model, "model_path", None)
    if path:
        return f"the local model {Path(path).name}"
    return "the language model"


def _root_reason(exc: BaseException) -> str:
    """The innermost cause, for messages like 'connection refused'."""
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        seen = seen.__cause__ or seen.__context__
    text = one_line(seen)
    m = re.search(r"\[Errno -?\d+\]\s*(.*)", text)
    if m:
        text = m.group(1)
    return text[:1].lower() + text[1:] if text else type(seen).__name__


def _translate(model, exc: BaseException) -> LLMError:
    if isinstance(exc, LLMError):
        return exc
    where = _where(model)
    timeout = getattr(model, "request_timeout", None)
    try:
        import openai
    except ImportError:  # pragma: no cover - langchain-openai depends on it
        openai = None
    try:
        import httpx
    except ImportError:  # pragma: no cover
        httpx = None
    if openai is not None:
        if isinstance(exc, openai.APITimeoutError):
            return LLMError(f"{where} did not answer within {timeout:g} s" if isinstance(timeout, (int, float))
                            else f"{where} did not answer in time")
        if isinstance(exc, openai.APIConnectionError):
            return LLMError(f"cannot reach {where.removeprefix('the LLM server at ')}: {_root_reason(exc)}"
                            if where.startswith("the LLM server at ") else f"cannot reach {where}: {_root_reason(exc)}")
        if isinstance(exc, openai.APIStatusError):
            detail = re.sub(r"^Error code: \d+\s*-?\s*", "", one_line(getattr(exc, "message", "") or exc, 160))
            return LLMError(f"{where} answered HTTP {exc.status_code}" + (f": {detail}" if detail else ""))
        if isinstance(exc, openai.APIError):
            return LLMError(f"{where} sent a response that is not a valid chat completion: {one_line(exc, 160)}")
    if httpx is not None and isinstance(exc, httpx.TimeoutException):
        return LLMError(f"{where} did not answer in time")
    if httpx is not None and isinstance(exc, httpx.HTTPError):
        return LLMError(f"cannot talk to {where}: {_root_reason(exc)}")
    if isinstance(exc, (TimeoutError,)):
        return LLMError(f"{where} did not answer in time")
    if isinstance(exc, ConnectionError):
        return LLMError(f"cannot reach {where}: {_root_reason(exc)}")
    if isinstance(exc, ValueError) and "context window" in str(exc):
        return LLMError(f"the prompt is too long for {where}: {one_line(exc, 160)}")
    if getattr(model, "openai_api_base", None):
        if isinstance(exc, ValueError) and "No generation" in str(exc):
            return LLMError(f"{where} sent no chat completion (an empty or unrecognised response)")
        if isinstance(exc, (ValueError, KeyError, TypeError, IndexError, AttributeError)):
            # JSON/Unicode decode errors and pydantic validation errors are ValueErrors
            return LLMError(f"{where} sent a response that is not a valid chat completion "
                            f"({type(exc).__name__}: {one_line(exc, 160)})")
    # llama.cpp runtime failures and anything else unexpected
    return LLMError(f"{where} failed: {type(exc).__name__}: {one_line(exc, 200)}")


def invoke_text(model, messages) -> str:
    """The model's whole answer as text; LLMError (one line) on any failure or an empty answer."""
    try:
        result = model.invoke(messages)
    except Exception as exc:
        raise _translate(model, exc) from exc
    text = result.content if isinstance(result.content, str) else "".join(
        b if isinstance(b, str) else str(b.get("text", "")) for b in result.content
    )
    if not text.strip():
        raise LLMError(f"{_where(model)} returned an empty answer")
    return text


def stream_text(model, messages) -> Iterator[str]:
    """Yield the answer's text chunks as they come; LLMError (one line) on any failure or an empty answer."""
    produced = False
    chunks = None
    try:
        chunks = model.stream(messages)
        for chunk in chunks:
            content = chunk.content
            if not isinstance(content, str):
                content = "".join(b if isinstance(b, str) else str(b.get("text", "")) for b in content)
            if content:
                produced = produced or bool(content.strip())
                yield content
    except GeneratorExit:
        raise
    except Exception as exc:
        raise _translate(model, exc) from exc
    finally:
        if chunks is not None:
            chunks.close()  # ends the request / releases the llama.cpp lock when the caller stops early
    if not produced:
        raise LLMError(f"{_where(model)} returned an empty answer")
