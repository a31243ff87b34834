"""Embedding engine benchmark (prints figures; not a test).

    .venv/bin/python bench/embed_bench.py                       # 128 passages, 30 queries, best of 2
    .venv/bin/python bench/embed_bench.py --passages 64 --repeats 1 --engines onnx-int8   # quick

For N SaudiNewsNet passages chunked as the index chunks them (rag.ingest.chunking), each engine's passages/s and
tokens/s: a bare `SentenceTransformer.encode` loop (fp32, passages only, the issue's yardstick), then the torch
pipeline, ONNX fp32 and ONNX int8, each with sentence vectors embedded separately and (ONNX) pooled from the
passage pass; ms per query (p50); cosine of every passage vector (and sentence vector) to torch fp32 (min/mean).
ONNX engines run first, before torch is imported, so torch's threads cannot slow them.

Data: ../shared/data/saudinewsnet/articles.jsonl.gz (research use only; never shipped).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from retrieval_bench import DEFAULT_DATA, read_articles, to_articles


def passages_for(count_tokens, data: Path, n: int) -> list[str]:
    from rag.ingest.chunking import chunk_article

    texts: list[str] = []
    rows = read_articles(data, max(20, n // 4))
    for a in to_articles(rows):
        texts += [p.text for p in chunk_article(a, count_tokens)]
        if len(texts) >= n:
            break
    return texts[:n]


def best_of(repeats: int, fn):
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def query_p50(embedder, queries: list[str]) -> float:
    embedder.embed_queries(["سؤال للتسخين"])
    times = []
    for q in queries:
        t0 = time.perf_counter()
        embedder.embed_queries([q])
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.percentile(times, 50))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--passages", type=int, default=128)
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--engines", default="onnx,onnx-int8,torch,bare", help="comma-separated subset")
    args = ap.parse_args()
    engines = args.engines.split(",")

    from rag.embedding.e5 import ensure_e5_folder
    from rag.embedding.embedders import embed_with_sentences, load_embedder
    from rag.ingest.chunking import sentence_spans
    from rag.settings import get_settings

    models = get_settings().models_dir
    folder = ensure_e5_folder(models)
    first = load_embedder("e5-small", models, "onnx", "pooled")  # tokenizer for chunking, without torch
    texts = passages_for(first.count_tokens, args.data, args.passages)
    spans = [sentence_spans(t) for t in texts]
    n_sent = sum(map(len, spans))
    tokens = sum(min(512, len(first.tokenizer.encode("passage: " + t).ids)) for t in texts)
    queries = [r["title"] for r in read_articles(args.data, args.queries, skip=5000) if r.get("title")]
    print(f"{len(texts)} SaudiNewsNet passages, {n_sent} sentences, {tokens} tokens (mean {tokens / len(texts):.0f}); "
          f"{len(queries)} queries; {os.cpu_count()} CPUs; best of {args.repeats}")

    rows, vecs = [], {}
    for engine in [e for e in ("onnx", "onnx-int8", "torch") if e in engines]:
        modes = ("separate", "pooled") if engine != "torch" else ("separate",)
        for mode in modes:
            emb = load_embedder("e5-small", models, engine, mode)
            emb.embed_passages(texts[:16])  # warm-up
            secs, out = best_of(args.repeats, lambda e=emb: embed_with_sentences(e, texts, spans))
            vecs[(engine, mode)] = out
            rows.append((f"{engine} + sentences {mode}", secs))
        secs, _ = best_of(args.repeats, lambda e=emb: e.embed_passages(texts))
        rows.append((f"{engine} passages only", secs))
        vecs[(engine, "q")] = emb.embed_queries(queries)
        rows.append((f"{engine} ms/query p50", query_p50(emb, queries)))
    if "bare" in engines:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        batches = [["passage: " + t for t in texts[i:i + 32]] for i in range(0, len(texts), 32)]
        secs, _ = best_of(args.repeats, lambda: [model.encode(b, batch_size=32, normalize_embeddings=True,
                                                              show_progress_bar=False) for b in batches])
        rows.append(("bare SentenceTransformer.encode fp32, passages only", secs))

    bare = next((s for name, s in rows if name.startswith("bare")), None)
    print("\n| engine | seconds | passages/s | tokens/s | × bare encode |")
    print("|---|---|---|---|---|")
    for name, secs in rows:
        if "ms/query" in name:
            continue
        ratio = f"{bare / secs:.2f}" if bare else "-"
        print(f"| {name} | {secs:.2f} | {len(texts) / secs:.1f} | {tokens / secs:.0f} | {ratio} |")
    print("\n| engine | ms/query p50 |")
    print("|---|---|")
    for name, ms in rows:
        if "ms/query" in name:
            print(f"| {name.replace(' ms/query p50', '')} | {ms:.1f} |")

    ref = vecs.get(("torch", "separate"))
    if ref is None:
        return
    print("\nCosine to torch fp32 (passage vectors; sentence vectors vs torch's separately embedded sentences; "
          "query vectors)")
    print("| engine | passages min / mean | sentences min / mean | queries min / mean |")
    print("|---|---|---|---|")
    for (engine, mode), out in vecs.items():
        if mode == "q" or engine == "torch":
            continue
        p = (out[0] * ref[0]).sum(1)
        s = (out[1] * ref[1]).sum(1)
        q = (vecs[(engine, "q")] * vecs[("torch", "q")]).sum(1)
        print(f"| {engine} + sentences {mode} | {p.min():.4f} / {p.mean():.4f} | {s.min():.4f} / {s.mean():.4f} "
              f"| {q.min():.4f} / {q.mean():.4f} |")


if __name__ == "__main__":
    main()
