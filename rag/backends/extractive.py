"""The offline backend: quote the retrieved sentences that best answer (no LLM; see rag/extractive.py)."""
from __future__ import annotations

from rag.answering import extractive
from rag.backends.base import Draft, Resources
from rag.settings import Settings
from rag.types import Hit


class ExtractiveBackend:
    name = "extractive"
    heavy = False

    def available(self, settings: Settings) -> bool:
        return True

    def rewrite(self, query, res: Resources) -> str | None:
        return None

    def generate(self, query, hits: list[Hit], res: Resources) -> Draft:
        q_vec = res.embed_query(query.search_text)[0]
        chosen = extractive.select(query.search_text, query.lang, q_vec, hits, res.sentences)
        pieces, citations = extractive.compose(chosen, hits, query.answer_lang)
        if not pieces:
            return Draft(hits, iter(()), quoted=[], refusal="no sentence answers the question")
        return Draft(hits, iter(pieces), quoted=citations)
