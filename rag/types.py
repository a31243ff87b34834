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
    date: str = ""  # ISO YYYY-MM-DD when the input's date was parseable, else as given
    author: str = ""


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
    # The passage's article metadata, looked up by article_id when searched (not stored on passages).
    outlet: str = ""
    date: str = ""
    url: str = ""
    also: tuple[str, ...] = ()  # outlets of near-duplicate passages (the same story) folded into this hit


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
    # The short answer's offsets inside the passage text, within start..end: a verbatim part of `quote`.
    span: tuple[int, int] | None = None
    # The short answer in the question's language when it was translated from the span (e.g. English from an
    # Arabic source); the span's own words stay in the answer beside it, so a reader sees what it came from.
    translation: str = ""


CHANGE_TEXT = {  # what each kind of verification change means, for people (CLI, UI, logs)
    "out_of_range": "removed citation(s) {cited}: no such source",
    "dropped": "citation {cited} does not support the sentence",
    "repaired": "cited {now} instead of {cited}",
    "unsupported": "removed a sentence no source supports",
    "invented": "removed a sentence with words no source contains ({words})",
    "instruction": "removed an instruction-like sentence",
    "restated": "removed a sentence that only restates the question",
    "not_quoted": "citation {cited} is not a quote of that source",
}


@dataclass(frozen=True)
class Change:
    """One thing verification changed in a draft answer."""

    kind: str  # a key of CHANGE_TEXT
    claim: str = ""  # the answer sentence concerned
    cited: tuple[int, ...] = ()  # the citation numbers the draft gave
    now: tuple[int, ...] = ()  # the numbers that stand after verification
    words: tuple[str, ...] = ()  # e.g. the invented words

    def describe(self) -> str:
        head = CHANGE_TEXT[self.kind].format(cited=list(self.cited) or "nothing", now=list(self.now),
                                             words=" ".join(self.words))
        return f"{head}: {self.claim[:80]}" if self.claim else head


@dataclass
class Verification:
    """What verification did to an answer: citations kept / repaired / dropped, and each change."""

    kept: int = 0
    repaired: int = 0
    dropped: int = 0
    out_of_range: int = 0
    unsupported_sentences: int = 0
    changes: list[Change] = field(default_factory=list)


@dataclass
class Answer:
    text: str
    language: str  # "ar" or "en"
    citations: list[Citation] = field(default_factory=list)
    passages: list[Hit] = field(default_factory=list)  # what the generator was shown, numbered from 1
    refused: bool = False
    short: str = ""  # the short answer the text leads with (its first line), when the backend gave one
    backend: str = ""
    question: str = ""  # the standalone question actually searched for (after follow-up rewriting)
    refusal_reason: str = ""  # why Sanad refused (set when `refused`)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    verification: Verification = field(default_factory=Verification)

    @property
    def changes(self) -> list[str]:
        """Why it refused and what verification changed, one line each, for people."""
        return ([self.refusal_reason] if self.refusal_reason else []) + [c.describe() for c in self.verification.changes]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
