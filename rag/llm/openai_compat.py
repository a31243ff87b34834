"""Any OpenAI-compatible server (vLLM, Ollama, llama.cpp's server, OpenAI) as a LangChain chat model."""
from __future__ import annotations

from rag.errors import LLMError
from rag.settings import Settings


def openai_chat(settings: Settings):
    if not settings.llm_base_url:
        raise LLMError("set SANAD_LLM_BASE_URL to an OpenAI-compatible server (e.g. http://127.0.0.1:8000/v1) "
                       "to use the openai backend")
    from langchain_openai import ChatOpenAI

    extra = {}
    if "api.openai.com" not in settings.llm_base_url:
        # ChatOpenAI sends only `max_completion_tokens`, which llama.cpp's and older self-hosted servers
        # ignore (they would then generate up to the context size); send the classic field as well.
        extra["extra_body"] = {"max_tokens": settings.llm_max_tokens}
    return ChatOpenAI(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key or "not-needed",
        temperature=0,
        timeout=settings.llm_timeout,
        max_retries=0,
        max_tokens=settings.llm_max_tokens,
        streaming=True,
        **extra,
    )
