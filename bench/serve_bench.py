"""Serving at archive size, without the model: the real SaudiNewsNet text chunked as the index chunks it (the e5
tokenizer counts tokens), with SYNTHETIC vectors (random unit vectors with cluster structure: outlet-free topic
centres → article → passage → sentence), committed through the store's own `_commit` (so the size threshold,
HNSW, the sentence IVF-PQ and their recall measurement all run as in a real build), then loaded and searched.

Prints: ANN build time, recall@10 vs exact (as measured at build, and end to end for dense search), fused and
dense search p50/p95 with query embedding excluded, the real embedder's query time (if the model is there),
load time, RSS after load, disk size.

    PYTHONPATH=$PWD python bench/serve_bench.py                       # the whole archive (~130k passages)
    PYTHONPATH=$PWD python bench/serve_bench.py --articles 3000       # a slice
    ... --out /tmp/snn-synthetic                                      # reuse a built index there if present
"""
from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.settings import get_settings  # noqa: E402

ARCHIVE = ROOT.parent / "shared" / "data" / "saudinewsnet" / "articles.jsonl.gz"
if not ARCHIVE.exists():
    ARCHIVE = Path("/work/shared/data/saudinewsnet/articles.jsonl.gz")
DIM = 384


@dataclasses.dataclass
class SyntheticModel:
    """What `_commit` and `Retriever` need of an embedder; its vectors come from `synthetic_vectors`."""

    model_id: str = "synthetic-clustered-384"
    dim: int = DIM

    def embed_queries(self, texts):  # pragma: no cover - queries are given as vectors
        raise RuntimeError("synthetic index: queries are vectors")


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def read_articles(limit: int | None):
    from rag.types import Article

    names = {f.name for f in dataclasses.fields(Article)}
    with gzip.open(ARCHIVE, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if limit is not None and i >= limit:
                return
            d = json.loads(line)
            d["id"] = str(d.get("id") or f"snn{i}")
            d["source"] = d.get("source") or ""
            d.setdefault("date", d.get("date_extracted", ""))
            yield Article(**{k: v for k, v in d.items() if k in names and isinstance(v, str)})


def token_counter():
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(get_settings().models_dir / "multilingual-e5-small" / "tokenizer.json"))
    return lambda text: len(tok.encode(text, add_special_tokens=False).ids)


