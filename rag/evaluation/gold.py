"""Gold Q&A pairs: loading, validation against the cleaned articles, and relevance by evidence.

A gold pair (one JSON object a line) has `id`, `question`, `lang`, `answerable`, `answers`, `evidence`
(exact quotes from the cleaned article), `article` (the source file name) and optionally `kind`.
Relevance is judged by evidence, not passage ids, so the gold set survives chunking changes.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import SanadError
from rag.text.arabic import normalize

REQUIRED = ("id", "question", "lang", "answerable", "answers", "evidence", "article")
_WORD = re.compile(r"[\w\u0600-\u06FF]+", re.UNICODE)

# A quote straddling two passages: a passage holding a contiguous run of at least half of the quote's
# words (quotes of at least PARTIAL_MIN_WORDS words only) is also relevant. Half, not more: a quote cut
# 8 | 11 words at a passage boundary (seeds en-031) must still have one relevant passage.
PARTIAL_SHARE = 0.5
PARTIAL_MIN_WORDS = 8


@dataclass
class GoldQuestion:
    """One question to evaluate. Relevance comes from `evidence` quotes (seed gold) or from
    `relevant_articles` (SQuAD/ARCD: the question's context is one article)."""

    id: str
    question: str
    lang: str
    answerable: bool = True
    answers: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    article: str | None = None
    kind: str = ""
    relevant_articles: set[str] | None = None

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["relevant_articles"] = sorted(self.relevant_articles) if self.relevant_articles is not None else None
        return d


class GoldError(SanadError, ValueError):
    """A gold file that cannot be used; the message names the line and id."""


def fold(text: str) -> str:
    """The form quotes and passages are compared in: Arabic normalisation and whitespace folding."""
    return " ".join(normalize(text).split())


_AR_PUNCT = re.compile(r"[\u060C\u061B\u061F\u066A-\u066D\u06D4]")  # ، ؛ ؟ ٪ ٫ ٬ ٭ ۔ sit in the Arabic block


def words(text: str) -> list[str]:
    """Normalised word tokens (no stopword removal, no stemming), punctuation (Arabic too) dropped."""
    return _WORD.findall(_AR_PUNCT.sub(" ", normalize(text)))


def _longest_common_run(a: list[str], b: list[str]) -> int:
    """Length of the longest contiguous run of tokens shared by `a` and `b`."""
    best = 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                if cur[j] > best:
                    best = cur[j]
        prev = cur
    return best


def contains_quote(passage_text: str, quote: str) -> bool:
    """True when the passage holds the quote after normalisation, or (a quote straddling a passage
    boundary) a contiguous run of ≥ 50% of its words, for quotes of 8+ words."""
    if fold(quote) in fold(passage_text):
        return True
    q = words(quote)
    if len(q) < PARTIAL_MIN_WORDS:
        return False
    p = words(passage_text)
    return _longest_common_run(q, p) >= PARTIAL_SHARE * len(q)


def is_relevant(passage, gold: GoldQuestion) -> bool:
    """Relevance of a `Passage` to a gold question, by evidence quotes or by the relevant article ids."""
    if gold.relevant_articles is not None:
        return passage.article_id in gold.relevant_articles
    return any(contains_quote(passage.text, q) for q in gold.evidence)


def load_gold(path: Path) -> list[GoldQuestion]:
    """Read a gold JSONL file; raise GoldError naming the line and id of the first malformed pair."""
    out: list[GoldQuestion] = []
    for n, row in _rows(path):
        problems = _field_problems(row)
        if problems:
            raise GoldError(f"{path}:{n} ({row.get('id', '?')}): {'; '.join(problems)}")
        out.append(_to_question(row))
    return out


def json_lines(path: Path) -> Iterator[tuple[int, Any, str]]:
    """(line number, parsed value, '' or why the line is not JSON) for each non-blank line of a JSONL file."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line), ""
            except json.JSONDecodeError as exc:
                yield n, None, f"not JSON ({exc.msg})"


def _rows(path: Path):
    for n, row, problem in json_lines(path):
        if problem:
            raise GoldError(f"{path}:{n}: {problem}")
        if not isinstance(row, dict):
            raise GoldError(f"{path}:{n}: not a JSON object")
        yield n, row


def _to_question(row: dict) -> GoldQuestion:
    return GoldQuestion(id=str(row["id"]), question=row["question"], lang=row["lang"],
                        answerable=bool(row["answerable"]), answers=list(row["answers"]),
                        evidence=list(row["evidence"]), article=row.get("article"), kind=row.get("kind", ""))


def _field_problems(row: dict) -> list[str]:
    problems = [f"missing field '{k}'" for k in REQUIRED if k not in row]
    if problems:
        return problems
    if not isinstance(row["question"], str) or not row["question"].strip():
        problems.append("empty question")
    if row["lang"] not in ("ar", "en"):
        problems.append(f"lang must be 'ar' or 'en', not {row['lang']!r}")
    if not isinstance(row["answers"], list) or not isinstance(row["evidence"], list):
        problems.append("answers and evidence must be lists")
    elif row["answerable"]:
        if not row["answers"]:
            problems.append("answerable but no answers")
        if not row["evidence"]:
            problems.append("answerable but no evidence")
        if not row["article"]:
            problems.append("answerable but no article")
    return problems


def check_gold(path: Path, seeds_dir: Path | None = None) -> tuple[int, list[str]]:
    """Validate a gold file against the cleaned articles. Returns (pairs checked, problems); each problem
    names the line and id. Checks every field, that ids are unique, and that each evidence quote is found
    in its cleaned article (`rag.ingest.corpus.load`) after normalisation and whitespace folding."""
    from rag.ingest import corpus
    from rag.settings import SEEDS_DIR

    loaded = corpus.load(Path(seeds_dir or SEEDS_DIR))
    articles = {a.source: fold(a.text) for a in loaded.articles}
    problems: list[str] = []
    seen: set[str] = set()
    count = 0
    try:
        rows = list(_rows(path))
    except GoldError as exc:
        return 0, [str(exc)]
    for n, row in rows:
        count += 1
        where = f"{path.name}:{n} ({row.get('id', '?')})"
        fp = _field_problems(row)
        if fp:
            problems += [f"{where}: {p}" for p in fp]
            continue
        if row["id"] in seen:
            problems.append(f"{where}: duplicate id")
        seen.add(row["id"])
        if not row["answerable"]:
            continue
        text = articles.get(row["article"])
        if text is None:
            problems.append(f"{where}: article {row['article']!r} not found among {sorted(articles)}")
            continue
        for q in row["evidence"]:
            if not fold(q):
                problems.append(f"{where}: empty evidence quote")
            elif fold(q) not in text:
                problems.append(f"{where}: evidence quote not found in {row['article']}: {q[:80]!r}")
    return count, problems
