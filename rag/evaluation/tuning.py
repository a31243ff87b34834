"""Fusion-weight sweep (ARCD train only) and refusal-threshold calibration (seed gold)."""
from __future__ import annotations

import dataclasses

import numpy as np

from rag.evaluation.gold import GoldQuestion
from rag.evaluation.runner import evaluate_retrieval


class CachedQueries:
    """Gives a Retriever a query embedder (its `embed_query` hook) that embeds each question once; search,
    fusion and scoring stay the retriever's own. With `path`, the cache persists as .npz beside a dataset
    index, so the retrieval run and the fusion sweep share it. Search latencies then exclude query embedding."""

    def __init__(self, retriever, path=None) -> None:
        self.retriever = retriever
        self.path = path
        self.cache: dict[str, np.ndarray] = {}
        self.model_id = retriever.embedder.model_id
        if path is not None and path.exists():
            data = np.load(path, allow_pickle=False)
            if str(data["model_id"]) == self.model_id:
                self.cache = {q: v[None, :] for q, v in zip(data["questions"].tolist(), data["vectors"])}
        embedder = retriever.embedder

        def embed(question: str) -> np.ndarray:
            if question not in self.cache:
                self.cache[question] = embedder.embed_queries([question])
            return self.cache[question]

        retriever.embed_query = embed

    def save(self) -> None:
        if self.path is None or not self.cache:
            return
        qs = list(self.cache)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, model_id=np.array(self.model_id), questions=np.array(qs),
                 vectors=np.vstack([self.cache[q] for q in qs]).astype(np.float32))
        tmp.replace(self.path)


def query_cache_path(retriever):
    return retriever.index.path / "eval-query-cache.npz"


def sweep_dense_weight(questions: list[GoldQuestion], retriever, weights: list[float], k: int = 20,
                       tick=None) -> dict:
    """Fused retrieval at each dense weight; returns {weight: result}. The given retriever is not changed."""
    cache = CachedQueries(retriever, query_cache_path(retriever))
    out = {}
    try:
        for w in weights:
            out[w] = evaluate_retrieval(questions, dataclasses.replace(retriever, dense_weight=w), ["fused"], k=k,
                                        tick=tick)
    finally:
        cache.save()
    return out


def top_dense_scores(questions: list[GoldQuestion], retriever, tick=None) -> list[dict]:
    """The dense cosine of the rank-1 passage of the fused search, per question."""
    rows = []
    for q in questions:
        hits = retriever.search(q.question, 1, "fused", lang=q.lang)
        rows.append({"id": q.id, "lang": q.lang, "answerable": q.answerable,
                     "top_dense": float(hits[0].dense) if hits else float("nan"),
                     "cross": bool(hits) and hits[0].passage.lang != q.lang})
        if tick:
            tick()
    return rows


def suggest_threshold(rows: list[dict]) -> dict:
    """The cut on top dense score that best separates answerable (≥ cut) from unanswerable (< cut), by
    balanced accuracy; ties go to the lower cut (fewer false refusals). Candidates are midpoints between
    sorted observed scores."""
    pos = np.array([r["top_dense"] for r in rows if r["answerable"]])
    neg = np.array([r["top_dense"] for r in rows if not r["answerable"]])
    if not len(pos) or not len(neg):
        return {"threshold": float("nan"), "balanced_accuracy": float("nan")}
    vals = np.unique(np.concatenate([pos, neg]))
    cands = np.concatenate([[vals[0] - 1e-3], (vals[:-1] + vals[1:]) / 2, [vals[-1] + 1e-3]])
    best, best_bal = None, -1.0
    for t in cands:
        tpr = float((pos >= t).mean())  # answerable kept
        tnr = float((neg < t).mean())  # unanswerable refused
        bal = (tpr + tnr) / 2
        if bal > best_bal + 1e-9:
            best_bal = bal
            best = {"threshold": round(float(t), 4), "balanced_accuracy": round(bal, 4),
                    "answerable_kept": round(tpr, 4), "unanswerable_refused": round(tnr, 4)}
    return best


def describe(values: list[float]) -> dict:
    a = np.array(values, dtype=float)
    if not len(a):
        return {"n": 0}
    return {"n": int(len(a)), "min": round(float(a.min()), 4), "p10": round(float(np.percentile(a, 10)), 4),
            "median": round(float(np.median(a)), 4), "p90": round(float(np.percentile(a, 90)), 4),
            "max": round(float(a.max()), 4)}


def at_threshold(rows: list[dict], same: float, cross: float | None = None) -> dict:
    """What the current thresholds do: `same` applies when the top passage is in the question's language,
    `cross` (settings.min_score_cross) when it is not."""
    cross = same if cross is None else cross

    def refused(r: dict) -> bool:
        return r["top_dense"] < (cross if r.get("cross") else same)

    pos = [r for r in rows if r["answerable"]]
    neg = [r for r in rows if not r["answerable"]]
    return {"min_score": same, "min_score_cross": cross, "answerable_refused": sum(map(refused, pos)),
            "answerable": len(pos), "unanswerable_refused": sum(map(refused, neg)), "unanswerable": len(neg)}
