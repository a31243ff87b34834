"""The constrained local model (`llamacpp`): model load, time to first token and total per question (prints
figures; not a test).

    PYTHONPATH=$PWD .venv/bin/python bench/llm_bench.py              # 10 Arabic + 5 English seed questions
    PYTHONPATH=$PWD .venv/bin/python bench/llm_bench.py --ar 3 --en 2

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ar", type=int, default=10)
    ap.add_argument("--en", type=int, default=5)
    ap.add_argument("--top-k", type=int, default=None)
    args = ap.parse_args()

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
