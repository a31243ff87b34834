"""The on-disk index: FAISS vectors, passages, articles, a BM25 index and a manifest, in `index/<name>/`.

Writes are atomic: every build writes its data files under a new version suffix, then replaces
`manifest.json` (the commit point) with `os.replace`, then removes the old version's files. A crash or
Ctrl-C before the manifest is replaced leaves the previous index loadable; leftovers are swept next build.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import bm25s
import faiss
import numpy as np

from . import arabic
from .chunking import ChunkSpec, chunk_article, sentence_spans
from .corpus import Deduper, LoadResult
from .errors import IndexProblem
from .models import Embedder
from .types import Article, Passage

FORMAT_VERSION = 4  # 2: passages embedded without their title; 3: sentence vectors; 4: BM25 tokens without punctuation
HNSW_M = 32




def rebuild_hint(path: Path) -> str:
    return f"rebuild it with: sanad index build --name {path.name}"


@dataclass
class Index:
    path: Path
    manifest: dict
    passages: list[Passage]
    articles: list[Article]
    faiss_index: faiss.Index
    bm25: bm25s.BM25
    sentence_vectors: np.ndarray  # one row per passage sentence, passages in order
    sentence_rows: np.ndarray  # (n, 3) int32: passage index, start, end of each sentence in its passage

    @property
    def model_id(self) -> str:
        return self.manifest["model_id"]


def embed_text(p: Passage) -> str:
    """What the embedder sees for a passage: its text alone. Prefixing the article title was measured worse on
    the seed gold set (English questions Recall@1 0.48 vs 0.65, Arabic 0.81 vs 0.88): news titles are about the
    whole story, and every passage of an article then looks alike."""
    return p.text


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _write_jsonl(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def load_index(path: Path, embedder_id: str | None = None) -> Index:
    """Load `index/<name>/`; raise IndexProblem (naming the path and the rebuild command) when unusable."""
    manifest_path = path / "manifest.json"
    if not manifest_path.exists():
        raise IndexProblem(f"no index at {path}; {rebuild_hint(path)}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise IndexProblem(f"index at {path} is corrupt (manifest: {exc}); {rebuild_hint(path)}") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexProblem(f"index at {path} has format {manifest.get('format_version')}, this Sanad reads "
                           f"{FORMAT_VERSION}; {rebuild_hint(path)} --rebuild")
    try:
        files = manifest["files"]
        passages = [Passage.from_dict(d) for d in _read_jsonl(path / files["passages"])]
        articles = [Article(**d) for d in _read_jsonl(path / files["articles"])]
        fidx = faiss.read_index(str(path / files["faiss"]))
        bm25 = bm25s.BM25.load(str(path / files["bm25"]))
        sent_vecs = np.load(path / files["sentence_vectors"])
        sent_rows = np.load(path / files["sentence_rows"])
    except Exception as exc:  # any unreadable piece means the index is corrupt
        raise IndexProblem(f"index at {path} is corrupt ({type(exc).__name__}: {exc}); {rebuild_hint(path)}") from None
    if (fidx.ntotal != len(passages) or manifest.get("passages") != len(passages)
            or len(sent_vecs) != len(sent_rows)):
        raise IndexProblem(f"index at {path} is inconsistent ({fidx.ntotal} vectors, {len(passages)} passages); "
                           f"{rebuild_hint(path)}")
    if embedder_id and manifest.get("model_id") != embedder_id:
        raise IndexProblem(f"index at {path} was built with model {manifest.get('model_id')!r}, but the configured "
                           f"model is {embedder_id!r}; set SANAD_EMBED_MODEL to match or {rebuild_hint(path)} --rebuild")
    return Index(path, manifest, passages, articles, fidx, bm25, sent_vecs, sent_rows)


@contextlib.contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    # One writer at a time per index (UI uploads and CLI builds may race); readers never block.
    path.mkdir(parents=True, exist_ok=True)
    with open(path / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _corpus_fingerprint(articles: list[Article]) -> str:
    h = hashlib.sha256()
    for a in sorted(articles, key=lambda a: a.id):
        h.update(a.id.encode())
    return h.hexdigest()[:16]


def _new_faiss(dim: int, kind: str) -> faiss.Index:
    if kind == "hnsw":
        idx = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        idx.hnsw.efSearch = 128
        return idx
    return faiss.IndexFlatIP(dim)


def passage_lang(text: str) -> str:
    try:
        return arabic.detect_language(text)
    except ValueError:
        return "ar"


@dataclass
class BuildReport:
    path: Path
    added_articles: int
    added_passages: int
    total_articles: int
    total_passages: int
    duplicates: int
    skipped: list[tuple[str, str]]
    seconds: float


def build_index(path: Path, loaded: LoadResult, embedder: Embedder, *, rebuild: bool = False,
                faiss_kind: str = "flat", spec: ChunkSpec = ChunkSpec(),
                progress: Callable[[int, int], None] | None = None) -> BuildReport:
    """Add `loaded.articles` to the index at `path` (creating it), embedding only the new passages.

    `progress(done, total)` is called as passages and their sentences are embedded.
    """
    t0 = time.perf_counter()
    with _build_lock(path):
        old = None
        if not rebuild and (path / "manifest.json").exists():
            old = load_index(path, embedder.model_id)
            faiss_kind = old.manifest.get("faiss_kind", faiss_kind)
        known = {a.id for a in old.articles} if old else set()
        dedupe = Deduper()
        for a in old.articles if old else []:
            dedupe.add(a)
        new_articles, dups = [], loaded.duplicates
        for a in loaded.articles:
            if a.id in known or not dedupe.add(a):
                dups += 1
            else:
                new_articles.append(a)
                known.add(a.id)

        new_passages = []
        for a in new_articles:
            for p in chunk_article(a, embedder.count_tokens, spec):
                new_passages.append(Passage(**{**p.to_dict(), "lang": passage_lang(p.text)}))

        # Sentences are embedded too: a passage's dense score also counts its best-matching sentence.
        base = len(old.passages) if old else 0
        rows = np.array([(base + i, s, e) for i, p in enumerate(new_passages) for s, e in sentence_spans(p.text)],
                        dtype=np.int32).reshape(-1, 3)
        total = len(new_passages) + len(rows)
        if progress:
            progress(0, total)
        done = [0]

        def tick(n: int) -> None:
            done[0] += n
            if progress:
                progress(done[0], total)

        vectors = embedder.embed_passages([embed_text(p) for p in new_passages], progress=tick)
        sent_vecs = embedder.embed_passages([new_passages[i - base].text[s:e] for i, s, e in rows], progress=tick)
        if old:
            fidx = old.faiss_index
            passages = old.passages + new_passages
            articles = old.articles + new_articles
            rows = np.concatenate([old.sentence_rows, rows])
            sent_vecs = np.concatenate([old.sentence_vectors, sent_vecs])
        else:
            fidx = _new_faiss(embedder.dim, faiss_kind)
            passages, articles = new_passages, new_articles
        if len(vectors):
            fidx.add(np.ascontiguousarray(vectors, dtype=np.float32))
        _commit(path, passages, articles, fidx, (sent_vecs.astype(np.float32), rows), embedder, faiss_kind,
                old.manifest if old else None)
    return BuildReport(path, len(new_articles), len(new_passages), len(articles), len(passages), dups,
                       loaded.skipped, time.perf_counter() - t0)


def bm25_corpus(passages: list[Passage]) -> list[list[str]]:
    return [arabic.analyze(f"{p.title}\n{p.text}") for p in passages]


def _commit(path: Path, passages: list[Passage], articles: list[Article], fidx: faiss.Index,
            sentences: tuple[np.ndarray, np.ndarray], embedder: Embedder, faiss_kind: str,
            old_manifest: dict | None) -> None:
    version = f"{int(time.time() * 1000):x}"
    files = {
        "passages": f"passages-{version}.jsonl",
        "articles": f"articles-{version}.jsonl",
        "faiss": f"faiss-{version}.index",
        "bm25": f"bm25-{version}",
        "sentence_vectors": f"sentvecs-{version}.npy",
        "sentence_rows": f"sentrows-{version}.npy",
    }
    _write_jsonl(path / files["passages"], (p.to_dict() for p in passages))
    _write_jsonl(path / files["articles"], (a.__dict__ for a in articles))
    faiss.write_index(fidx, str(path / files["faiss"]))
    np.save(path / files["sentence_vectors"], sentences[0])
    np.save(path / files["sentence_rows"], sentences[1])
    bm25 = bm25s.BM25()
    if passages:
        bm25.index(bm25_corpus(passages), show_progress=False)
    bm25.save(str(path / files["bm25"]))
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    manifest = {
        "format_version": FORMAT_VERSION,
        "model_id": embedder.model_id,
        "dim": embedder.dim,
        "faiss_kind": faiss_kind,
        "passages": len(passages),
        "articles": len(articles),
        "corpus_fingerprint": _corpus_fingerprint(articles),
        "created": (old_manifest or {}).get("created", now),
        "updated": now,
        "files": files,
    }
    tmp = path / f".manifest-{version}.tmp"
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path / "manifest.json")  # the commit point
    _sweep(path, set(files.values()))


def _sweep(path: Path, keep: set[str]) -> None:
    """Remove files of earlier versions and of builds that died before committing."""
    for child in path.iterdir():
        if child.name in keep or child.name in ("manifest.json", ".lock", "README.md"):
            continue
        if child.name.startswith(("passages-", "articles-", "faiss-", "bm25-", "sentvecs-", "sentrows-", ".manifest-")):
            shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
