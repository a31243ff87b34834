"""Calibrate the refusal gate's bar for a big index (rag/answering/answerable.py `Gate.calibrated`) on the news
gold set — no refitting, the gate's weights stay those fitted on ARCD train.

    SANAD_INDEX_DIR=… SANAD_INDEX_NAME=snn python scripts/calibrate_gate.py eval/gold/news.jsonl [--cache rows.json]

Over a bigger index every question finds closer passages, so the gate's P(answerable) runs higher for answerable
and unanswerable questions alike. Each answerable Arabic gold question whose article the current index holds is
asked as is, and again with its relevant articles masked out of retrieval (its twin: unanswerable, dropped when the
gold answer is still shown, as news outlets repeat a story); the hand-written unanswerable questions are asked too.
The bar is the one refusing at most `--max-false-refusals` of the answerable questions on the fit split (articles
split as `sanad eval answers --split` splits them). Only answerable questions set it, so the held-out twins and all
the hand-written unanswerable questions judge it. Prints the figures and the (passages, threshold) point.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.answering import answerable, extractive  # noqa: E402
from rag.backends.extractive import reading  # noqa: E402
from rag.evaluation.unanswerable import cached_rows, excluding, leaks, split_of  # noqa: E402


def collect(news: Path) -> dict:
    from rag.evaluation.cli import news_dataset
    from rag.evaluation.news import load_news_gold, unanswerable_questions
    from rag.sanad import Sanad
    from rag.settings import get_settings

    settings = get_settings()
    _, questions, _, _, notes = news_dataset(news, settings)
    print(notes[0])
    sanad = Sanad(settings)
    retriever, res = sanad.retriever, sanad.resources()
    rows = []

    def ask(q, kind: str, y: int, masked: set[str] | None = None) -> None:
        if masked:
            with excluding(retriever, masked):
                hits = sanad.search(q.question, settings.top_k, lang=q.lang)
            if not hits or leaks(q.answers, [h.passage.text for h in hits]):
                return
        else:
            hits = sanad.search(q.question, settings.top_k, lang=q.lang)
        if not hits or hits[0].passage.lang != q.lang:
            return
        a = extractive.analyse(q.question, q.lang, sanad.embed_query(q.question)[0], hits, res.sentences,
                               res.translated_terms(q.question), reading(q.question, q.lang, hits, res))
        rows.append({"id": q.id, "split": split_of(q), "kind": kind, "y": y,
                     "pre_refused": (hits[0].dense or 0.0) < settings.min_score, "p": answerable.GATE.probability(a.signals)})

    for q in questions:
        if q.lang == "ar":
            ask(q, "asked", 1)
            ask(q, "twin", 0, set(q.relevant_articles or {q.article}))
    for q in unanswerable_questions(load_news_gold(news)):
        if q.lang == "ar":
            ask(q, "hand", 0)
    return {"passages": retriever.size, "rows": rows}


def report(rows: list[dict], t: float) -> None:
    p = np.array([r["p"] for r in rows])
    y = np.array([r["y"] for r in rows])
    refuse = np.array([r["pre_refused"] for r in rows]) | (p < t)
    kind = np.array([r["kind"] for r in rows])
    fit = np.array([r["split"] == "fit" for r in rows])
    for name, sel in (("fit split, twins", fit & (kind != "hand")), ("held-out split, twins", ~fit & (kind != "hand")),
                      ("hand-written unanswerable vs all answerable", kind != "twin")):
        r, yy = refuse[sel], y[sel]
        print(f"{name:44s}: unanswerable F1 {answerable.refusal_f1(r, yy):.3f}  refused {(r & (yy == 0)).sum()}/"
              f"{(yy == 0).sum()} unanswerable, {(r & (yy == 1)).sum()}/{(yy == 1).sum()} answerable")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("news", type=Path)
    ap.add_argument("--cache", type=Path, help="rows JSON: reused when present, written otherwise")
    ap.add_argument("--max-false-refusals", type=float, default=0.04)
    args = ap.parse_args()
    data = cached_rows(args.cache, lambda: collect(args.news))
    rows = data["rows"]
    fit_p = np.sort([r["p"] for r in rows if r["split"] == "fit" and r["y"] == 1])
    t = round(float(fit_p[int(args.max_false_refusals * len(fit_p))]), 2)
    for name, bar in (("the fitted bar", answerable.GATE.threshold), ("the bar at this index's size now",
                                                                       answerable.GATE.threshold_at(data["passages"])),
                      ("the calibrated bar", t)):
        print(f"== {name}: {bar:.4f}")
        report(rows, bar)
    print(f"calibrated point: ({data['passages']}, {t})")


if __name__ == "__main__":
    main()
