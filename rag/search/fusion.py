"""Hybrid-search scoring as pure functions: numpy arrays in, ranked (passage id, score) out; no model, no index.

A passage's dense score is the mean of its own cosine and its best sentence's cosine. The fused score is a
weighted sum of z-scored dense and BM25 scores over the union of both candidate pools (measured on ARCD train
to beat reciprocal-rank fusion). BM25 only votes for passages in the question's language: across languages
its matches are noise and ruin the ranking, so such a passage keeps its dense z-score alone.

A question in another language than most of its dense candidates (English over an Arabic archive) gets no vote
from its own words' BM25: mislabelled mixed-script passages would be pooled in and lifted over the Arabic answer
(it cost English MRR@10 0.671 → 0.659 on a held-out set). Its words translated through the index's lexicon vote
instead, as a bonus over dense's z-score (`translated_vote`).

Scores stay in the arrays' own dtype (float32 from the index) and every sort is stable, so ties keep the
candidates' order (ascending id): rankings are reproducible to the bit.
"""
from __future__ import annotations

import numpy as np

SENTENCE_WEIGHT = 0.5  # share of a passage's dense score that comes from its best-matching sentence


def zscore(x: np.ndarray) -> np.ndarray:
    """(x − mean) / std; all zeros when the scores do not spread (one candidate, or all equal)."""
    if x.size == 0:
        return np.zeros_like(x)
    sd = x.std()
    return (x - x.mean()) / sd if sd > 1e-9 else np.zeros_like(x)


def best_sentence(sentence_cos: np.ndarray, starts: np.ndarray, size: int) -> np.ndarray:
    """Each passage's best sentence cosine (max-pooling). Sentences are stored grouped by passage, in passage
    order; `starts[i]` is passage i's first sentence row. No sentences at all: zeros for the `size` passages."""
    if len(sentence_cos) == 0:
        return np.zeros(size, np.float32)
    return np.maximum.reduceat(sentence_cos, starts)


def dense_score(passage_cos: np.ndarray, best_sentence_cos: np.ndarray,
                sentence_weight: float = SENTENCE_WEIGHT) -> np.ndarray:
    """The sentence term finds the one sentence that answers (ARCD train dense MRR@10 0.783 → 0.807)."""
    return sentence_weight * best_sentence_cos + (1 - sentence_weight) * passage_cos


PARTIAL_SORT_MIN = 4096  # above this many scores, `top` selects before sorting (a full sort of 125k: 3.6 ms)


def top(scores: np.ndarray, n: int) -> np.ndarray:
    """Positions of the n best scores, best first; ties in position order (also at the cut: the earliest win)."""
    if n <= 0:
        return np.zeros(0, np.int64)
    if n >= len(scores) or len(scores) < PARTIAL_SORT_MIN:
        return np.argsort(-scores, kind="stable")[:n]
    cut = scores[np.argpartition(-scores, n - 1)[n - 1]]  # the n-th best value
    above = np.flatnonzero(scores > cut)
    ids = np.concatenate([above, np.flatnonzero(scores == cut)[:n - len(above)]])
    return ids[np.argsort(-scores[ids], kind="stable")]


