"""Fit the extractive backend's refusal gate (rag/answering/answerable.py) on ARCD train — nothing else.

    SANAD_HOME=/tmp/x python scripts/fit_answerable.py ../shared/data/arcd-train \
        [--questions-en eval/gold/arcd_en.jsonl] [--cache rows.json]

Every ARCD question is asked twice over the ARCD index: as is (answerable) and with its own paragraph masked out
of retrieval (unanswerable; dropped when the gold answer still appears in what is shown). The backend's own
analysis (`extractive.analyse`) gives the signals. Articles are split fit / held-out
(`rag.evaluation.unanswerable.split_of`); the logistic model and its threshold (answerable refused ≤ 4 % on the
fit split) are fitted on the fit split; held-out unanswerable F1 and answerable-refused rate are printed, then
the GATE literal to paste into answerable.py. With `--questions-en` (ARCD questions translated by hand), English
questions over the Arabic passages are asked the same way and fit a second gate, GATE_CROSS, for answers from
sources in another language than the question's (their cosines run lower and share no words). Also prints the short-answer F1 / first-line hit of the leads.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.answering import answerable, extractive  # noqa: E402
from rag.backends.extractive import reading  # noqa: E402
from rag.evaluation.metrics import best_f1, contains_answer  # noqa: E402
from rag.evaluation.unanswerable import cached_rows, excluding, leaks, split_of  # noqa: E402


def collect(folder: Path, questions_en: Path | None = None) -> list[dict]:
    from rag.evaluation.squad import dataset_index, load_arcd
    from rag.sanad import Sanad
    from rag.settings import get_settings

    settings = get_settings()
    ds = load_arcd(folder, questions_en)
    dataset_index(ds, settings)
    sanad = Sanad(replace(settings, index_name=ds.name))
    retriever = sanad.retriever
    res = sanad.resources()
    rows = []
    for q in ds.questions:
        q_vec = sanad.embed_query(q.question)[0]
        for removed in (False, True):
            if removed:
                with excluding(retriever, set(q.relevant_articles or {q.article})):
                    hits = sanad.search(q.question, settings.top_k, lang=q.lang)
                if not hits or leaks(q.answers, [h.passage.text for h in hits]):
                    continue
            else:
                hits = sanad.search(q.question, settings.top_k, lang=q.lang)
            if not hits:
                continue
            a = extractive.analyse(q.question, q.lang, q_vec, hits, res.sentences, res.translated_terms(q.question),
                                   reading(q.question, q.lang, hits, res))
            short = a.short.span.text if a.short else ""
            sent = a.short.sentence.text if a.short else ""
            rows.append({"id": q.id, "split": split_of(q), "y": 0 if removed else 1, "lang": q.lang,
                         "short_conf": a.short.span.confidence if a.short else 0.0,
                         "pre_refused": (hits[0].dense or 0.0) < (settings.min_score if hits[0].passage.lang == q.lang
                                                                  else settings.min_score_cross),
                         "x": answerable.vector(a.signals).tolist(), "answers": q.answers, "short": short,
                         "sentence": sent, "question": q.question})
    return rows


def spans_report(rows: list[dict], fit_rows: np.ndarray) -> None:
    """Short-answer F1 / first-line hit when an unsure span (expected F1 < SPAN_SURE) widens to its clause."""
    from rag.answering import span as spans

    for sure in (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 1.01):
        out = []
        for r, f in zip(rows, fit_rows):
            if r["y"] != 1 or not r["short"]:
                continue
            at = r["sentence"].find(r["short"])
            sp = spans.Span(at, at + len(r["short"]), r["short"], "other", 0.0, r["short_conf"])
            lead = sp.text if sp.confidence >= sure else extractive.clause_around(r["sentence"], sp).text
            out.append((f, best_f1(lead, r["answers"]), contains_answer(lead, r["answers"]), len(lead.split())))
        for name, flag in (("fit", True), ("held-out", False)):
            sel = [o for o in out if o[0] == flag]
            print(f"SPAN_SURE {sure:.2f} {name:8s}: lead F1 {np.mean([o[1] for o in sel]):.3f}  "
                  f"lead holds gold {np.mean([o[2] for o in sel]):.3f}  words {np.mean([o[3] for o in sel]):.1f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("--questions-en", type=Path, help="JSONL of English translations (eval/gold/arcd_en.jsonl)")
    ap.add_argument("--cache", type=Path, help="rows JSON: reused when present, written otherwise")
    ap.add_argument("--max-false-refusals", type=float, default=0.04)
    args = ap.parse_args()
    rows = cached_rows(args.cache, lambda: collect(args.folder, args.questions_en))
    same = [r for r in rows if r["x"][answerable.FEATURES.index("same_lang")] == 1.0]
    cross = [r for r in rows if r["x"][answerable.FEATURES.index("same_lang")] != 1.0]
    fit_gate("GATE", same, args.max_false_refusals, report_spans=True)
    if cross:
        fit_gate("GATE_CROSS", cross, args.max_false_refusals, report_spans=False)


def fit_gate(name: str, rows: list[dict], max_false_refusals: float, report_spans: bool) -> None:
    """Fit one gate on the fit split of `rows`, print its held-out figures and the literal to paste."""
    print(f"== {name}")
    x = np.array([r["x"] for r in rows])
    y = np.array([r["y"] for r in rows])
    pre = np.array([r["pre_refused"] for r in rows])
    fit_rows = np.array([r["split"] == "fit" for r in rows])
    print(f"rows {len(rows)}: answerable {int(y.sum())}, unanswerable {int((y == 0).sum())}; "
          f"held-out {int((~fit_rows).sum())} ({int(y[~fit_rows].sum())} answerable)")
    mean, scale, w, b = answerable.fit(x[fit_rows], y[fit_rows])
    gate = answerable.Gate(*(tuple(float(v) for v in a.round(4)) for a in (mean, scale, w)), round(float(b), 4), 0.0)
    p = np.array([gate.probability(answerable.Signals(*v)) for v in x])
    # The pipeline's own bar already refuses some (pre): the threshold keeps the refusals of both together in bounds.
    t = answerable.choose_threshold(np.where(pre, -1.0, p)[fit_rows], y[fit_rows], max_false_refusals)
    for split, sel in (("fit", fit_rows), ("held-out", ~fit_rows)):
        for label, refuse in (("pipeline only", pre), ("gate", pre | (p < t))):
            r, yy = refuse[sel], y[sel]
            print(f"{split:8s} {label:13s}: unanswerable F1 {answerable.refusal_f1(r, yy):.3f}  "
                  f"recall {(r & (yy == 0)).sum() / max(1, (yy == 0).sum()):.3f}  "
                  f"answerable refused {(r & (yy == 1)).sum() / max(1, yy.sum()):.3f}")
    if report_spans:
        spans_report(rows, fit_rows)
    for split, sel in (("fit", fit_rows), ("held-out", ~fit_rows)):
        ans = [r for r, s in zip(rows, sel) if s and r["y"] == 1]
        f1 = np.mean([best_f1(r["short"], r["answers"]) for r in ans])
        hit = np.mean([contains_answer(r["short"], r["answers"]) for r in ans])
        sent = np.mean([contains_answer(r["sentence"], r["answers"]) for r in ans])
        print(f"{split:8s} short F1 {f1:.3f}  short holds gold {hit:.3f}  its sentence holds gold {sent:.3f}")
    from sklearn.metrics import roc_auc_score

    print(f"held-out AUC (answerable vs own paragraph removed): {roc_auc_score(y[~fit_rows], p[~fit_rows]):.3f}")
    for f in answerable.FEATURES:
        v = x[:, answerable.FEATURES.index(f)]
        if v.std() > 0:
            print(f"  AUC {f:14s} {roc_auc_score(y, v):.3f}")
    print("weights:", dict(zip(answerable.FEATURES, gate.weights)))
    print(f"{name} = Gate(mean={gate.mean}, scale={gate.scale},\n            weights={gate.weights},\n"
          f"            bias={gate.bias}, threshold={t:.4f})")


if __name__ == "__main__":
    main()
