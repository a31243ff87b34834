"""Embedding throughput: local vs Ray Data with 1 and 2 actors (prints figures; not a test).

    .venv/bin/python bench/ray_bench.py                    # 300 SaudiNewsNet passages
    .venv/bin/python bench/ray_bench.py --passages 1000 --workers 1 2 4 --address auto   # on a cluster

Each Ray call starts its actor pool and loads one model per actor: `startup` is a 1-text call (pool start +
model load), `steady` divides the passages by the call's time less that startup. Local is the in-process
embedder (all cores, model already loaded). Ray actors get `--cpus-per-worker` threads each (default 1).
Needs the ray extra. Data: ../shared/data/saudinewsnet/articles.jsonl.gz (research use only; never shipped).
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
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "saudinewsnet" / "articles.jsonl.gz"


def passages(embedder, data: Path, n: int) -> list[str]:
    from retrieval_bench import read_articles, to_articles

    from rag.ingest.chunking import chunk_article

    texts: list[str] = []
    for a in to_articles(read_articles(data, max(20, n // 2))):
        texts += [p.text for p in chunk_article(a, embedder.count_tokens)]
        if len(texts) >= n:
            break
    return texts[:n]


def timed(fn) -> tuple[float, np.ndarray]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passages", type=int, default=300)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--cpus-per-worker", type=int, default=1)
    ap.add_argument("--address", default="local", help="local (a private Ray here), auto, ray://host:10001")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args()

    from rag.embedding.embedders import get_embedder
    from rag.embedding.ray_embedder import RayEmbedder
    from rag.settings import get_settings

    settings = get_settings()
    embedder = get_embedder(settings)
    texts = passages(embedder, args.data, args.passages)
    embedder.embed_passages(texts[:32])  # warm-up
    local_s, reference = timed(lambda: embedder.embed_passages(texts))
    print(f"{len(texts)} SaudiNewsNet passages, {os.cpu_count()} CPUs, model {embedder.model_id}")
    print("| embedder | startup s | total s | passages/s (total) | passages/s (steady) | max abs diff |")
    print("|---|---|---|---|---|---|")
    print(f"| local (in-process, {os.cpu_count()} threads) | 0 | {local_s:.1f} | {len(texts) / local_s:.1f} | "
          f"{len(texts) / local_s:.1f} | 0 |")
    starter = RayEmbedder(embedder, settings.embed_model, settings.models_dir, args.address,
                          workers=max(args.workers), cpus_per_worker=args.cpus_per_worker)
    starter.connect()  # Ray's own start is paid once, not per row below
    try:
        for n in args.workers:
            ray = RayEmbedder(embedder, settings.embed_model, settings.models_dir if args.address == "local" else None,
                              args.address, workers=n, cpus_per_worker=args.cpus_per_worker)
            startup, _ = timed(lambda: ray.embed_passages(texts[:1]))
            total, vecs = timed(lambda: ray.embed_passages(texts))
            steady = len(texts) / max(total - startup, 1e-9)
            diff = float(np.abs(vecs - reference).max())
            print(f"| Ray Data, {n} actor(s) × {args.cpus_per_worker} CPU | {startup:.1f} | {total:.1f} | "
                  f"{len(texts) / total:.1f} | {steady:.1f} | {diff:.1e} |")
    finally:
        starter.close()


if __name__ == "__main__":
    main()
