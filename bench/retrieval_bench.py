"""Retrieval benchmark (prints figures; not a test).

    .venv/bin/python bench/retrieval_bench.py                      # full: 300 passages, 2,000 articles, 50 queries
    .venv/bin/python bench/retrieval_bench.py --articles 200 --passages 64 --queries 10   # quick

(a) embedding throughput (passages/s, tokens/s) of the pipeline (`embedder.embed_passages`) against a bare
    `SentenceTransformer.encode` loop over the same texts;
(b) index build time and peak memory (ru_maxrss) for N SaudiNewsNet articles, into a temporary index;
(c) query latency p50/p95 for dense, BM25 and fused over that index, with titles of other articles as queries.

Data: ../shared/data/saudinewsnet/articles.jsonl.gz (research use only; never shipped).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "saudinewsnet" / "articles.jsonl.gz"


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def read_articles(path: Path, n: int, skip: int = 0) -> list[dict]:
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if not (row.get("text") or "").strip():
                continue
            if skip:
                skip -= 1
                continue
            rows.append(row)
            if len(rows) >= n:
                break
    return rows


def to_articles(rows: list[dict]):
    from rag.ingest.corpus import make_article

    out = []
    for r in rows:
        a = make_article(r["text"], title=r.get("title") or "", source=r.get("source") or "", url=r.get("url") or "",
                         date=str(r.get("date") or ""))
        if a:
            out.append(a)
    return out


def bench_throughput(embedder, articles, n_passages: int, repeats: int) -> None:
    from rag.ingest.chunking import chunk_article

    texts = []
    for a in articles:
        texts += [p.text for p in chunk_article(a, embedder.count_tokens)]
        if len(texts) >= n_passages:
            break
    texts = texts[:n_passages]
    prefix = getattr(embedder, "passage_prefix", "")
    model = embedder.model
    limit = model.max_seq_length
    tokens = sum(min(limit, len(model.tokenizer(prefix + t)["input_ids"])) for t in texts)

    def bare() -> None:
        for i in range(0, len(texts), 32):
            model.encode([prefix + t for t in texts[i:i + 32]], batch_size=32, normalize_embeddings=True,
                         convert_to_numpy=True, show_progress_bar=False)

    def pipeline() -> None:
        embedder.embed_passages(texts)

    embedder.embed_passages(texts[:32])  # warm-up
    best = {"bare": float("inf"), "pipeline": float("inf")}
    for _ in range(repeats):
        for name, fn in (("bare", bare), ("pipeline", pipeline)):
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    print(f"\n(a) embedding throughput: {len(texts)} SaudiNewsNet passages, {tokens} tokens "
          f"(mean {tokens / len(texts):.0f}), best of {repeats}")
    print("| encoder | seconds | passages/s | tokens/s |")
    print("|---|---|---|---|")
    for name in ("bare", "pipeline"):
        s = best[name]
        label = "bare SentenceTransformer.encode loop" if name == "bare" else "pipeline embed_passages"
        print(f"| {label} | {s:.2f} | {len(texts) / s:.1f} | {tokens / s:.0f} |")
    print(f"pipeline / bare = {best['bare'] / best['pipeline']:.3f}")


def bench_build(embedder, articles, hnsw: bool):
    from rag.ingest.corpus import LoadResult
    from rag.storage.index import build_index, load_index

    tmp = Path(tempfile.mkdtemp(prefix="sanad-bench-"))
    path = tmp / "bench"
    rss0 = maxrss_mb()
    t0 = time.perf_counter()
    report = build_index(path, LoadResult(articles=list(articles)), embedder, faiss_kind="hnsw" if hnsw else "flat")
    secs = time.perf_counter() - t0
    rss1 = maxrss_mb()
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20
    print(f"\n(b) index build: {len(articles)} articles → {report.total_articles} indexed "
          f"({report.duplicates} duplicates), {report.total_passages} passages")
    print("| build seconds | passages/s | peak RSS before | peak RSS after | index on disk |")
    print("|---|---|---|---|---|")
    print(f"| {secs:.1f} | {report.total_passages / secs:.1f} | {rss0:.0f} MB | {rss1:.0f} MB | {size:.1f} MB |")
    return load_index(path, embedder.model_id), tmp


def bench_latency(index, embedder, queries: list[str], k: int, dense_weight: float) -> None:
    from rag.search.retrieval import Retriever

    r = Retriever(index, embedder, dense_weight=dense_weight)  # no query cache: each search embeds its question
    for q in ("سؤال للتسخين", "warm-up question", "ما هي آخر الأخبار"):
        r.search(q, k, "fused")  # warm-up, with questions that are not measured
    print(f"\n(c) query latency over {len(index.passages)} passages, {len(queries)} queries (titles of other "
          f"articles), k={k}, {os.cpu_count()} CPUs")
    print("| method | p50 ms | p95 ms | mean ms |")
    print("|---|---|---|---|")
    for method in ("dense", "bm25", "fused"):
        times = []
        for q in queries:
            t0 = time.perf_counter()
            r.search(q, k, method)
            times.append((time.perf_counter() - t0) * 1000)
        a = np.array(times)
        print(f"| {method} | {np.percentile(a, 50):.1f} | {np.percentile(a, 95):.1f} | {a.mean():.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--articles", type=int, default=2000, help="articles indexed in (b) and searched in (c)")
    ap.add_argument("--passages", type=int, default=300, help="passages embedded in (a)")
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=2, help="throughput runs per encoder (best is kept)")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--hnsw", action="store_true", help="build an HNSW index instead of exact search")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: a,b,c")
    args = ap.parse_args()
    if not args.data.exists():
        sys.exit(f"{args.data} is absent (SaudiNewsNet lives in ../shared/data beside the checkout)")

    from rag.embedding.embedders import get_embedder
    from rag.settings import get_settings

    settings = get_settings()
    t0 = time.perf_counter()
    embedder = get_embedder(settings)
    print(f"model {embedder.model_id}: loaded in {time.perf_counter() - t0:.1f}s; torch threads "
          f"{__import__('torch').get_num_threads()}; peak RSS {maxrss_mb():.0f} MB")
    skip = set(args.skip.split(","))
    rows = read_articles(args.data, args.articles + args.queries)
    articles = to_articles(rows[:args.articles])
    queries = [r["title"].strip() for r in rows[args.articles:] if (r.get("title") or "").strip()][:args.queries]
    if "a" not in skip:
        bench_throughput(embedder, articles, args.passages, args.repeats)
    if "b" not in skip or "c" not in skip:
        index, tmp = bench_build(embedder, articles, args.hnsw)
        if "c" not in skip:
            bench_latency(index, embedder, queries, args.k, settings.dense_weight)
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
