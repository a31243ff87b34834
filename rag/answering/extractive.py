"""The offline backend: answer by quoting the retrieved sentences that best answer the question.

No LLM: every sentence of the answer is a sentence of a shown passage, so citations are correct by
construction. For an English question over Arabic sources it says so in English and quotes the Arabic.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rag.answering import span as spans
from rag.answering.evidence import Sentence, SentenceVectors, evidence_sentences
from rag.search.fusion import zscore
from rag.text import arabic
from rag.types import Citation, Hit

# Per question language: (most sentences quoted, how far below the best a further sentence may score).
# Cross-lingual sentence scores are flatter, so English answers quote a little more (measured on the seed gold
# set: evidence in the chosen sentences 0.65 → 0.67 for English, Arabic unchanged at 0.96).
SELECTION = {"ar": (2, 0.8), "en": (3, 1.2)}
W_SEMANTIC, W_LEXICAL, W_PRIOR = 1.0, 1.0, 1.0
MAX_QUOTE_CHARS = 400
# The short answer comes from one of the SPAN_CANDIDATES best sentences; one holding the kind of answer asked for
# (a date for "when", a number for "how many") gains W_KIND (z units) over the ranking. At most
# SUPPORT_SENTENCES sentences follow it.
SPAN_CANDIDATES, W_KIND, SUPPORT_SENTENCES = 3, 0.5, 2
LANGUAGE_NAMES = {"ar": "Arabic", "en": "English"}
# A source's own reference marks ("… الشرقية [3]") must not read as Sanad's citations once quoted.
_SOURCE_MARK = re.compile(r"\[(\s*\d+(?:\s*[,،\-–]\s*\d+)*\s*)\]")


@dataclass
class Extract:
    sentences: list[tuple[Sentence, float]]  # chosen sentences with their relevance, best first


def rank(question: str, lang: str, q_vec: np.ndarray, hits: list[Hit], sentences: SentenceVectors
         ) -> list[tuple[Sentence, float]]:
    """Every evidence sentence of the hits with its relevance, best first (one entry per distinct sentence)."""
    passages = [h.passage for h in hits]
    sents, keep = evidence_sentences(passages)
    if not sents:
        return []
    cos = sentences.for_passages(passages)[keep] @ q_vec
    q_tokens = set(arabic.analyze(question))
    lex = np.array([len(q_tokens & set(arabic.analyze(s.text))) / max(1, len(q_tokens)) for s in sents])
    # Sentence cosines are only comparable within one question (cross-lingual ones run lower), so z-score them;
    # the passage's retrieval rank is a strong prior: retrieval already weighed the whole passage.
    prior = np.array([1.0 / (1 + s.passage_index) for s in sents])
    score = W_SEMANTIC * zscore(cos) + W_PRIOR * prior
    if lang == "ar":  # word overlap only means something within one language
        score += W_LEXICAL * zscore(lex)
    out: list[tuple[Sentence, float]] = []
    seen: set[str] = set()
    for j in np.argsort(-score, kind="stable"):
        if sents[j].text not in seen:  # the same sentence in two overlapping passages
            seen.add(sents[j].text)
            out.append((sents[j], float(score[j])))
    return out


def select(question: str, lang: str, q_vec: np.ndarray, hits: list[Hit], sentences: SentenceVectors) -> Extract:
    """The sentences to quote; `lang` is the question's language (word overlap only counts within it)."""
    return choose(rank(question, lang, q_vec, hits, sentences), lang)


def choose(ranked: list[tuple[Sentence, float]], lang: str) -> Extract:
    max_sentences, margin = SELECTION[lang]
    chosen: list[tuple[Sentence, float]] = []
    for s, sc in ranked:
        if len(chosen) == max_sentences or (chosen and sc < chosen[0][1] - margin):
            break
        chosen.append((s, sc))
    return Extract(chosen)


@dataclass(frozen=True)
class Short:
    sentence: Sentence
    relevance: float
    span: spans.Span  # offsets inside the sentence


