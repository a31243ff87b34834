"""Do the retrieved articles answer the question? A tiny logistic model over signals the extractive backend
already computes (no model of its own, pure functions).

The signals: how close the best passage and the chosen sentence are to the question (dense cosines), how far
the best passage stands out (fused and dense margins), BM25, how many of the question's words the chosen
sentence repeats, whether it holds the kind of answer asked for (a date for "when", a number for "how many"),
and how sure the span model is of its span. The weights are fitted by `scripts/fit_answerable.py` on ARCD train
only: each question asked over its own index (answerable) and over the same index with its own paragraph
masked out (unanswerable: same article, same topic, answer gone). The seed gold set is never used for fitting.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Signals:
    top_dense: float  # dense score of the best passage
    dense_margin: float  # best passage's dense score minus the second's
    fused_margin: float  # the same on the fused score
    bm25_top: float  # log(1 + BM25) of the best passage
    best_cos: float  # cosine of the chosen (short-answer) sentence to the question
    top_cos: float  # highest sentence cosine among the shown passages
    cos_gap: float  # top_cos minus the median sentence cosine (does one sentence stand out?)
    coverage: float  # share of the question's content words the chosen sentence repeats
    max_coverage: float  # the highest such share among the shown sentences
    kind_checkable: float  # the question asks for a date or a number (a form that can be checked)
    kind_fits: float  # ... and the chosen sentence holds one
    span_conf: float  # the span model's expected F1 for its span (0 without a span)
    same_lang: float  # the best passage is in the question's language


FEATURES = tuple(Signals.__dataclass_fields__)


def vector(s: Signals) -> np.ndarray:
    d = asdict(s)
    return np.array([d[f] for f in FEATURES], np.float64)


def signals(hits, cos: np.ndarray, cov: np.ndarray, chosen: int | None, kind: str, kind_fits: bool,
            span_conf: float, q_lang: str) -> Signals:
    """`cos`/`cov`: per shown sentence, its cosine to the question and its question-word coverage; `chosen`:
    the index of the short answer's sentence among them (None: no short answer)."""
    dense = [h.dense or 0.0 for h in hits] + [0.0, 0.0]
    fused = [h.score for h in hits] + [0.0, 0.0]
    top_cos = float(cos.max()) if len(cos) else 0.0
    c = chosen if chosen is not None and len(cos) else None
    return Signals(
        top_dense=dense[0], dense_margin=dense[0] - dense[1] if len(hits) > 1 else 0.0, fused_margin=fused[0] - fused[1] if len(hits) > 1 else 0.0,
        bm25_top=math.log1p(max(0.0, hits[0].bm25 or 0.0)) if hits else 0.0,
        best_cos=float(cos[c]) if c is not None else 0.0, top_cos=top_cos,
        cos_gap=top_cos - float(np.median(cos)) if len(cos) else 0.0,
        coverage=float(cov[c]) if c is not None else 0.0, max_coverage=float(cov.max()) if len(cov) else 0.0,
        kind_checkable=float(kind in ("date", "number")), kind_fits=float(kind in ("date", "number") and kind_fits),
        span_conf=span_conf, same_lang=float(bool(hits) and hits[0].passage.lang == q_lang))


@dataclass(frozen=True)
class Gate:
    mean: tuple[float, ...]  # feature standardisation, from the fitting set
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float  # answer when P(answerable) >= threshold
    # (passages in the index, threshold) where the threshold was calibrated, smallest index first. Over a bigger
    # index every question finds closer passages, so P(answerable) runs higher for answerable and unanswerable
    # questions alike; the ranking carries over, the bar does not. Between points: linear in log(passages);
    # outside them: the nearest one's.
    calibrated: tuple[tuple[int, float], ...] = ()

    def threshold_at(self, passages: int) -> float:
        """The bar for an index of this many passages (0: unknown, the fitted `threshold`)."""
        points = self.calibrated
        if passages <= 0 or not points:
            return self.threshold
        if passages <= points[0][0]:
            return points[0][1]
        for (n0, t0), (n1, t1) in zip(points, points[1:]):
            if passages <= n1:
                f = (math.log(passages) - math.log(n0)) / (math.log(n1) - math.log(n0))
                return t0 + f * (t1 - t0)
        return points[-1][1]

    def probability(self, s: Signals) -> float:
        # Clipped: a signal far outside what the gate was fitted on (a one-article index) must not decide alone.
        z = np.clip((vector(s) - np.array(self.mean)) / np.array(self.scale), -3.0, 3.0)
        return float(1.0 / (1.0 + math.exp(-(z @ np.array(self.weights) + self.bias))))

    def answerable(self, s: Signals, passages: int = 0) -> bool:
        return self.probability(s) >= self.threshold_at(passages)


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 2000, lr: float = 0.5) -> tuple:
    """Logistic regression by gradient descent on standardised features; returns (mean, scale, w, b)."""
    mean, std = x.mean(0), x.std(0)
    scale = np.where(std < 1e-6, 1.0, std)  # a constant signal (e.g. one language only) stays out
    z = (x - mean) / scale
    w, b = np.zeros(z.shape[1]), 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z @ w + b)))
        g = p - y
        w -= lr * (z.T @ g / len(y) + l2 * w)
        b -= lr * g.mean()
    return mean, scale, w, b


