"""Serving a REAL built archive index (real vectors), with real questions: start-up, memory, disk, ANN recall
against exact search, and search latency with the query embedding included.

    sanad index build ../shared/data/saudinewsnet/articles.jsonl.gz --name snn   # with the engine you serve with
    SANAD_INDEX_NAME=snn PYTHONPATH=$PWD python bench/archive_bench.py [--questions eval/gold/news.jsonl]

Prints, for the configured index (SANAD_INDEX_DIR / SANAD_INDEX_NAME, the engine SANAD_EMBED_ENGINE):
- cold start: `sanad search QUESTION` as a fresh process, wall time (run twice; the second, with the files in
  the page cache, is the figure);
- in process: index + embedder load, RSS after load, disk size;
- recall@10 vs exact on the questions' real query vectors: HNSW passages, sentence candidates, and dense and
  fused search end to end (the approximate index against the same index searched exactly);
- fused search p50/p95 per question, query embedding included (each question asked once: no vector cache),
  and RSS after the searches.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.serve_bench import disk_mb, pct, rss_mb  # noqa: E402


def cold_start(question: str) -> list[float]:
    times = []
    for _ in range(2):
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "rag.cli", "search", question, "-k", "3"], cwd=ROOT,
                             capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        times.append(time.perf_counter() - t)
        if out.returncode != 0:
            raise SystemExit(f"sanad search failed: {out.stderr.strip().splitlines()[-1:]}")
    return times


def overlap(a, b, k: int = 10) -> float:
    return len(set(list(a)[:k]) & set(list(b)[:k])) / max(1, min(k, len(list(b)[:k])))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=Path, default=ROOT / "eval" / "gold" / "news.jsonl")
    ap.add_argument("--no-cold", action="store_true", help="skip the fresh-process start-up timing")
    args = ap.parse_args()
    questions = [json.loads(line)["question"] for line in args.questions.read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    from rag.sanad import Sanad
    from rag.search.retrieval import Retriever

    print(f"cores: {os.cpu_count()}, load avg {os.getloadavg()[0]:.2f} (contended if well above 0)")
    if not args.no_cold:
        first, second = cold_start(questions[0])
        print(f"cold start, `sanad search` in a fresh process: {second:.2f} s (first run {first:.2f} s)")

    rss0 = rss_mb()
    t = time.perf_counter()
    sanad = Sanad()
    r = sanad.retriever
    t_load = time.perf_counter() - t
    idx = r.index
    m = idx.manifest
    print(f"index {idx.path}: {m['passages']} passages, {len(idx.sentence_rows)} sentences, {m.get('articles')} "
          f"articles, search={m.get('search')}, model={m['model_id']}")
    for piece, info in m.get("ann", {}).items():
        print(f"  {piece} (as tuned at build): {info}")
    print(f"load (index + embedder, side by side): {t_load:.2f} s; RSS after load {rss_mb():.0f} MB "
          f"(was {rss0:.0f}); disk {disk_mb(idx.path):.0f} MB")

    # Latency first (nothing cached): every question once, fused, its embedding included.
    times = []
    for q in questions:
        t = time.perf_counter()
        sanad.search(q, 10, "fused")
        times.append(time.perf_counter() - t)
    print(f"fused search incl. query embedding, {len(questions)} questions: p50 {pct(times, 50):.1f} ms, "
          f"p95 {pct(times, 95):.1f} ms; RSS after searches {rss_mb():.0f} MB")

    if idx.sentence_ann is None:
        print("exact index: no ANN to measure")
        return
    import faiss

    from rag.storage import ann

    qv = np.concatenate([sanad.embed_query(q) for q in questions]).astype(np.float32)
    vectors = idx.faiss_index.reconstruct_n(0, idx.faiss_index.ntotal)
    exact_p = ann.exact_top(vectors, qv, 10)
    print(f"HNSW passages recall@10 (real questions, efSearch {idx.faiss_index.hnsw.efSearch}): "
          f"{ann.recall_at(idx.faiss_index.search(qv, 10)[1], exact_p):.4f}")
    owners = np.asarray(idx.sentence_rows[:, 0]).astype(np.int64)
    starts = ann.sentence_starts(owners, len(idx.passages))
    serve = ann.SentenceCandidates(idx.sentence_ann, idx.sentence_vectors, owners, starts)
    exact_s = ann.exact_by_sentence(qv, idx.sentence_vectors, starts)
    print(f"sentence candidates recall@10 (real questions, nprobe {faiss.extract_index_ivf(idx.sentence_ann).nprobe}):"
          f" {ann.recall_at([serve.top(q, 10)[0] for q in qv], exact_s):.4f}")
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    exact = Retriever(dataclasses.replace(idx, faiss_index=flat, sentence_ann=None), r.embedder, r.dense_weight,
                      embed_query=sanad.embed_query)
    for method in ("dense", "fused"):
        got = [overlap([h.passage.id for h in r.search(q, 10, method)],
                       [h.passage.id for h in exact.search(q, 10, method)]) for q in questions]
        print(f"{method} search top-10, approximate vs exact (end to end): {np.mean(got):.4f}")


if __name__ == "__main__":
    main()
