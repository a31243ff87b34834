"""Split cleaned articles into passages on sentence boundaries, sized in embedding-model tokens.

Passages hold ~100–160 tokens, overlap by one short sentence, and never cut a sentence — except one so long
(run-on news sentences glued by `،`) that it alone is larger than a passage; it is split at clause marks.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from rag.text import arabic
from rag.types import Article, Passage

# A sentence ends at . ! ? ؟ … (optionally followed by closing quotes/brackets), or at a line break. A point
# between digits is a decimal or thousands mark, not an end: "309.500 كم²" had been cut to "309" (the audit of
# the local model's answers caught the figure).
_SENTENCE = re.compile(r"(?:[^\n.!?؟…]|(?<=\d)\.(?=\d))*(?:[.!?؟…]+[\"'»”)\]]*|\n|$)")
_CLAUSE = re.compile(r"[^،؛,;:]*(?:[،؛,;:]+|$)")


@dataclass(frozen=True)
class ChunkSpec:
    max_tokens: int = 160  # greedy packing up to this gives passages of ~100–160 tokens
    overlap_tokens: int = 40  # the previous passage's last sentence is repeated when at most this long
    hard_max_tokens: int = 200  # a single sentence above this is split at clause marks
    min_tokens: int = 30  # a shorter group (a subheading) joins the next passage instead of standing alone


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in `text`, trimmed of surrounding whitespace."""
    spans = [_trim(text, m.start(), m.end()) for m in _SENTENCE.finditer(text)]
    return [(s, e) for s, e in spans if e > s]


def _split_long(text: str, span: tuple[int, int], count: Callable[[str], int], limit: int) -> list[tuple[int, int]]:
    s0, e0 = span
    if count(text[s0:e0]) <= limit:
        return [span]
    pieces, cur_s, cur_e = [], None, None
    for m in _CLAUSE.finditer(text, s0, e0):
        if m.end() == m.start():
            continue
        if cur_s is not None and count(text[cur_s:m.end()]) > limit:
            pieces.append((cur_s, cur_e))
            cur_s = None
        if cur_s is None:
            cur_s = m.start()
        cur_e = m.end()
    if cur_s is not None:
        pieces.append((cur_s, cur_e))
    return [_trim(text, s, e) for s, e in pieces if text[s:e].strip()]


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def passage_id(article_id: str, ordinal: int, text: str) -> str:
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    return f"{article_id}-{ordinal:03d}-{digest}"


def chunk_article(article: Article, count_tokens: Callable[[str], int], spec: ChunkSpec = ChunkSpec()
                  ) -> list[Passage]:
    text = article.text
    spans: list[tuple[int, int]] = []
    for span in sentence_spans(text):
        spans += _split_long(text, span, count_tokens, spec.hard_max_tokens)
    sizes = [count_tokens(text[s:e]) for s, e in spans]

    groups: list[list[int]] = []
    cur: list[int] = []
    cur_tokens = 0
    for i, n in enumerate(sizes):
        if cur and cur_tokens + n > spec.max_tokens and cur_tokens >= spec.min_tokens:
            groups.append(cur)
            last = cur[-1]
            # Small overlap: carry the closing sentence over when it is short, so a fact split across
            # the boundary is still whole in one passage.
            cur = [last] if sizes[last] <= spec.overlap_tokens and sizes[last] + n <= spec.max_tokens else []
            cur_tokens = sum(sizes[j] for j in cur)
        cur.append(i)
        cur_tokens += n
    if cur and (not groups or cur != groups[-1][-len(cur):]):
        groups.append(cur)

    passages = []
    for ordinal, group in enumerate(groups):
        start, end = spans[group[0]][0], spans[group[-1]][1]
        body = text[start:end]
        passages.append(Passage(id=passage_id(article.id, ordinal, body), article_id=article.id,
                                title=article.title, text=body, ordinal=ordinal, start=start, end=end,
                                source=article.source, lang=arabic.language_or(body)))
    return passages