def short_answer(question: str, lang: str, ranked: list[tuple[Sentence, float]]) -> Short | None:
    """The answering span: the best window of the best few sentences, a sentence holding the asked-for kind of
    answer preferred."""
    kind = spans.answer_type(question, lang)
    best: tuple[float, Short] | None = None
    for s, rel in ranked[:SPAN_CANDIDATES]:
        sp = spans.pick(question, s.text, lang)
        if sp is None:
            continue
        total = rel + W_KIND * spans.fits(kind, s.text)
        if best is None or total > best[0]:
            best = (total, Short(s, rel, sp))
    return best[1] if best else None


def unmark(text: str) -> str:
    """Bracketed numbers in source text → parenthesised ("[3]" → "(3)"): only Sanad writes "[n]"."""
    return _SOURCE_MARK.sub(r"(\1)", text)


def _quote(text: str) -> str:
    text = unmark(text)
    return text if len(text) <= MAX_QUOTE_CHARS else text[:MAX_QUOTE_CHARS].rsplit(" ", 1)[0] + " …"


def compose(extract: Extract, hits: list[Hit], language: str) -> tuple[list[str], list[Citation]]:
    """Answer pieces (to stream) and their citations."""
    pieces, citations = [], []
    for s, rel in extract.sentences:
        n = s.passage_index + 1
        p = hits[s.passage_index].passage
        citations.append(Citation(n, p.id, p.title, s.text, s.start, s.end, rel))
        body = s.text.rstrip(" .")
        if language == "en":
            pieces.append(f"“{_quote(body)}” [{n}]")
        else:
            pieces.append(f"{_quote(body)} [{n}].")
    if not pieces:
        return [], []
    if language == "en":
        titles = {hits[s.passage_index].passage.title for s, _ in extract.sentences}
        lead = ("The sources are in Arabic. The most relevant passages"
                f" ({unmark('; '.join(sorted(titles)))[:200]}) say:")
        pieces = [lead] + [f"\n- {p}" for p in pieces]
    else:
        pieces = ["بحسب المقالات: "] + [(" " if i else "") + p for i, p in enumerate(pieces)]
    return pieces, citations


def compose_short(short: Short, extract: Extract, hits: list[Hit], language: str
                  ) -> tuple[list[str], list[Citation]]:
    """The answer led by its short span, on a line of its own with its citation, then at most
    SUPPORT_SENTENCES supporting sentences (the span's own sentence first). The first citation carries the span's
    offsets in the passage, so the pipeline checks the span is a verbatim part of the quoted sentence."""
    s, sp = short.sentence, short.span
    n = s.passage_index + 1
    p = hits[s.passage_index].passage
    first = Citation(n, p.id, p.title, s.text, s.start, s.end, short.relevance,
                     span=(s.start + sp.start, s.start + sp.end))
    support = [(s, short.relevance)] + [(o, r) for o, r in extract.sentences if o.text != s.text]
    support = support[:SUPPORT_SENTENCES]
    citations = [first] + [Citation(o.passage_index + 1, hits[o.passage_index].passage.id,
                                    hits[o.passage_index].passage.title, o.text, o.start, o.end, r)
                           for o, r in support[1:]]
    text = unmark(sp.text)
    if language != p.lang:  # no translator: the span stays in the source's language, and says so
        head = f"{LANGUAGE_NAMES.get(p.lang, p.lang)} source span: “{text}” [{n}]"
    else:
        head = f"{text} [{n}]"
    body = [f"“{_quote(o.text.rstrip(' .'))}” [{o.passage_index + 1}]" if language == "en"
            else f"{_quote(o.text.rstrip(' .'))} [{o.passage_index + 1}]." for o, _ in support]
    if language == "en":
        pieces = [head, "\n\nFrom the source" + ("s" if len(body) > 1 else "") + ":"] + [f"\n- {b}" for b in body]
    else:
        pieces = [head, "\n\nبحسب المقالات: "] + [(" " if i else "") + b for i, b in enumerate(body)]
    return pieces, citations
