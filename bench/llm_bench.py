"""The constrained local model (`llamacpp`): model load, time to first token and total per question (prints
figures; not a test).

    PYTHONPATH=$PWD .venv/bin/python bench/llm_bench.py              # 10 Arabic + 5 English seed questions
    PYTHONPATH=$PWD .venv/bin/python bench/llm_bench.py --ar 3 --en 2
    PYTHONPATH=$PWD .venv/bin/python bench/llm_bench.py --arcd 100     # short-answer F1 vs extractive, ARCD train
    PYTHONPATH=$PWD .venv/bin/python bench/llm_bench.py --arcd 40 --split heldout  # articles no fit has seen

`--arcd N`: N ARCD-train questions spread evenly over the set (every len/N-th), each answered by `extractive`
and by `llamacpp` over ARCD's own index (the one `sanad eval answers --arcd` builds), scored like `sanad eval
answers` (short answer = the first line, token F1 against the gold spans), printed as it goes so a partial run
still reports.

Timing questions only (answerable seed questions, one per article and language, from eval/gold/seeds.jsonl;
nothing is tuned on them). Load = reading the GGUF plus evaluating the fixed system prefix once. TTFT is the wall
time from asking to the first streamed chunk: this backend decides and checks the whole short answer before it
streams, so TTFT is nearly the total. Targets (issue 10, idle 2 cores): TTFT <= 5 s, total <= 15 s.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SEEDS = ROOT / "eval" / "gold" / "seeds.jsonl"


def pick(lang: str, n: int) -> list[dict]:
    rows = [json.loads(x) for x in SEEDS.read_text(encoding="utf-8").splitlines() if x.strip()]
    out, seen = [], set()
    for r in rows:
        if r.get("lang") == lang and r.get("answerable") and (r.get("article"), r["question"]) not in seen:
            seen.add((r.get("article"), r["question"]))
            out.append(r)
    # spread over articles: round-robin by article
    by_art: dict[str, list[dict]] = {}
    for r in out:
        by_art.setdefault(str(r.get("article")), []).append(r)
    spread = []
    while len(spread) < n and any(by_art.values()):
        for rs in by_art.values():
            if rs and len(spread) < n:
                spread.append(rs.pop(0))
    return spread


def arcd(n: int, folder: Path, top_k: int | None, split: str = "all") -> None:
    from dataclasses import replace

    from rag.evaluation.metrics import best_f1, contains_answer, first_line, short_answer
    from rag.evaluation.squad import dataset_index, load_arcd
    from rag.evaluation.unanswerable import split_of
    from rag.sanad import Sanad
    from rag.settings import get_settings

    settings = get_settings()
    ds = load_arcd(folder)
    retriever, _ = dataset_index(ds, settings)
    sanad = Sanad(replace(settings, index_name=retriever.index.path.name))
    qs = [q for q in ds.questions if q.answerable and split in ("all", split_of(q))]
    step = max(1, len(qs) // n)
    qs = qs[::step][:n]
    print(f"cpus={os.cpu_count()} load_avg={os.getloadavg()[0]:.2f} arcd questions={len(qs)} (every {step}th)")
    sums = {"extractive": [0.0, 0, 0, 0.0], "llamacpp": [0.0, 0, 0, 0.0]}  # f1, first-line hits, refusals, seconds
    for i, q in enumerate(qs, 1):
        line = [f"{i:3d}"]
        for b in sums:
            t = time.perf_counter()
            a = sanad.answer(q.question, backend=b, top_k=top_k)
            dt = time.perf_counter() - t
            short = "" if a.refused else short_answer(a.text)
            f1 = best_f1(short, q.answers) if not a.refused else 0.0
            s = sums[b]
            s[0] += f1
            s[1] += (not a.refused) and contains_answer(first_line(a.text), q.answers)
            s[2] += a.refused
            s[3] += dt
            line.append(f"{b[:4]} f1={f1:.2f} ({s[0] / i:.3f}) {dt:.1f}s {short[:40]!r}")
        print(" | ".join(line) + f" | gold={q.answers[0][:40]!r}", flush=True)
    for b, s in sums.items():
        print(f"{b}: n={len(qs)} short_f1={s[0] / len(qs):.3f} first_line_hit={s[1] / len(qs):.3f} "
              f"refused={s[2]} mean_s={s[3] / len(qs):.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ar", type=int, default=10)
    ap.add_argument("--en", type=int, default=5)
    ap.add_argument("--top-k", type=int, default=None)
    ap.add_argument("--arcd", type=int, default=0, help="ARCD-train questions to score instead (see above)")
    ap.add_argument("--arcd-dir", type=Path, default=ROOT.parent / "shared" / "data" / "arcd-train")
    ap.add_argument("--split", default="all", choices=("all", "fit", "heldout"),
                    help="with --arcd: only the articles `sanad eval answers --split` puts there")
    args = ap.parse_args()
    if args.arcd:
        return arcd(args.arcd, args.arcd_dir, args.top_k, args.split)

    from rag.llm.gguf import gguf_path
    from rag.sanad import sanad_for
    from rag.settings import get_settings

    settings = get_settings()
    sanad = sanad_for(settings)
    _ = sanad.retriever  # index and embedder loaded before timing
    _ = sanad.ask("warm-up", backend="extractive").answer
    backend = sanad.backends.get("llamacpp")
    t = time.perf_counter()
    backend.llama(settings)
    load = time.perf_counter() - t
    print(f"cpus={os.cpu_count()} load_avg={os.getloadavg()[0]:.2f} model={gguf_path(settings).name}")
    print(f"model load + system prefix: {load:.2f} s")

    rows = []
    for lang, n in (("ar", args.ar), ("en", args.en)):
        for q in pick(lang, n):
            t0 = time.perf_counter()
            r = sanad.ask(q["question"], backend="llamacpp", top_k=args.top_k)
            ttft = None
            for _ in r:
                if ttft is None:
                    ttft = time.perf_counter() - t0
            a = r.answer
            total = time.perf_counter() - t0
            d = backend.last
            rows.append((lang, ttft if ttft is not None else total, total))
            first = a.text.splitlines()[0] if a.text else ""
            gold = q.get("answers") or q.get("answer") or ""
            extra = ""
            if d is not None:
                extra = (f" choice={d.chosen}/{len(d.candidates)} p={max(d.probs) if d.probs else float('nan'):.2f}"
                         f" prompt={d.prompt_tokens}tok pick={d.seconds.get('pick', 0):.2f}s tr={d.seconds.get('translate', 0):.2f}s"
                         + (f" fallback={d.fallback!r}" if d.fallback else "")
                         + (f" tr_rejected={d.translation_rejected!r}" if d.translation_rejected else ""))
            print(f"[{lang}] ttft={rows[-1][1]:.2f}s total={total:.2f}s refused={a.refused}{extra}\n"
                  f"     Q: {q['question']}\n     A: {first[:160]}\n     gold: {str(gold)[:120]}", flush=True)
    for lang in ("ar", "en", "all"):
        sel = [r for r in rows if lang in ("all", r[0])]
        if sel:
            print(f"{lang}: n={len(sel)} ttft p50={statistics.median(r[1] for r in sel):.2f}s "
                  f"max={max(r[1] for r in sel):.2f}s  total p50={statistics.median(r[2] for r in sel):.2f}s "
                  f"max={max(r[2] for r in sel):.2f}s")


if __name__ == "__main__":
    main()
