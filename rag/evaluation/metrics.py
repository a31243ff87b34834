"""Metrics. Ranking metrics come from `ranx` (Qrels / Run / evaluate); answer metrics are simple counts.

Recall@k is reported as ranx `hit_rate@k`: the share of questions with at least one relevant passage in the
top k. (A question's evidence may sit in two overlapping passages; strict ranx `recall@k` would then cap at
0.5 at k=1 although the question is fully served. For SQuAD/ARCD, where one article is relevant and the
ranking is collapsed to articles, the two are the same.) MRR@10 and nDCG@10 are ranx `mrr@10`, `ndcg@10`.
"""
from __future__ import annotations

import re
import warnings
from collections import Counter

import numpy as np

from rag.evaluation.gold import fold, words

REPORT_METRICS = {"R@1": "hit_rate@1", "R@5": "hit_rate@5", "R@10": "hit_rate@10", "R@20": "hit_rate@20",
                  "MRR@10": "mrr@10", "nDCG@10": "ndcg@10"}
CURVE_KS = list(range(1, 21))


def ranx_evaluate(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]],
                  metrics: list[str]) -> dict[str, float]:
    """Mean of each ranx metric over the questions in `qrels` (questions with at least one relevant doc).

    `run[q]` maps doc id → score (higher is better); a question with no retrieved docs gets a dummy doc so
    it counts as a miss instead of being dropped."""
    from ranx import Qrels, Run, evaluate

    qids = [q for q in qrels if qrels[q]]
    if not qids:
        return {m: float("nan") for m in metrics}
    run_d = {q: (run.get(q) or {"__none__": 0.0}) for q in qids}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's unsafe-cast notices
        res = evaluate(Qrels({q: qrels[q] for q in qids}), Run(run_d), list(metrics), make_comparable=True)
    if not isinstance(res, dict):
        res = {metrics[0]: res}
    return {m: float(v) for m, v in res.items()}


def ranked_run(doc_ids: list[str]) -> dict[str, float]:
    """A ranked list as a ranx run entry: strictly decreasing scores so ties cannot reorder it.
    Repeated ids keep their best (first) rank."""
    out: dict[str, float] = {}
    for r, d in enumerate(doc_ids):
        if d not in out:
            out[d] = float(len(doc_ids) - r)
    return out


def first_relevant_rank(doc_ids: list[str], relevant: set[str]) -> int | None:
    for r, d in enumerate(doc_ids, 1):
        if d in relevant:
            return r
    return None


# ---------------------------------------------------------------- answers

def contains_answer(text: str, answers: list[str]) -> bool:
    """A gold answer is contained in the text after normalisation (punctuation ignored)."""
    hay = " " + " ".join(words(text)) + " "
    for a in answers:
        w = words(a)
        if w and " " + " ".join(w) + " " in hay:
            return True
    return False


def token_f1(prediction: str, truth: str) -> float:
    """SQuAD-style token F1 over normalised word tokens (bag of words)."""
    p, t = words(prediction), words(truth)
    if not p or not t:
        return float(p == t)
    common = Counter(p) & Counter(t)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(t)
    return 2 * precision * recall / (precision + recall)


def best_f1(prediction: str, answers: list[str]) -> float:
    return max((token_f1(prediction, a) for a in answers), default=0.0)


def exact_match(prediction: str, answers: list[str]) -> bool:
    """SQuAD-style exact match over normalised word tokens."""
    p = words(prediction)
    return bool(p) and any(p == words(a) for a in answers)


_MARKS = re.compile(r"\[\d+(?:\s*[,،]\s*\d+)*\]")
_LABEL = re.compile(r"^[^:“\"]{0,40}:\s*")  # "Arabic source span: …", "الجواب: …"
_TRANSLATED = re.compile(r"\((?:translated )?from the \w+: “(.+)”\)\s*$")  # "28 July 1914 (translated from …: “…”)"


def first_line(text: str) -> str:
    """An answer's first non-empty line: where its short answer is."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def short_answer(text: str) -> str:
    """The short answer an answer leads with: its first line without citation marks, label or quote marks. A
    translated lead is scored by the source words it shows beside its translation (the gold spans are theirs)."""
    line = _MARKS.sub("", first_line(text))
    translated = _TRANSLATED.search(line)
    if translated:
        return translated.group(1).strip()
    line = _LABEL.sub("", line, count=1) if "“" in line else line
    return line.strip().strip("“”\"«» .").strip()


def f1_score(precision: float, recall: float) -> float:
    """F1 of two rates; no positives at all (recall nan) is nan, none found (recall 0) is 0."""
    if recall != recall:
        return float("nan")
    if recall == 0 or precision != precision:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def quote_in(passage_text: str, quote: str) -> bool:
    return bool(fold(quote)) and fold(quote) in fold(passage_text)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")
