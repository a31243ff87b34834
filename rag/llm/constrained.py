"""Constrained decoding with llama.cpp: the small model may only pick a numbered candidate sentence and copy words
from it, or write a short Latin-script translation. Grammars (GBNF) make any other output impossible; the pure
builders and parsers here are tested without a model.

One call picks and copies: the grammar is `N words…` where the words after `N` can only be a run of consecutive
words of sentence N. A logits processor reads the model's distribution over the candidate numbers at the first
step (its confidence, used for answerability) and lets the caller combine it with retrieval's ranking before the
number is fixed.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rag.errors import LLMError
from rag.llm.errors import one_line

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def literal(text: str) -> str:
    """A GBNF string literal for `text`."""
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in text) + '"'


def words_of(sentence: str) -> list[tuple[int, int]]:
    """(start, end) of each whitespace-separated word of the sentence, as the model sees them."""
    return [(m.start(), m.end()) for m in re.finditer(r"\S+", sentence)]


def span_rules(prefix: str, sentence: str) -> tuple[str, list[str]]:
    """Rules whose language is every run of consecutive words of `sentence` (joined by one space): rule
    `{prefix}-i` is a run starting at word i. Returns (the alternative over all starts, the rule lines)."""
    words = [sentence[s:e] for s, e in words_of(sentence)]
    lines = []
    for i, w in enumerate(words):
        tail = f' (" " {prefix}-{i + 1})?' if i + 1 < len(words) else ""
        lines.append(f"{prefix}-{i} ::= {literal(w)}{tail}")
    starts = " | ".join(f"{prefix}-{i}" for i in range(len(words)))
    return f"({starts})", lines


def choice_grammar(sentences: Sequence[str]) -> str:
    """`N ` then words copied from sentence N (N counted from 1)."""
    alts, lines = [], []
    for n, s in enumerate(sentences, 1):
        starts, rules = span_rules(f"s{n}", s)
        alts.append(f'"{n} " {starts}')
        lines += rules
    return "root ::= " + " | ".join(alts) + "\n" + "\n".join(lines) + "\n"


# Latin letters, digits and the punctuation a name, date or figure needs; never Arabic, never a newline.
TRANSLATION_GRAMMAR = (
    "root ::= [A-Za-z0-9\"(] rest\n"
    "rest ::= [A-Za-z0-9 ,.'%()/&:\"-]*\n"
)


@dataclass(frozen=True)
class Choice:
    number: int  # 1-based candidate number
    start: int  # the copied words' offsets inside that candidate sentence
    end: int
    probs: tuple[float, ...]  # the model's own distribution over the candidate numbers (before any prior)


def parse_choice(output: str, sentences: Sequence[str]) -> Choice | None:
    """The number and the copied words' offsets, or None when the output is not `N words-of-sentence-N`."""
    m = re.fullmatch(r"\s*(\d+)\s+(.+?)\s*", output, re.DOTALL)
    if not m or not 1 <= int(m.group(1)) <= len(sentences):
        return None
    n = int(m.group(1))
    sentence = sentences[n - 1]
    got = m.group(2).split()
    ws = words_of(sentence)
    texts = [sentence[s:e] for s, e in ws]
    for i in range(len(ws) - len(got) + 1):
        if texts[i:i + len(got)] == got:
            return Choice(n, ws[i][0], ws[i + len(got) - 1][1], ())
    return None


class FirstStep:
    """A llama.cpp logits processor: at the first generated token it reads the model's log-probabilities of the
    candidate numbers, lets `decide` pick the number (from them and a prior), and masks the other numbers."""

    def __init__(self, digit_ids: Sequence[int], decide: Callable[[np.ndarray], int]) -> None:
        self.digit_ids = list(digit_ids)
        self.decide = decide
        self.probs: np.ndarray | None = None
        self.chosen: int | None = None

    def __call__(self, input_ids, scores):
        if self.chosen is not None:
            return scores
        logits = np.asarray(scores, dtype=np.float64)[self.digit_ids]
        p = np.exp(logits - logits.max())
        self.probs = p / p.sum()
        self.chosen = int(self.decide(self.probs))
        keep = scores[self.digit_ids[self.chosen]]
        scores[self.digit_ids] = -math.inf
        scores[self.digit_ids[self.chosen]] = keep
        return scores


def chatml(system: str, user: str) -> str:
    """Qwen2.5's chat template, written out: the same system text gives the same leading tokens every call,
    so llama.cpp reuses its evaluated prefix."""
    return (f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
            f"<|im_start|>assistant\n")


def digit_token_ids(llama: Any, count: int) -> list[int]:
    ids = []
    for n in range(1, count + 1):
        toks = llama.tokenize(str(n).encode(), add_bos=False, special=False)
        if len(toks) != 1:
            raise LLMError(f"the model's vocabulary has no single token for {n}")
        ids.append(toks[0])
    return ids


def complete(llama: Any, prompt: str, grammar: str, max_tokens: int, logits_processor=None,
             on_text: Callable[[str], None] | None = None) -> str:
    """Greedy, grammar-constrained completion; every llama.cpp failure becomes a one-line LLMError."""
    from llama_cpp import LlamaGrammar, LogitsProcessorList

    try:
        g = LlamaGrammar.from_string(grammar, verbose=False)
        out = llama.create_completion(
            prompt, max_tokens=max_tokens, temperature=0.0, top_k=1, repeat_penalty=1.0, grammar=g,
            logits_processor=LogitsProcessorList([logits_processor]) if logits_processor else None,
        )
    except Exception as exc:  # llama.cpp: context overflow, bad grammar, …
        raise LLMError(f"the local model failed: {one_line(exc)}") from exc
    return out["choices"][0]["text"]
