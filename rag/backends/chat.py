"""Backends that write with a chat LLM through LangChain: the local GGUF (`llamacpp`) and any
OpenAI-compatible server (`openai`). They differ only in how the chat model is made."""
from __future__ import annotations

from rag.backends.base import Draft, Resources
from rag.errors import LLMError
from rag.settings import Settings
from rag.types import Hit


class ChatBackend:
    """Shared by the LLM backends; a subclass says how its chat model is made and when it can be."""

    name = ""
    heavy = True

    def available(self, settings: Settings) -> bool:
        raise NotImplementedError

    def model(self, settings: Settings):
        raise NotImplementedError

    def rewrite(self, query, res: Resources) -> str | None:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        from rag.answering import (
            prompts,  # LangChain: loaded when an LLM answers, not when Sanad starts
        )
        from rag.llm import invoke_text

        msgs = [SystemMessage(prompts.REWRITE)]
        for m in query.history[-6:]:
            text = m["content"][:1000]
            msgs.append(HumanMessage(text) if m["role"] == "user" else AIMessage(text))
        msgs.append(HumanMessage(query.text))
        lines = invoke_text(self.model(res.settings), msgs).strip().splitlines()
        return lines[0].strip() if lines and lines[0].strip() else None

    def generate(self, query, hits: list[Hit], res: Resources) -> Draft:
        from rag.answering import prompts
        from rag.llm import stream_text

        settings = res.settings
        lang = query.answer_lang
        messages, shown = prompts.build_messages(query.search_text, hits, lang, settings.llm_context,
                                                 settings.llm_max_tokens)
        model = self.model(settings)
        draft = Draft(shown, iter(()), echo_words=prompts.ECHO_WORDS)

        def chunks():
            produced: list[str] = []
            for chunk in stream_text(model, messages):
                produced.append(chunk)
                yield chunk
            raw = "".join(produced).strip()
            if not raw:
                raise LLMError("the language model returned an empty answer")
            # Our prompt tells the model the exact sentence to write when the sources hold no answer.
            if prompts.REFUSAL[lang].rstrip(".") in raw or prompts.REFUSAL["en"].rstrip(".") in raw:
                draft.refusal = "the model found no answer in the sources"

        draft.chunks = chunks()
        return draft


class LlamaCppBackend(ChatBackend):
    """The local GGUF, in-process."""

    name = "llamacpp"

    def available(self, settings: Settings) -> bool:
        from rag.llm import gguf_path, llama_cpp_importable

        if not llama_cpp_importable():
            return False
        try:
            gguf_path(settings)
        except LLMError:
            return False
        return True

    def model(self, settings: Settings):
        from rag.llm import llamacpp_chat

        return llamacpp_chat(settings)


class OpenAIBackend(ChatBackend):
    """Any OpenAI-compatible server at SANAD_LLM_BASE_URL."""

    name = "openai"

    def available(self, settings: Settings) -> bool:
        return bool(settings.llm_base_url)

    def model(self, settings: Settings):
        from rag.llm import openai_chat

        return openai_chat(settings)
