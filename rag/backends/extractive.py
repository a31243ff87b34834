"""The offline backend: the answering span of the best sentence, then the sentences that support it (no LLM;
see rag/answering/extractive.py and rag/answering/span.py)."""
from __future__ import annotations

from rag.answering import answerable, extractive, reader
from rag.backends.base import Draft, Resources
from rag.settings import Settings
from rag.types import Hit


def reading(question: str, lang: str, hits: list[Hit], res: Resources) -> extractive.Reading | None:
    """The span reader over this question, run by its own encoder (loaded on first use); None where
    SANAD_READER says the span cues answer alone ("cross": sources in the question's own language)."""
    mode = res.settings.reader
    if mode == "off" or (mode == "cross" and not (hits and hits[0].passage.lang != lang)):
        return None
    return lambda sentences: reader.word_scores(res.reader(), question, sentences)


class ExtractiveBackend:
    name = "extractive"
    heavy = False

    def available(self, settings: Settings) -> bool:
        return True

    def rewrite(self, query, res: Resources) -> str | None:
        return None

    def generate(self, query, hits: list[Hit], res: Resources) -> Draft:
        q_vec = res.embed_query(query.search_text)[0]
        a = extractive.analyse(query.search_text, query.lang, q_vec, hits, res.sentences,
                               res.translated_terms(query.search_text), reading(query.search_text, query.lang, hits, res))
        chosen, short = a.chosen, a.short
        # Decided before any text is shown: a refusal is never streamed and then retracted.
        if a.ranked and not answerable.answerable(a.signals, passages=res.index_size()):
            return Draft(hits, iter(()), quoted=[], refusal="the articles do not say (refusal gate)")
        if short is not None:  # lead with the answering span, then the sentences that support it
            pieces, citations = extractive.compose_short(short, chosen, hits, query.answer_lang)
        else:
            pieces, citations = extractive.compose(chosen, hits, query.answer_lang)
        if not pieces:
            return Draft(hits, iter(()), quoted=[], refusal="no sentence answers the question")
        return Draft(hits, iter(pieces), quoted=citations)
