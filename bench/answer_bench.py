"""Answer benchmark (prints figures; not a test).

    .venv/bin/python bench/answer_bench.py                 # every available backend, 8 seed questions
    .venv/bin/python bench/answer_bench.py --serve         # also start llama_cpp.server on loopback for `openai`
    .venv/bin/python bench/answer_bench.py --backends extractive llamacpp --n 4 --max-tokens 128

For each backend, over the same seed questions (half Arabic, half English, answerable, from different
articles, taken from eval/gold/seeds.jsonl): time to first token p50 and total time p50 (wall clock around
`answer_stream`, which yields text chunks and ends with the verified `Answer`), and what citation
verification did, from `Answer.verification`: the share of citations kept, repaired (re-attached to
another shown passage) and dropped (not supporting, or pointing at no shown passage), plus answer
sentences removed as unsupported, and refusals.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SEEDS = ROOT / "eval" / "gold" / "seeds.jsonl"


def pick_questions(n: int) -> list[dict]:
    """n answerable seed questions, alternating Arabic and English, each from a different article."""
    rows = [json.loads(line) for line in SEEDS.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_lang: dict[str, list[dict]] = {"ar": [], "en": []}
    seen: dict[str, set[str]] = {"ar": set(), "en": set()}
    for row in rows:
        lang = row.get("lang")
        if lang in by_lang and row.get("answerable") and row.get("article") not in seen[lang]:
            seen[lang].add(row.get("article"))
            by_lang[lang].append(row)
    picked = []
    for i in range(n):
        lang = ("ar", "en")[i % 2]
        if by_lang[lang]:
            picked.append(by_lang[lang].pop(0))
    return picked


def start_server(gguf: Path, n_ctx: int) -> tuple[subprocess.Popen, str, Path]:
    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log_path = Path(tempfile.mkstemp(prefix="sanad-llm-server-", suffix=".log")[1])
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port",
           str(port), "--n_ctx", str(n_ctx), "--chat_format", "chatml", "--n_threads", str(os.cpu_count() or 1),
           "--verbose", "False"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                return proc, base, log_path
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit(f"llama_cpp.server did not come up (log: {log_path})")


def p50(values: list[float]) -> str:
    return f"{statistics.median(values):7.2f}s" if values else "      -"


def run_backend(backend: str, questions: list[dict], settings, verbose: bool) -> dict:
    from rag.errors import SanadError
    from rag.sanad import sanad_for

    ttft, total, errors, refused = [], [], [], 0
    counts: dict[str, int] = {}
    for q in questions:
        t0 = time.perf_counter()
        first = None
        try:
            response = sanad_for(settings).ask(q["question"], backend=backend)
            for _ in response:
                if first is None:
                    first = time.perf_counter() - t0
            final = response.answer
        except SanadError as exc:
            errors.append(f"{q['id']}: {exc}")
            continue
        elapsed = time.perf_counter() - t0
        total.append(elapsed)
        if first is not None:
            ttft.append(first)
        refused += bool(final.refused)
        for key in ("kept", "repaired", "dropped", "out_of_range", "unsupported_sentences"):
            counts[key] = counts.get(key, 0) + getattr(final.verification, key)
        if verbose:
            text = final.text.replace("\n", " ")
            print(f"  [{backend}] {q['id']} {elapsed:6.1f}s refused={final.refused} "
                  f"changes={len(final.verification.changes)} | {text[:140]}", flush=True)
    return {"ttft": ttft, "total": total, "errors": errors, "refused": refused, "counts": counts}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=8, help="number of seed questions (default 8)")
    ap.add_argument("--backends", nargs="*", help="default: every available backend")
    ap.add_argument("--serve", action="store_true",
                    help="start llama_cpp.server with the local GGUF so the openai backend can be measured")
    ap.add_argument("--max-tokens", type=int, help="override SANAD_LLM_MAX_TOKENS for the generating backends")
    ap.add_argument("--quiet", action="store_true", help="no per-question lines")
    args = ap.parse_args()

    from rag.llm import gguf_path
    from rag.sanad import sanad_for
    from rag.settings import get_settings

    settings = get_settings()
    if args.max_tokens:
        settings = replace(settings, llm_max_tokens=args.max_tokens)
    server = None
    if args.serve and not settings.llm_base_url:
        proc, base, log_path = start_server(gguf_path(settings), settings.llm_context)
        server = proc
        settings = replace(settings, llm_base_url=base)
    try:
        backends = args.backends or sanad_for(settings).backends.available(settings)
        questions = pick_questions(args.n)
        print(f"{len(questions)} seed questions: {', '.join(q['id'] for q in questions)}")
        print(f"backends: {', '.join(backends)}; llm_max_tokens={settings.llm_max_tokens}, "
              f"llm_context={settings.llm_context}, top_k={settings.top_k}, cpus={os.cpu_count()}"
              + (f", openai server {settings.llm_base_url}" if "openai" in backends else ""))
        # Warm-up outside the figures: index/embedder load, and for llama.cpp the model load.
        sanad_for(settings).answer("What did the articles report?", backend="extractive")
        if "llamacpp" in backends:
            from rag.llm import llamacpp_chat
            from rag.llm.llamacpp import _load_llama

            model = llamacpp_chat(settings)
            _load_llama(model.model_path, model.n_ctx)
        results = {}
        for backend in backends:
            results[backend] = run_backend(backend, questions, settings, verbose=not args.quiet)

        print()
        print(f"{'backend':<11} {'answered':>8} {'refused':>7} {'errors':>6} {'TTFT p50':>9} {'total p50':>9} "
              f"{'kept':>6} {'repaired':>8} {'dropped':>7} {'unsupp.sent':>11}")
        for backend, r in results.items():
            c = r["counts"]
            dropped = c.get("dropped", 0) + c.get("out_of_range", 0)
            events = c.get("kept", 0) + c.get("repaired", 0) + dropped
            share = (lambda k: f"{100 * k / events:5.1f}%") if events else (lambda k: "    -")
            print(f"{backend:<11} {len(r['total']) - r['refused']:>8} {r['refused']:>7} {len(r['errors']):>6} "
                  f"{p50(r['ttft']):>9} {p50(r['total']):>9} {share(c.get('kept', 0)):>6} "
                  f"{share(c.get('repaired', 0)):>8} {share(dropped):>7} {c.get('unsupported_sentences', 0):>11}")
        print("\nshares are of citation decisions (kept + repaired + dropped, dropped incl. out-of-range numbers);"
              "\nunsupp.sent = answer sentences removed because no shown passage supports them;"
              "\nextractive citations are correct by construction (all 'kept').")
        for backend, r in results.items():
            print(f"raw counts {backend}: {r['counts']}")
            for err in r["errors"]:
                print(f"  error {backend}: {err}")
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    main()