def choose_threshold(p: np.ndarray, y: np.ndarray, max_false_refusals: float = 0.04) -> float:
    """The threshold with the best unanswerable F1 (refusing is the positive class) whose share of answerable
    questions refused stays at most `max_false_refusals`."""
    best = (-1.0, 0.0)
    for t in np.unique(np.concatenate([p, [0.0]])):
        refuse = p < t
        if y.sum() and (refuse & (y == 1)).sum() / y.sum() > max_false_refusals:
            continue
        f1 = refusal_f1(refuse, y)
        if f1 > best[0]:
            best = (f1, float(t))
    return best[1]


def refusal_f1(refuse: np.ndarray, y: np.ndarray) -> float:
    tp = float((refuse & (y == 0)).sum())
    if tp == 0:
        return 0.0
    precision, recall = tp / refuse.sum(), tp / (y == 0).sum()
    return 2 * precision * recall / (precision + recall)


def answerable(s: Signals, gate: "Gate | None" = None, passages: int = 0) -> bool:
    """Answer (True) or refuse: the fitted GATE for sources in the question's language, GATE_CROSS for sources
    in another (cross-lingual cosines run lower and the question's own words are not in them: its coverage is
    that of its words translated through the index's lexicon), unless another gate is given. `passages`: how
    many the searched index holds (its bar, `Gate.threshold_at`)."""
    gate = gate or (GATE if s.same_lang else GATE_CROSS)  # (None: not judged)
    return gate is None or gate.answerable(s, passages)


# Fitted by scripts/fit_answerable.py on ARCD train (see its docstring; --questions-en eval/gold/arcd_en.jsonl):
# 693 answerable Arabic questions and 468 own-paragraph-removed twins (225 more dropped: their answer was still in
# the shown passages). Held-out articles (266 rows): AUC 0.890; with the pipeline's own bar, unanswerable F1
# 0.311 → 0.615, answerable refused 0.7 % → 2.6 %. Regenerate with that script.
GATE: Gate | None = Gate(
    mean=(0.8668, 0.0167, 1.026, 1.7308, 0.866, 0.8702, 0.0585, 0.556, 0.5766, 0.286, 0.2235, 0.3951, 1.0),
    scale=(0.0366, 0.025, 1.2639, 0.4497, 0.0365, 0.0331, 0.0312, 0.2315, 0.2227, 0.4519, 0.4166, 0.138, 1.0),
    weights=(0.4576, -0.4607, 0.444, 0.1013, 0.2449, 0.3415, -0.4325, 0.6172, 0.2524, -0.0109, 0.1049, 0.2574, 0.0),
    bias=0.596, threshold=0.2513,
    # ARCD train's own index (356 passages): the fitted bar. The SaudiNewsNet archive (125,371 passages): the bar
    # that refuses 4 % of the news gold set's answerable Arabic questions on its fit split (scripts/
    # calibrate_gate.py); its held-out twins (questions with their own articles masked) and the hand-written
    # unanswerable questions, never used to set it, are what it was judged on.
    calibrated=((356, 0.2513), (125_371, 0.83)))
# Sources in another language than the question's are not gated. A gate fitted the same way on ARCD train's 169
# questions translated into English (eval/gold/arcd_en.jsonl, coverage through the lexicon) and their 112 removed
# twins reached held-out unanswerable F1 0.286 at 2.6 % answerable refused (AUC 0.73), but on the seed gold set
# it refused 13.5 % of answerable English questions and caught no more unanswerable ones: it did not carry from
# Wikipedia to news, so it is not used.
GATE_CROSS: Gate | None = None
