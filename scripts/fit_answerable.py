"""Fit the extractive backend's refusal gate (rag/answering/answerable.py) on ARCD train — nothing else.

    SANAD_HOME=/tmp/x python scripts/fit_answerable.py ../shared/data/arcd-train [--cache rows.json]

Every ARCD question is asked twice over the ARCD index: as is (answerable) and with its own paragraph masked out
of retrieval (unanswerable; dropped when the gold answer still appears in what is shown). The backend's own
analysis (`extractive.analyse`) gives the signals. Articles are split fit / held-out
(`rag.evaluation.unanswerable.split_of`); the logistic model and its threshold (answerable refused ≤ 4 % on the
fit split) are fitted on the fit split; held-out unanswerable F1 and answerable-refused rate are printed, then
the GATE literal to paste into answerable.py. Also prints the short-answer F1 / first-line hit of the leads.
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
from rag.evaluation.metrics import best_f1, contains_answer  # noqa: E402
from rag.evaluation.unanswerable import excluding, leaks, split_of  # noqa: E402


def collect(folder: Path) -> list[dict]:
    from rag.evaluation.squad import dataset_index, load_arcd
    from rag.sanad import Sanad
    from rag.settings import get_settings

    settings = get_settings()
    ds = load_arcd(folder)
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
            a = extractive.analyse(q.question, q.lang, q_vec, hits, res.sentences)
            short = a.short.span.text if a.short else ""
            sent = a.short.sentence.text if a.short else ""
            rows.append({"id": q.id, "split": split_of(q), "y": 0 if removed else 1,
                         "pre_refused": (hits[0].dense or 0.0) < settings.min_score,
                         "x": answerable.vector(a.signals).tolist(), "answers": q.answers, "short": short,
                         "sentence": sent, "question": q.question})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("--cache", type=Path, help="rows JSON: reused when present, written otherwise")
    ap.add_argument("--max-false-refusals", type=float, default=0.04)
    args = ap.parse_args()
    if args.cache and args.cache.exists():
        rows = json.loads(args.cache.read_text())
    else:
        rows = collect(args.folder)
        if args.cache:
            args.cache.write_text(json.dumps(rows, ensure_ascii=False))
    x = np.array([r["x"] for r in rows])
    y = np.array([r["y"] for r in rows])
    pre = np.array([r["pre_refused"] for r in rows])
    fit_rows = np.array([r["split"] == "fit" for r in rows])
    print(f"rows {len(rows)}: answerable {int(y.sum())}, unanswerable {int((y == 0).sum())}; "
          f"held-out {int((~fit_rows).sum())} ({int(y[~fit_rows].sum())} answerable)")
    mean, scale, w, b = answerable.fit(x[fit_rows], y[fit_rows])
    gate = answerable.Gate(tuple(mean.round(4)), tuple(scale.round(4)), tuple(w.round(4)), round(float(b), 4), 0.0)
    p = np.array([gate.probability(answerable.Signals(*v)) for v in x])
    t = answerable.choose_threshold(p[fit_rows & ~pre], y[fit_rows & ~pre], args.max_false_refusals)
    for name, sel in (("fit", fit_rows), ("held-out", ~fit_rows)):
        for label, refuse in (("pipeline only", pre), ("gate", pre | (p < t))):
            r, yy = refuse[sel], y[sel]
            print(f"{name:8s} {label:13s}: unanswerable F1 {answerable.refusal_f1(r, yy):.3f}  "
                  f"recall {(r & (yy == 0)).sum() / max(1, (yy == 0).sum()):.3f}  "
                  f"answerable refused {(r & (yy == 1)).sum() / max(1, yy.sum()):.3f}")
    for name, sel in (("fit", fit_rows), ("held-out", ~fit_rows)):
        ans = [r for r, s in zip(rows, sel) if s and r["y"] == 1]
        f1 = np.mean([best_f1(r["short"], r["answers"]) for r in ans])
        hit = np.mean([contains_answer(r["short"], r["answers"]) for r in ans])
        sent = np.mean([contains_answer(r["sentence"], r["answers"]) for r in ans])
        print(f"{name:8s} short F1 {f1:.3f}  short holds gold {hit:.3f}  its sentence holds gold {sent:.3f}")
    print("weights:", dict(zip(answerable.FEATURES, gate.weights)))
    print(f"GATE = Gate(mean={gate.mean}, scale={gate.scale},\n            weights={gate.weights},\n"
          f"            bias={gate.bias}, threshold={t:.4f})")


if __name__ == "__main__":
    main()
