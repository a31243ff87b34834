"""Audit answers for invented facts: every figure and name an answer shows must come from a source it showed.

Independent of the backend's own checks (it re-reads the final text): figures are compared as digits (Arabic-Indic
digits read as 0-9, thousands separators dropped); Arabic words must be words of the shown passages (after
normalisation); Latin names (runs of capitalised words) must render some run of one to four words of a shown
passage, judged on consonant skeletons as the constrained backend's translation check does. The citation
markers and the labels the backends write themselves ("translated from the Arabic", "From the source") are not
content. Pure functions: the runner is `scripts/audit_answers.py`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.backends.constrained import latin_names, numbers, renders
from rag.text import arabic

_MARKER = re.compile(r"\[\d+(?:\s*[,،]\s*\d+)*\]")
# What the backends write around the sources' words (not claims): removed before auditing.
_LABELS = re.compile(r"\((?:(?:translated )?from the \w+)|From the source:|\w+ source span:|بحسب المقالات:?|"
                     r"The sources are in \w+[^.]*\.", re.IGNORECASE)
_ARABIC_WORD = re.compile(r"[\u0621-\u065F\u0670-\u06D3]+")  # letters and marks, not Arabic-Indic digits


@dataclass
class Finding:
    question: str
    answer: str
    unsupported: list[str] = field(default_factory=list)  # "figure 12", "name Lavrov", "word حلب"


def content(answer_text: str) -> str:
    """The answer's own words: citation markers and the backends' labels removed."""
    return _LABELS.sub(" ", _MARKER.sub(" ", answer_text))


def unsupported_figures(text: str, sources: list[str]) -> list[str]:
    known = set(numbers(" ".join(sources)))
    return [f"figure {n}" for n in numbers(text) if n not in known]


def unsupported_arabic(text: str, sources: list[str]) -> list[str]:
    known = {arabic.normalize(w) for s in sources for w in _ARABIC_WORD.findall(s)}
    words = {arabic.normalize(w) for w in _ARABIC_WORD.findall(text)}
    # A copied span keeps its words whole; a clitic the source attached (و/ف/ب/ل/ال) may be cut at the span's edge.
    return [f"word {w}" for w in sorted(words) if w not in known
            and not any(k.endswith(w) or k.startswith(w) for k in known if len(w) >= 3)]


def audit(question: str, answer_text: str, sources: list[str]) -> Finding:
    """What in `answer_text` no source in `sources` (the texts of the passages shown with it) contains."""
    text = content(answer_text)
    found = unsupported_figures(text, sources) + unsupported_arabic(text, sources)
    found += [f"name {n}" for n in latin_names(text) if not renders(n, sources)]
    return Finding(question, answer_text, found)
