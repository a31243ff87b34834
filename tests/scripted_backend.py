"""A test backend, registered exactly like Sanad's own (settings.plugins="scripted_backend"): it quotes the
first sentence of the best passage, and on cue blocks until released, fails like an unreachable LLM, or
crashes. The UI tests drive the real app and pipeline with it."""
from __future__ import annotations

import threading

from rag.backends import Draft
from rag.errors import LLMError
from rag.ingest.chunking import sentence_spans
from rag.types import Citation

RELEASE = threading.Event()  # "slow" answers wait for it
CALLS: list[dict] = []  # what each call saw: the question, conversation and choices as the pipeline passed them


class ScriptedBackend:
    name = "scripted"
    heavy = False

    def available(self, settings) -> bool:
        return True

    def rewrite(self, query, res) -> str | None:
        return None

    def generate(self, query, hits, res) -> Draft:
        CALLS.append({"question": query.text, "history": list(query.history) or None, "top_k": query.top_k,
                      "backend": query.backend, "language": query.answer_lang})
        if query.text == "llm down":
            raise LLMError("the language model at http://127.0.0.1:9/v1 is unreachable")
        if query.text == "crash":
            raise RuntimeError("internal detail xyz")
        p = hits[0].passage
        start, end = sentence_spans(p.text)[0]
        quote = p.text[start:end]

        def chunks():
            if query.text == "slow":
                yield "Waiting… "
                RELEASE.wait(60)
            yield f"{quote.rstrip(' .')} [1]."

        return Draft(hits, chunks(), quoted=[Citation(1, p.id, p.title, quote, start, end)])


def register_backends(register) -> None:
    register(ScriptedBackend())
