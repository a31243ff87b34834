"""Peak memory of an index build against archive size: `python bench/build_memory.py 1000 3000`.

Each size runs in a fresh process: the first N SaudiNewsNet articles (gzip JSONL in a temp folder), read,
de-duplicated, chunked with the real model's tokenizer, "embedded" by hashing (vectors of the real model's
dimension, so staging and commit move as many bytes as a real build) and committed. Prints peak RSS and the
build time. The model's compute is left out on purpose: it costs the same memory at any archive size.
"""
from __future__ import annotations

import gzip
import hashlib
import inspect
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ARCHIVE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "saudinewsnet" / "articles.jsonl.gz"


def _rss(field: str) -> int:
    """KiB of VmRSS or VmHWM (the peak since the last reset) of this process."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def child(n: int, folder: Path) -> None:
    import numpy as np

    from rag.embedding.embedders import get_embedder
    from rag.ingest import corpus
    from rag.storage.index import build_index

    src = folder / "slice.jsonl.gz"
    with gzip.open(ARCHIVE, "rt", encoding="utf-8") as f, gzip.open(src, "wt", encoding="utf-8") as out:
        out.writelines(line for _, line in zip(range(n), f))
    emb = get_embedder()
    dim = emb.dim

    def fake(texts, batch_size=32, progress=None):
        vecs = np.stack([np.random.default_rng(int(hashlib.md5(t.encode()).hexdigest()[:8], 16))
                         .standard_normal(dim).astype(np.float32) for t in texts]) if texts else np.zeros((0, dim))
        if progress:
            progress(len(texts))
        return vecs / np.linalg.norm(vecs, axis=1, keepdims=True).clip(1e-9)

    emb.embed_passages = fake
    base = _rss("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM): the model load's own peak is not ours
    t0 = time.perf_counter()
    loaded = corpus.load([src])
    kw = {"batch_size": 2000} if "batch_size" in inspect.signature(build_index).parameters else {}
    report = build_index(folder / "idx", loaded, emb, **kw)
    peak = _rss("VmHWM")
    print(f"{n} articles -> {report.total_passages} passages: peak RSS during the build {peak / 1024:.0f} MiB "
          f"(model loaded: {base / 1024:.0f} MiB, build adds {(peak - base) / 1024:.0f} MiB), "
          f"{time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(int(sys.argv[2]), Path(sys.argv[3]))
    else:
        for n in sys.argv[1:] or ["1000", "3000"]:
            with tempfile.TemporaryDirectory() as tmp:
                subprocess.run([sys.executable, __file__, "--child", n, tmp], check=True)
