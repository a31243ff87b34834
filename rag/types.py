"""The typed records that cross module seams: articles, passages, hits, citations, answers."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Article:
    """A cleaned news article. `text` is the body as written (boilerplate removed)."""

    id: str
    title: str
    text: str
    source: str = ""  # file name or outlet
    url: str = ""
    date: str = ""


@dataclass(frozen=True)
class Passage:
    """A chunk of one article, on sentence boundaries; offsets index into the cleaned article text."""

    id: str
    article_id: str
    title: str
    text: str
    ordinal: int
    start: int
    end: int
    source: str = ""
    lang: str = "ar"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Passage":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with every score that ranked it. Missing scores are None."""

    passage: Passage
    score: float  # the score used for ranking (fused, or the single method's)
    dense: float | None = None
    bm25: float | None = None
    rank: int = 0


@dataclass(frozen=True)
class Citation:
    """An answer's `[number]` resolved to the passage and the sentence inside it that supports the claim."""

    number: int
    passage_id: str
    title: str
    quote: str  # the supporting sentence, as written in the passage
    start: int  # character offsets of `quote` inside the passage text
    end: int
    support: float = 0.0  # how well the quote supports the cited answer sentence (0..1)


@dataclass
class Answer:
    text: str
    language: str  # "ar" or "en"
    citations: list[Citation] = field(default_factory=list)
    passages: list[Hit] = field(default_factory=list)  # what the generator was shown, numbered from 1
    refused: bool = False
    backend: str = ""
    question: str = ""  # the standalone question actually searched for (after follow-up rewriting)
    changes: list[str] = field(default_factory=list)  # what verification changed, for humans
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    verification: dict[str, int] = field(default_factory=dict)  # citations kept / repaired / dropped, etc.

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