def candidates(*pools: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """The union of candidate id pools, ascending; only ids where `mask` (one bool per passage) is True."""
    ids = np.unique(np.concatenate(pools).astype(np.int64))
    return ids if mask is None else ids[mask[ids]]


RECENCY_WEIGHT = 0.5  # the newest candidate's bonus, in z-score units (a tie-breaker, not an override)


def recency_bonus(days: np.ndarray, weight: float = RECENCY_WEIGHT) -> np.ndarray:
    """A bonus per candidate by its date's rank among the candidates' dates: `weight` for the newest, 0 for the
    oldest and for undated ones (days < 0). All zeros when fewer than two distinct dates exist."""
    out = np.zeros(len(days), np.float64)
    dated = days >= 0
    distinct = np.unique(days[dated])
    if len(distinct) < 2:
        return out
    out[dated] = weight * np.searchsorted(distinct, days[dated]) / (len(distinct) - 1)
    return out


def bm25_pool(bm25: np.ndarray, eligible: np.ndarray, n: int) -> np.ndarray:
    """Ids of the n best BM25 scores among eligible passages (the question's language), positive scores only."""
    voting = np.where(eligible, bm25, 0.0)
    ids = top(voting, n)
    return ids[voting[ids] > 0]


CROSS_SHARE = 0.5  # below this share of dense candidates in the question's language, the question is cross-language


def cross_language(same_lang: np.ndarray, share: float = CROSS_SHARE) -> bool:
    """True when fewer than `share` of the dense candidates (one bool each: in the question's language) are
    in the question's language, or there are none: then BM25 neither pools nor votes."""
    return same_lang.size == 0 or float(np.mean(same_lang)) < share


SHARED_WEIGHT = 0.0  # see shared_vote; set by measurement on ARCD-en


def shared_tokens(tokens: list[str]) -> list[str]:
    """Question tokens written alike in both languages: those without Arabic letters, i.e. Latin-script names
    and terms and digits (an Arabic passage writes "Bitcoin" or "2018" as an English question does)."""
    from rag.text import arabic

    return [t for t in tokens if not arabic.has_arabic(t)]


def shared_vote(bm25_shared: np.ndarray, weight: float | None = None) -> np.ndarray:
    """A cross-language question's small BM25 vote, from its shared tokens only: `weight` (in z(dense) units)
    times each candidate's shared-token BM25 over the candidates' best; all zeros with no shared-token match,
    so that without such a signal the order stays dense's."""
    weight = SHARED_WEIGHT if weight is None else weight
    top_ = float(bm25_shared.max()) if bm25_shared.size else 0.0
    if top_ <= 0 or weight == 0:
        return np.zeros(len(bm25_shared), np.float64)
    return weight * np.clip(bm25_shared, 0, None).astype(np.float64) / top_


TRANSLATED_WEIGHT = 0.35  # see translated_vote; chosen on ARCD train English (MRR@10 0.802 at 0.35, 0.789 at 0.5)
TRANSLATED_POOL = 20  # candidates the translated BM25 adds to dense's
# A cross-language question's sure names (exonyms, rare names spelled: Retriever.translation) vote again, alone:
# in an archive many articles share a question's topic and its names tell them apart. English R@5 / MRR@10 at
# 0 / 0.1 / 0.2 / 0.35: news gold over the archive 0.785 / 0.617, 0.797 / 0.625, 0.810 / 0.632, 0.810 / 0.637;
# ARCD train 0.959 / 0.810, 0.959 / 0.813, 0.964 / 0.810, 0.970 / 0.803 (seed gold, not used to choose: 0.962 /
# 0.843 → 0.942 / 0.848 at 0.2).
NAMES_WEIGHT = 0.2


def translated_vote(bm25_translated: np.ndarray, weight: float | None = None) -> np.ndarray:
    """A cross-language question's keyword vote: `weight` (default TRANSLATED_WEIGHT) times the z-score, over the
    candidates, of BM25 by its words translated through the index's lexicon (rag/search/lexicon.py). All zeros
    when nothing matched."""
    weight = TRANSLATED_WEIGHT if weight is None else weight
    return weight * zscore(np.asarray(bm25_translated, np.float64))


def fuse(ids: np.ndarray, dense: np.ndarray, bm25: np.ndarray, bm25_eligible: np.ndarray,
         dense_weight: float, bonus: np.ndarray | None = None) -> list[tuple[int, float]]:
    """Every candidate ranked by fused score, best first: (id, score).

    `ids`, `dense`, `bm25` and `bm25_eligible` are aligned (one entry per candidate). Both z-scores are taken
    over all candidates (BM25 raw scores of ineligible passages included); an eligible candidate scores
    w·z(dense) + (1−w)·z(bm25), an ineligible one z(dense); plus `bonus` (e.g. recency) when given.
    With no eligible candidate the order is dense's, exactly (z-scoring is monotone, sorts are stable).
    """
    zd, zb = zscore(dense), zscore(bm25)
    w = dense_weight
    fused = np.where(bm25_eligible, w * zd + (1 - w) * zb, zd)
    if bonus is not None:
        fused = fused + bonus.astype(fused.dtype)
    return [(int(ids[j]), float(fused[j])) for j in top(fused, len(fused))]


def shingles(text: str, n: int = 3) -> frozenset[str]:
    """Word n-gram shingles of a passage's normalised words (for spotting the same story in another outlet)."""
    from rag.text import arabic

    toks = arabic.normalize(text).split()
    return frozenset(" ".join(toks[i:i + n]) for i in range(max(1, len(toks) - n + 1)))


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


SAME_STORY = 0.6  # shingle Jaccard at or above which two passages of different articles tell the same story


def fold_same_story(texts: list[str], groups: list[str], threshold: float = SAME_STORY) -> list[int]:
    """For ranked passages, the position each one folds into: its own, or that of the first better-ranked kept
    passage of another article (`groups`) whose shingles it shares at Jaccard ≥ threshold."""
    sh = [shingles(t) for t in texts]
    into: list[int] = []
    kept: list[int] = []
    for i in range(len(texts)):
        j = next((k for k in kept if groups[k] != groups[i] and jaccard(sh[i], sh[k]) >= threshold), i)
        into.append(j)
        if j == i:
            kept.append(i)
    return into