def synthetic_vectors(passages, rows, seed: int = 0):
    """Topic centres → article offsets → passage → sentence: similar text is near, like a real embedding."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.standard_normal((2000, DIM)))
    art_ids = {a: i for i, a in enumerate(dict.fromkeys(p.article_id for p in passages))}
    art_of = np.array([art_ids[p.article_id] for p in passages])
    topic = rng.integers(0, len(centres), len(art_ids))
    arts = unit(centres[topic] + 0.7 * unit(rng.standard_normal((len(art_ids), DIM))))
    pvec = unit(arts[art_of] + 0.6 * unit(rng.standard_normal((len(passages), DIM))))
    svec = np.empty((len(rows), DIM), np.float32)
    for lo in range(0, len(rows), 100_000):
        hi = min(len(rows), lo + 100_000)
        svec[lo:hi] = unit(pvec[rows[lo:hi, 0]] + 0.8 * unit(rng.standard_normal((hi - lo, DIM))))
    return pvec, svec


def build(path: Path, limit: int | None) -> dict:
    import faiss

    from rag.ingest.chunking import chunk_article, sentence_spans
    from rag.storage import index as store

    path.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    count = token_counter()
    articles, passages = [], []
    for a in read_articles(limit):
        articles.append(a)
        passages += chunk_article(a, count)
    rows = np.array([(i, s, e) for i, p in enumerate(passages) for s, e in sentence_spans(p.text)],
                    np.int32).reshape(-1, 3)
    t_chunk = time.perf_counter() - t0
    print(f"chunked {len(articles)} articles: {len(passages)} passages, {len(rows)} sentences in {t_chunk:.0f} s",
          file=sys.stderr, flush=True)
    pvec, svec = synthetic_vectors(passages, rows)
    fidx = faiss.IndexFlatIP(DIM)
    fidx.add(pvec)
    timing = {}
    real = store._ann_pieces

    def timed(*a, **k):
        t = time.perf_counter()
        out = real(*a, **k)
        timing["ann_build_s"] = time.perf_counter() - t
        return out

    store._ann_pieces = timed
    t1 = time.perf_counter()
    try:
        store._commit(path, passages, articles, fidx, (svec, rows), SyntheticModel(), "flat", None)
    finally:
        store._ann_pieces = real
    return {"articles": len(articles), "chunk_s": t_chunk, "commit_s": time.perf_counter() - t1, **timing}


def pct(xs, p):
    return float(np.percentile(np.array(xs) * 1000, p))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=None, help="only the first N articles (default: all)")
    ap.add_argument("--out", type=Path, default=None, help="index folder; reused when it holds an index")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--no-embedder", action="store_true", help="skip timing the real query embedder")
    ap.add_argument("--threads", type=int, default=0, help="FAISS OpenMP threads (0: its default; 1 on a "
                    "contended machine, where OpenMP spin-waits)")
    args = ap.parse_args()
    if args.threads:
        import faiss

        faiss.omp_set_num_threads(args.threads)
    out = args.out or Path(tempfile.mkdtemp(prefix="sanad-serve-bench-")) / "snn"
    print(f"VECTORS ARE SYNTHETIC (clustered random unit vectors, dim {DIM}); text, chunking, BM25 are real. "
          f"cores: {os.cpu_count()}, load avg {os.getloadavg()[0]:.2f} (contended if well above 0)")
    if not (out / "manifest.json").exists():
        b = build(out, args.articles)
        print(f"build: {b['articles']} articles chunked in {b['chunk_s']:.1f} s; commit {b['commit_s']:.1f} s "
              f"(ANN pieces incl. recall tuning {b.get('ann_build_s', 0):.1f} s)")
    else:
        print(f"reusing {out}")

    from rag.search.retrieval import Retriever
    from rag.storage.index import load_index

    rss0 = rss_mb()
    t = time.perf_counter()
    idx = load_index(out)
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    qvecs: dict[str, np.ndarray] = {}
    r = Retriever(idx, SyntheticModel(), get_settings().dense_weight, embed_query=lambda s: qvecs[s])
    t_ret = time.perf_counter() - t
    m = idx.manifest
    print(f"index: {m['passages']} passages, {len(idx.sentence_rows)} sentences, search={m.get('search')}, "
          f"faiss={m['faiss_kind']}")
    for piece, info in m.get("ann", {}).items():
        print(f"  {piece}: {info}")
    print(f"load: load_index {t_load:.2f} s + Retriever {t_ret:.2f} s; RSS after load {rss_mb():.0f} MB "
          f"(was {rss0:.0f} MB before); disk {disk_mb(out):.0f} MB")

    # Queries: held-out perturbed sentence vectors, their text a few words of that sentence (for BM25).
    rng = np.random.default_rng(7)
    picks = rng.choice(len(idx.sentence_rows), args.queries, replace=False)
    questions = []
    for j, s in enumerate(picks):
        pi, a, b = (int(x) for x in idx.sentence_rows[s])
        words = idx.passages[pi].text[a:b].split()[:6]
        q = f"{' '.join(words)} #{j}"
        v = np.asarray(idx.sentence_vectors[s], np.float32) + 0.6 * unit(rng.standard_normal(DIM))
        qvecs[q] = unit(v)[None, :]
        questions.append(q)
    for method in ("fused", "dense"):
        times = []
        for q in questions:
            t = time.perf_counter()
            r.search(q, 10, method)
            times.append(time.perf_counter() - t)
        print(f"{method} search (query embedding excluded): p50 {pct(times, 50):.1f} ms, p95 {pct(times, 95):.1f} ms")
    print(f"RSS after searches {rss_mb():.0f} MB; peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

    if idx.sentence_ann is not None:  # end to end: approximate dense top-10 vs a full exact scan
        import faiss

        flat = faiss.IndexFlatIP(DIM)
        flat.add(idx.faiss_index.reconstruct_n(0, idx.faiss_index.ntotal))
        sv = np.asarray(idx.sentence_vectors, np.float32)
        exact = Retriever(dataclasses.replace(idx, faiss_index=flat, sentence_ann=None, sentence_vectors=sv),
                          SyntheticModel(), get_settings().dense_weight, embed_query=lambda s: qvecs[s])
        got = []
        for q in questions:
            a = r.dense_scores(qvecs[q], 10)[0]
            e = exact.dense_scores(qvecs[q], 10)[0]
            got.append(len(set(a.tolist()) & set(e.tolist())) / 10)
        print(f"dense search recall@10, approximate vs exact (end to end): {statistics.mean(got):.4f}")
        del sv, exact, flat

    if not args.no_embedder and (get_settings().models_dir / "multilingual-e5-small").exists():
        from rag.embedding.embedders import get_embedder

        t = time.perf_counter()
        emb = get_embedder(get_settings())
        emb.embed_queries(["تحميل"])
        t_model = time.perf_counter() - t
        real_q = ["ما هي آخر أخبار الطاقة في السعودية؟", "متى افتتح مشروع قطار الحرمين؟",
                  "What did the minister say about oil prices?"] * 10
        times = []
        for q in real_q:
            t = time.perf_counter()
            emb.embed_queries([q])
            times.append(time.perf_counter() - t)
        print(f"real query embedder ({emb.model_id}): load {t_model:.1f} s; per query p50 {pct(times, 50):.1f} ms, "
              f"p95 {pct(times, 95):.1f} ms (add to the search figures above)")
    if args.out is None:
        shutil.rmtree(out.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
