"""Audit the local model's answers (issue 10): ask N questions with the `llamacpp` backend and check every figure,
Arabic word and Latin name each answer shows against the passages it showed (`rag/evaluation/audit.py`).
Also counts, for English questions, how many are answered in English (a checked translation of the span) with
the Arabic source span shown beside it.

    PYTHONPATH=$PWD .venv/bin/python scripts/audit_answers.py ../shared/data/arcd-train --ar 50 --en 50 \
        [--out audit.jsonl]

Questions: ARCD train, spread evenly (every len/N-th answerable question), Arabic as written and English from
eval/gold/arcd_en.jsonl (hand translations), over ARCD's own index (the one `sanad eval answers --arcd` builds).
Prints one line per answer as it goes (a flagged answer with what was not found), then the totals.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.evaluation.audit import audit  # noqa: E402
from rag.evaluation.metrics import contains_answer  # noqa: E402


def _latin_span(a) -> bool:
    from rag.text import arabic

    c = a.citations[0]
    p = next((h.passage for h in a.passages if h.passage.id == c.passage_id), None)
    text = p.text[c.span[0]:c.span[1]] if p is not None and c.span else ""
    return bool(text.strip()) and not arabic.has_arabic(text)


def spread(items: list, n: int) -> list:
    step = max(1, len(items) // max(1, n))
    return items[::step][:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("arcd", type=Path)
    ap.add_argument("--ar", type=int, default=50)
    ap.add_argument("--en", type=int, default=50)
    ap.add_argument("--backend", default="llamacpp")
    ap.add_argument("--out", type=Path, default=None, help="JSONL of every audited answer")
    args = ap.parse_args()

    from rag.evaluation.squad import dataset_index, load_arcd
    from rag.sanad import Sanad
    from rag.settings import get_settings

    settings = get_settings()
    ds = load_arcd(args.arcd, ROOT / "eval" / "gold" / "arcd_en.jsonl")
    retriever, _ = dataset_index(ds, settings)
    sanad = Sanad(replace(settings, index_name=retriever.index.path.name))
    ar = spread([q for q in ds.questions if q.answerable and not q.id.endswith(":en")], args.ar)
    en = spread([q for q in ds.questions if q.answerable and q.id.endswith(":en")], args.en)
    print(f"cpus={os.cpu_count()} load_avg={os.getloadavg()[0]:.2f} backend={args.backend} "
          f"questions: {len(ar)} Arabic, {len(en)} English")
    out = args.out.open("w", encoding="utf-8") if args.out else None
    totals = {"answered": 0, "refused": 0, "flagged": 0, "en_asked": 0, "en_in_english": 0, "en_span_shown": 0}
    gold_hits = {"ar": 0, "en": 0}  # the short answer's source span holds a gold answer (is it right, not just safe)
    for i, q in enumerate(ar + en, 1):
        t = time.perf_counter()
        a = sanad.answer(q.question, backend=args.backend)
        dt = time.perf_counter() - t
        english_q = q.id.endswith(":en")
        totals["en_asked"] += english_q
        if a.refused:
            totals["refused"] += 1
            print(f"{i:3d} refused ({dt:.1f}s): {q.question[:70]}", flush=True)
            continue
        totals["answered"] += 1
        finding = audit(q.question, a.text, [h.passage.text for h in a.passages])
        totals["flagged"] += bool(finding.unsupported)
        # in English: a checked translation, or a span the Arabic source writes in Latin letters (shown as is)
        translated = bool(a.citations and (a.citations[0].translation or _latin_span(a)))
        span_shown = bool(a.citations and a.citations[0].span) and _span_in_text(a)
        gold_hits["en" if english_q else "ar"] += contains_answer(_span_text(a) or "", q.answers)
        if english_q:
            totals["en_in_english"] += a.language == "en" and translated
            totals["en_span_shown"] += span_shown
        first = a.text.splitlines()[0] if a.text else ""
        flag = f"  UNSUPPORTED {finding.unsupported}" if finding.unsupported else ""
        # why a translation was not shown (the llamacpp backend's last decision), so failures can be told apart
        rejected = getattr(getattr(sanad.backends.get(args.backend), "last", None), "translation_rejected", "")
        flag += f"  translation rejected: {rejected}" if rejected else ""
        print(f"{i:3d} {'en' if english_q else 'ar'} ({dt:.1f}s) {first[:110]!r}{flag}", flush=True)
        if out:
            out.write(json.dumps({"id": q.id, "question": q.question, "answer": a.text, "refused": a.refused,
                                  "span": _span_text(a) or "", "gold": q.answers,
                                  "translated": translated, "unsupported": finding.unsupported,
                                  "translation_rejected": rejected},
                                 ensure_ascii=False) + "\n")
    n_en = totals["en_asked"]
    print(f"\naudited answers: {totals['answered']} (refused {totals['refused']}); answers with a figure, word or "
          f"name no shown source contains: {totals['flagged']}")
    if n_en:
        print(f"English questions: {n_en}; answered in English (checked translation) {totals['en_in_english']} "
              f"({totals['en_in_english'] / n_en:.2f}); Arabic source span shown {totals['en_span_shown']} "
              f"({totals['en_span_shown'] / n_en:.2f})")
    for lang, asked in (("ar", len(ar)), ("en", n_en)):
        if asked:
            print(f"{lang} questions whose short answer's source span holds a gold answer: {gold_hits[lang]} of "
                  f"{asked} ({gold_hits[lang] / asked:.2f})")


def _span_text(a) -> str | None:
    """The source words of the answer's short span (None without one)."""
    c = a.citations[0] if a.citations else None
    p = next((h.passage for h in a.passages if c and h.passage.id == c.passage_id), None)
    return p.text[c.span[0]:c.span[1]] if p is not None and c.span is not None else None


def _span_in_text(a) -> bool:
    """The cited span's source words appear in the answer's text (shown, not just recorded)."""
    words = _span_text(a)
    return words is not None and words.strip() in a.text


if __name__ == "__main__":
    main()
