"""The offline backend: the answering span of the best sentence, then the sentences that support it (no LLM;
see rag/answering/extractive.py and rag/answering/span.py)."""
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
        ranked = extractive.rank(query.search_text, query.lang, q_vec, hits, res.sentences)
        chosen = extractive.choose(ranked, query.lang)
        short = extractive.short_answer(query.search_text, query.lang, ranked)
        if short is not None:  # lead with the answering span, then the sentences that support it
            pieces, citations = extractive.compose_short(short, chosen, hits, query.answer_lang)
        else:
            pieces, citations = extractive.compose(chosen, hits, query.answer_lang)
        if not pieces:
            return Draft(hits, iter(()), quoted=[], refusal="no sentence answers the question")
        return Draft(hits, iter(pieces), quoted=citations)
