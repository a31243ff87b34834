"""Evaluation runs: retrieval (ranx metrics per method and language) and cited answers."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from rag.evaluation.gold import GoldQuestion, is_relevant
from rag.evaluation.metrics import (
    CURVE_KS,
    REPORT_METRICS,
    best_f1,
    contains_answer,
    exact_match,
    f1_score,
    first_line,
    first_relevant_rank,
    percentile,
    quote_in,
    ranked_run,
    ranx_evaluate,
    ratio,
    short_answer,
)

Tick = Callable[[], None]


def _langs(questions: Iterable[GoldQuestion]) -> list[str]:
    return sorted({q.lang for q in questions})


# ---------------------------------------------------------------- retrieval

def qrels_for(questions: list[GoldQuestion], passages) -> dict[str, dict[str, int]]:
    """Relevant doc ids per answerable question: article ids (SQuAD/ARCD) or every passage of the index
    that holds an evidence quote (seed gold)."""
    qrels = {}
    for q in questions:
        if not q.answerable:
            continue
        if q.relevant_articles is not None:
            qrels[q.id] = {a: 1 for a in q.relevant_articles}
        else:
            qrels[q.id] = {p.id: 1 for p in passages if is_relevant(p, q)}
    return qrels


def evaluate_retrieval(questions: list[GoldQuestion], retriever, methods: list[str], k: int = 20,
                       tick: Tick | None = None) -> dict:
    """Rank every question with every method; return per-question results and ranx summaries.

    For questions judged by article (SQuAD/ARCD) the passage ranking is collapsed to articles (first
    occurrence wins), after retrieving 3·k passages so that k distinct articles are usually there."""
    qrels = qrels_for(questions, retriever.index.passages)
    runs: dict[str, dict[str, dict[str, float]]] = {m: {} for m in methods}
    per_q = []
    for q in questions:
        by_article = q.relevant_articles is not None
        relevant = set(qrels.get(q.id, {}))
        entry = {"id": q.id, "question": q.question, "lang": q.lang, "answerable": q.answerable, "kind": q.kind,
                 "article": q.article, "n_relevant": len(relevant), "methods": {}}
        for m in methods:
            t0 = time.perf_counter()
            hits = retriever.search(q.question, 3 * k if by_article else k, m, lang=q.lang)
            dt = time.perf_counter() - t0
            ids = list(dict.fromkeys(h.passage.article_id if by_article else h.passage.id for h in hits))[:k]
            runs[m][q.id] = ranked_run(ids)
            top = hits[0] if hits else None
            entry["methods"][m] = {
                "rank": first_relevant_rank(ids, relevant) if relevant else None,
                "top": ids[:10],
                "latency_ms": round(dt * 1000, 2),
                "top_score": None if top is None else round(top.score, 4),
                "top_dense": None if top is None or top.dense is None else round(top.dense, 4),
            }
        per_q.append(entry)
        if tick:
            tick()
    return {"kind": "retrieval", "methods": methods, "k": k, "questions": per_q,
            **summarise_retrieval(questions, qrels, runs, methods)}


def summarise_retrieval(questions, qrels, runs, methods) -> dict:
    groups = {"all": [q.id for q in questions]}
    for lang in _langs(questions):
        groups[lang] = [q.id for q in questions if q.lang == lang]
    summary, curves = {}, {}
    for m in methods:
        summary[m], curves[m] = {}, {}
        for g, ids in groups.items():
            sub = {q: qrels[q] for q in ids if qrels.get(q)}
            if not sub:
                continue
            res = ranx_evaluate(sub, runs[m], list(REPORT_METRICS.values()))
            summary[m][g] = {name: round(res[metric], 4) for name, metric in REPORT_METRICS.items()}
            summary[m][g]["n"] = len(sub)
            curve = ranx_evaluate(sub, runs[m], [f"hit_rate@{i}" for i in CURVE_KS])
            curves[m][g] = [round(curve[f"hit_rate@{i}"], 4) for i in CURVE_KS]
    return {"summary": summary, "curves": curves, "curve_ks": CURVE_KS}


def latency_summary(result: dict) -> dict:
    out = {}
    for m in result["methods"]:
        vals = [q["methods"][m]["latency_ms"] for q in result["questions"]]
        out[m] = {"p50_ms": round(percentile(vals, 50), 2), "p95_ms": round(percentile(vals, 95), 2)}
    return out


# ---------------------------------------------------------------- answers

def evaluate_answers(questions: list[GoldQuestion], answer_fn, backend: str | None = None, top_k: int | None = None,
                     tick: Tick | None = None, ask: Callable | None = None) -> dict:
    """Ask every question through `answer_fn` (the `rag.answer` contract) and score the cited answers.
    `ask(question, answer)`: how to ask one GoldQuestion instead (e.g. with its own paragraph masked out)."""
    per_q = []
    for q in questions:
        t0 = time.perf_counter()
        try:
            a = ask(q, lambda: answer_fn(q.question, backend=backend, top_k=top_k)) if ask else \
                answer_fn(q.question, backend=backend, top_k=top_k)
        except Exception as exc:  # one broken question must not sink the run; it is counted and shown
            per_q.append({"id": q.id, "question": q.question, "lang": q.lang, "answerable": q.answerable,
                          "kind": q.kind, "error": f"{type(exc).__name__}: {exc}",
                          "latency_s": round(time.perf_counter() - t0, 4)})
            if tick:
                tick()
            continue
        dt = time.perf_counter() - t0
        per_q.append(score_answer(q, a, dt))
        if tick:
            tick()
    return {"kind": "answers", "backend": backend, "questions": per_q, "summary": summarise_answers(per_q)}


def score_answer(q: GoldQuestion, a, seconds: float) -> dict:
    shown = {h.passage.id: h.passage for h in a.passages}
    cits = []
    for c in a.citations:
        p = shown.get(c.passage_id)
        exists = p is not None
        valid = exists and quote_in(p.text, c.quote)
        gold = bool(exists and q.answerable and is_relevant(p, q))
        cits.append({"number": c.number, "passage_id": c.passage_id, "quote": c.quote, "exists": exists,
                     "valid": valid, "gold_evidence": gold, "support": getattr(c, "support", None)})
    cited_text = " ".join(c.quote for c in a.citations)
    refused = bool(a.refused)
    answered = q.answerable and not refused
    short = "" if refused else short_answer(a.text)
    correct = bool(q.answerable and not refused and contains_answer(a.text, q.answers))
    correct_cited = bool(q.answerable and not refused and (correct or contains_answer(cited_text, q.answers)))
    shown_rel = [i for i, h in enumerate(a.passages, 1) if q.answerable and is_relevant(h.passage, q)]
    return {
        "id": q.id, "question": q.question, "lang": q.lang, "answerable": q.answerable, "kind": q.kind,
        "answer": a.text, "answer_lang": a.language, "refused": refused, "citations": cits,
        "shown": [h.passage.id for h in a.passages], "first_relevant_shown": shown_rel[0] if shown_rel else None,
        "evidence_hit": any(c["gold_evidence"] for c in cits),
        "correct": correct, "correct_or_cited": correct_cited,
        "f1": round(best_f1(a.text, q.answers), 4) if q.answerable and not refused else 0.0,
        # The short answer the reply leads with (its first line), scored against the gold spans.
        "short": short, "short_em": bool(answered and exact_match(short, q.answers)),
        "short_f1": round(best_f1(short, q.answers), 4) if answered else 0.0,
        "first_line_hit": bool(answered and contains_answer(first_line(a.text), q.answers)),
        # Issue 10's English rows: the gold answer is in the first cited quote; the short answer was translated
        # (a checked translation of the span, shown beside the source's words).
        "first_quote_hit": bool(answered and a.citations and contains_answer(a.citations[0].quote, q.answers)),
        "translated": bool(not refused and a.citations and getattr(a.citations[0], "translation", "")),
        "latency_s": round(seconds, 4), "timings": dict(getattr(a, "timings", {}) or {}),
    }


def summarise_answers(per_q: list[dict]) -> dict:
    out = {"all": _answer_metrics(per_q)}
    for lang in sorted({r["lang"] for r in per_q}):
        out[lang] = _answer_metrics([r for r in per_q if r["lang"] == lang])
    return out


def _answer_metrics(rows: list[dict]) -> dict:
    ok = [r for r in rows if "error" not in r]
    ans = [r for r in ok if r["answerable"]]
    una = [r for r in ok if not r["answerable"]]
    cits = [c for r in ok for c in r["citations"]]
    ans_cits = [c for r in ans for c in r["citations"]]
    refused = [r for r in ok if r["refused"]]
    lat = [r["latency_s"] for r in ok]
    return {
        "n": len(rows), "errors": len(rows) - len(ok), "answerable": len(ans), "unanswerable": len(una),
        "citation_validity": _r(ratio(sum(c["valid"] for c in cits), len(cits))),
        "citation_precision": _r(ratio(sum(c["gold_evidence"] for c in ans_cits), len(ans_cits))),
        "evidence_recall": _r(ratio(sum(r["evidence_hit"] for r in ans), len(ans))),
        "answer_contains_gold": _r(ratio(sum(r["correct"] for r in ans), len(ans))),
        "answer_or_citation_contains_gold": _r(ratio(sum(r["correct_or_cited"] for r in ans), len(ans))),
        "token_f1": _r(sum(r["f1"] for r in ans) / len(ans)) if ans else float("nan"),
        "refusal_precision": _r(ratio(sum(not r["answerable"] for r in refused), len(refused))),
        "refusal_recall": _r(ratio(sum(r["refused"] for r in una), len(una))),
        # Refusing is the positive class: F1 of "refuse" against "unanswerable".
        "unanswerable_f1": _r(f1_score(ratio(sum(not r["answerable"] for r in refused), len(refused)),
                                       ratio(sum(r["refused"] for r in una), len(una)))),
        "short_em": _r(ratio(sum(r.get("short_em", False) for r in ans), len(ans))),
        "short_f1": _r(sum(r.get("short_f1", 0.0) for r in ans) / len(ans)) if ans else float("nan"),
        "first_line_hit": _r(ratio(sum(r.get("first_line_hit", False) for r in ans), len(ans))),
        "first_quote_hit": _r(ratio(sum(r.get("first_quote_hit", False) for r in ans), len(ans))),
        "answered_translated": _r(ratio(sum(r.get("translated", False) for r in ans), len(ans))),
        "short_words_mean": _r(sum(len(r.get("short", "").split()) for r in ans if not r["refused"])
                               / max(1, sum(not r["refused"] for r in ans))),
        "false_refusals": sum(r["refused"] for r in ans),
        "answerable_refused": _r(ratio(sum(r["refused"] for r in ans), len(ans))),
        "citations": len(cits),
        "latency_p50_s": _r(percentile(lat, 50)), "latency_p95_s": _r(percentile(lat, 95)),
    }


def _r(x: float) -> float:
    return round(x, 4) if x == x else x
