"""An in-process llama.cpp model (`llama-cpp-python`) as a LangChain chat model: loaded once per (file, context)
per process, its generation serialised by a lock."""
from __future__ import annotations

import atexit
import os
import threading
from functools import lru_cache
from typing import Any, Iterator

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from rag.errors import LLMError
from rag.llm.errors import one_line as _one_line
from rag.llm.gguf import gguf_path
from rag.settings import Settings

_LLAMA_CACHE: dict[tuple[str, int], tuple[Any, threading.Lock]] = {}
_LLAMA_CACHE_LOCK = threading.Lock()


def _load_llama(model_path: str, n_ctx: int) -> tuple[Any, threading.Lock]:
    """One `llama_cpp.Llama` per (file, context size) per process, with the lock that serialises its use."""
    key = (model_path, n_ctx)
    with _LLAMA_CACHE_LOCK:
        if key not in _LLAMA_CACHE:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise LLMError("llama-cpp-python is not installed; install the extra: pip install 'sanad[llm]'") from exc
            try:
                llama = Llama(model_path=model_path, n_ctx=n_ctx, n_threads=os.cpu_count() or 1, verbose=False)
            except Exception as exc:  # llama.cpp reports a bad file as ValueError/RuntimeError
                raise LLMError(f"cannot load the model {model_path}: {_one_line(exc)}") from exc
            _LLAMA_CACHE[key] = (llama, threading.Lock())
            # Closed while the interpreter is whole: left to Llama.__del__ at shutdown it prints a traceback
            # ("'NoneType' object is not callable") after llama_cpp's module globals are gone.
            atexit.register(_close_quietly, llama)
        return _LLAMA_CACHE[key]


def _close_quietly(llama: Any) -> None:
    try:
        llama.close()
    except Exception:  # noqa: BLE001 - shutting down: nothing left to report to
        pass


def _role_and_text(message) -> dict[str, str]:
    from langchain_core.messages import (
        AIMessage,
        ChatMessage,
        HumanMessage,
        SystemMessage,
    )

    if isinstance(message, SystemMessage):
        role = "system"
    elif isinstance(message, HumanMessage):
        role = "user"
    elif isinstance(message, AIMessage):
        role = "assistant"
    elif isinstance(message, ChatMessage):
        role = message.role
    else:
        raise LLMError(f"unsupported message type for llama.cpp: {type(message).__name__}")
    content = message.content
    if not isinstance(content, str):  # content blocks: keep the text ones
        content = "".join(b if isinstance(b, str) else str(b.get("text", "")) for b in content)
    return {"role": role, "content": content}


class LlamaCppChat(BaseChatModel):
    """`llama_cpp.Llama.create_chat_completion` as a LangChain chat model (temperature 0 by default)."""

    model_path: str
    n_ctx: int = 4096
    max_tokens: int = 384
    temperature: float = 0.0
    # llama_cpp.server's default (the in-process API defaults to 1.0): keeps both local backends alike
    # and stops the small model's greedy decoding from looping on one list item until max_tokens.
    repeat_penalty: float = 1.1

    @property
    def _llm_type(self) -> str:
        return "llamacpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "n_ctx": self.n_ctx, "max_tokens": self.max_tokens,
                "temperature": self.temperature, "repeat_penalty": self.repeat_penalty}

    def _params(self, messages, stop, kwargs) -> dict[str, Any]:
        return {
            "messages": [_role_and_text(m) for m in messages],
            "temperature": kwargs.get("temperature", self.temperature),
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "repeat_penalty": kwargs.get("repeat_penalty", self.repeat_penalty),
            "stop": stop or [],
        }

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        llama, lock = _load_llama(self.model_path, self.n_ctx)
        params = self._params(messages, stop, kwargs)
        with lock:
            out = llama.create_chat_completion(**params)
        choice = out["choices"][0]
        message = AIMessage(
            content=choice["message"].get("content") or "",
            response_metadata={"finish_reason": choice.get("finish_reason"), "model": self.model_path},
            usage_metadata=_usage(out.get("usage")),
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages, stop=None, run_manager=None, **kwargs) -> Iterator[ChatGenerationChunk]:
        llama, lock = _load_llama(self.model_path, self.n_ctx)
        params = self._params(messages, stop, kwargs)
        with lock:  # held until the stream ends or the consumer closes the generator
            for part in llama.create_chat_completion(stream=True, **params):
                choice = part["choices"][0]
                text = choice.get("delta", {}).get("content") or ""
                finish = choice.get("finish_reason")
                if not text and not finish:
                    continue
                chunk = ChatGenerationChunk(
                    message=AIMessageChunk(
                        content=text,
                        response_metadata={"finish_reason": finish} if finish else {},
                    )
                )
                if run_manager and text:
                    run_manager.on_llm_new_token(text, chunk=chunk)
                yield chunk


def _usage(usage: dict | None) -> dict | None:
    if not usage:
        return None
    return {"input_tokens": usage.get("prompt_tokens", 0), "output_tokens": usage.get("completion_tokens", 0),
            "total_tokens": usage.get("total_tokens", 0)}


@lru_cache(maxsize=1)
def llama_cpp_importable() -> bool:
    try:
        import llama_cpp  # noqa: F401
    except Exception:
        return False
    return True


def llamacpp_chat(settings: Settings) -> "LlamaCppChat":
    if not llama_cpp_importable():
        raise LLMError("llama-cpp-python is not installed; install the extra: pip install 'sanad[llm]'")
    return LlamaCppChat(model_path=str(gguf_path(settings)), n_ctx=settings.llm_context,
                        max_tokens=settings.llm_max_tokens, temperature=0.0)
