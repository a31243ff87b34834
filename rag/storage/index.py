"""The on-disk index: FAISS vectors, passages, articles, a BM25 index and a manifest, in `index/<name>/`.

Writes are atomic and durable: every build writes its data files under a new version suffix and fsyncs them
and the folder, then replaces `manifest.json` (the commit point) with `os.replace` and fsyncs the folder again.
A crash, kill or power cut leaves either the previous or the new version loadable. After a commit the files of
the version before it are kept (a reader that read the old manifest can still open them) and older versions,
and leftovers of builds that died, are swept; the sweep removes only names this module writes.
"""
from __future__ import annotations

import contextlib
import functools
import fcntl
import hashlib
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import faiss
import numpy as np
import orjson

from rag.embedding.embedders import Embedder, embed_with_sentences
from rag.errors import CorpusError, IndexProblem
from rag.ingest.chunking import ChunkSpec, chunk_article, sentence_spans
from rag.ingest.corpus import LoadResult, not_yet_indexed
from rag.storage import staging
from rag.storage.catalog import Catalog, Records, catalog_of, jsonl_offsets, load_catalog, save_catalog
from rag.search.lexicon import (VECTORS_FILE, WORDS_FILE, Lexicon, build_lexicon, load_lexicon, save_lexicon,
                                tokenizer_words)
from rag.storage.fsutil import fsync_dir, fsync_tree, write_atomic
from rag.text import arabic
from rag.types import Article, Passage


def _import_bm25s():
    """bm25s, imported without its optional numba backend: Sanad scores with its numpy code (the default
    backend) either way, and numba's import alone costs about half a second of every cold start."""
    if "bm25s" in sys.modules or "numba" in sys.modules:
        import bm25s
        return bm25s
    sys.modules["numba"] = None  # makes `import numba` raise ImportError inside bm25s, which it handles
    try:
        import bm25s
    finally:
        del sys.modules["numba"]
    return bm25s


bm25s = _import_bm25s()

FORMAT_VERSION = 4  # 2: passages embedded without their title; 3: sentence vectors; 4: BM25 tokens without punctuation
HNSW_M = 32
LOAD_RETRIES = 5  # a load that fails while commits replace the manifest under it is retried this often

# Every name the store writes: <kind>-<version><suffix>, the version being ≥ 11 hex digits (milliseconds).
_SUFFIX = {"passages": ".jsonl", "articles": ".jsonl", "faiss": ".index", "bm25": "", "sentvecs": ".npy",
           "sentrows": ".npy", "sentann": ".index", "lexicon": "", "catalog": ".npz", ".manifest": ".tmp"}
_STORE_NAME = re.compile(r"(\.manifest|passages|articles|faiss|bm25|sentvecs|sentrows|sentann|lexicon|catalog)"
                         r"-([0-9a-f]{11,24})"
                         r"(\.jsonl|\.index|\.npy|\.npz|\.tmp)?")


class NoArticles(CorpusError):
    """Nothing usable to index; `skipped` lists each refused file and why."""

    def __init__(self, skipped: list[tuple[str, str]]):
        self.skipped = list(skipped)
        why = "; ".join(f"{name}: {reason}" for name, reason in self.skipped[:3])
        more = f"; and {len(self.skipped) - 3} more" if len(self.skipped) > 3 else ""
        super().__init__("no articles to index" + (f": {len(self.skipped)} file(s) skipped ({why}{more})"
                                                   if self.skipped else ": no article files found"))


def store_version(name: str) -> str | None:
    """The version of a file or folder name the store writes, None for anything else."""
    m = _STORE_NAME.fullmatch(name)
    return m[2] if m and (m[3] or "") == _SUFFIX[m[1]] else None


def _store_entries(path: Path) -> list[Path]:
    try:
        return [c for c in path.iterdir() if store_version(c.name)]
    except OSError:
        return []


def holds_nothing(path: Path) -> bool:
    """No manifest and no file the store writes: the only state in which bundled seeds may be added."""
    return not (path / "manifest.json").exists() and not _store_entries(path)


_ARTICLE_FIELDS = frozenset(f.name for f in fields(Article))


def _article_from_dict(d: dict) -> Article:
    names = _ARTICLE_FIELDS
    if not isinstance(d, dict) or not all(isinstance(d.get(k), str) for k in ("id", "title", "text")):
        raise ValueError("not an article record")
    return Article(**{k: v for k, v in d.items() if k in names})


def _parse_manifest(path: Path) -> dict:
    """The manifest as a dict whose `files` are store names; OSError or ValueError (with why) otherwise."""
    manifest = json.loads((path / "manifest.json").read_bytes().decode("utf-8"))
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not all(isinstance(v, str) and store_version(v) for v in files.values()):
        raise ValueError("manifest.json is not an index manifest")
    # Indexes written while ONNX fp32 had an id of its own: it computes torch's vectors, so they are the same model.
    if isinstance(manifest.get("model_id"), str):
        manifest["model_id"] = manifest["model_id"].removesuffix("+onnx-fp32")
    return manifest


def read_manifest(path: Path) -> dict:
    """The manifest; IndexProblem (naming the path and a recovery command) when missing or not a manifest."""
    try:
        return _parse_manifest(path)
    except FileNotFoundError:
        raise IndexProblem(f"no index at {path}; {recovery_hint(path)}") from None
    except OSError as exc:
        raise IndexProblem(f"index at {path} is unreadable ({exc.strerror}); {recovery_hint(path)}") from None
    except ValueError as exc:
        raise IndexProblem(f"index at {path} is corrupt ({exc}); {recovery_hint(path)}") from None


def stored_articles(path: Path) -> tuple[list[Article], str] | None:
    """The articles an index holds, read from its stored articles file, whatever its format: the manifest's
    file, or when that is unreadable the newest readable `articles-*.jsonl`. None when none is readable."""
    candidates = []
    with contextlib.suppress(OSError, ValueError):
        candidates.append(_parse_manifest(path)["files"].get("articles", ""))
    candidates += sorted((c.name for c in _store_entries(path) if c.name.startswith("articles-")),
                         key=lambda n: int(store_version(n), 16), reverse=True)
    for name in dict.fromkeys(c for c in candidates if c):
        try:
            return [_article_from_dict(d) for d in _read_jsonl(path / name)], name
        except (OSError, ValueError, TypeError):
            continue
    return None


def recovery_hint(path: Path) -> str:
    """A command that really recovers the index at `path`, chosen by what is still readable there."""
    name = path.name
    found = stored_articles(path)
    if found:
        return (f"rebuild it from its {len(found[0])} stored articles with: "
                f"sanad index build --name {name} --rebuild")
    if holds_nothing(path):
        return f"build it with: sanad index build --name {name} [FILES]"
    return (f"its stored articles are unreadable; re-add your files with: "
            f"sanad index build --name {name} --rebuild FILES")


@dataclass
class Index:
    path: Path
    manifest: dict
    passages: Sequence[Passage]  # a list, or `Records` read on demand
    articles: Sequence[Article]
    faiss_index: faiss.Index
    bm25: bm25s.BM25
    sentence_vectors: np.ndarray  # one row per passage sentence, passages in order
    sentence_rows: np.ndarray  # (n, 3) int32: passage index, start, end of each sentence in its passage
    catalog: Catalog  # ids, languages, outlets, dates and URLs as arrays (passages/articles are parsed on demand)
    # Above SANAD_EXACT_MAX passages: IVF-SQ8 over the sentence vectors, proposing candidate passages (the
    # sentence vectors are then fp16). None: search scans every sentence exactly.
    sentence_ann: faiss.Index | None = None
    lexicon_dir: Path | None = None  # rag/search/lexicon.py; None in an index built before lexicons

    @functools.cached_property
    def lexicon(self) -> Lexicon | None:
        """English words → Arabic stems, loaded on first use (an English question): 0.2 s and 110 MB of an
        archive's start-up that Arabic questions never need. A damaged one is reported, as at load."""
        if self.lexicon_dir is None:
            return None
        try:
            return load_lexicon(self.lexicon_dir)
        except Exception as exc:  # noqa: BLE001 - any unreadable piece
            raise IndexProblem(f"index at {self.path} is corrupt (its lexicon: {type(exc).__name__}: {exc}); "
                               f"{recovery_hint(self.path)}") from None

    @property
    def model_id(self) -> str:
        return self.manifest["model_id"]


def _read_jsonl(path: Path) -> list[dict]:
    # orjson: an archive's 100 MB of passages parse in a third of the time (start-up is a target).
    with open(path, "rb") as f:
        return [orjson.loads(line) for line in f if line.strip()]


_PASSAGE_FIELDS = frozenset(Passage.__dataclass_fields__)


def _passage_from_dict(d: dict) -> Passage:
    """A stored passage record as written by `_commit` (all fields) is set directly: the frozen dataclass's
    __init__ costs 0.4 s per 125k passages. Anything else goes through the checked constructor."""
    if isinstance(d, dict) and d.keys() == _PASSAGE_FIELDS and isinstance(d["text"], str):
        p = object.__new__(Passage)
        p.__dict__.update(d)
        return p
    return Passage.from_dict(d)


def _write_jsonl(path: Path, rows) -> np.ndarray:
    """Write one JSON object a line, fsynced; the byte offset of every line, and of the end (for `Records`)."""
    lengths = []
    with open(path, "wb") as f:
        for row in rows:
            line = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
            f.write(line)
            lengths.append(len(line))
        f.flush()
        os.fsync(f.fileno())
    return jsonl_offsets(lengths)


def load_index(path: Path, embedder_id: str | None = None) -> Index:
    """Load `index/<name>/`; raise IndexProblem (naming the path and a recovery command) when unusable.

    A load that fails while another process commits (the manifest changed under it) is retried: a reader sees
    the old or the new version, never a false "corrupt"."""
    for _ in range(LOAD_RETRIES):
        before = _manifest_bytes(path)
        try:
            return _load_once(path, embedder_id)
        except IndexProblem:
            if _manifest_bytes(path) == before:
                raise
    return _load_once(path, embedder_id)


def _manifest_bytes(path: Path) -> bytes | None:
    try:
        return (path / "manifest.json").read_bytes()
    except OSError:
        return None


def _load_once(path: Path, embedder_id: str | None) -> Index:
    manifest = read_manifest(path)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexProblem(f"index at {path} has format {manifest.get('format_version')}, this Sanad reads "
                           f"{FORMAT_VERSION}; {recovery_hint(path)}")
    try:
        files = manifest["files"]
        if "catalog" in files:  # records are parsed when asked for (an archive's cold start)
            catalog, p_off, a_off = load_catalog(path / files["catalog"])
            passages = Records(path / files["passages"], p_off, _passage_from_dict)
            articles = Records(path / files["articles"], a_off, _article_from_dict)
            for recs in (passages, articles):
                if recs.file.stat().st_size != int(recs.offsets[-1]):
                    raise ValueError(f"{recs.file.name} is not the size its catalog records")
        else:  # stored before catalogs (2026-11)
            passages = [_passage_from_dict(d) for d in _read_jsonl(path / files["passages"])]
            articles = [_article_from_dict(d) for d in _read_jsonl(path / files["articles"])]
            catalog = catalog_of(passages, articles)
        fidx = faiss.read_index(str(path / files["faiss"]))
        # Memory-mapped: the OS pages in what searches touch, and a large archive starts in seconds.
        bm25 = bm25s.BM25.load(str(path / files["bm25"]), mmap=True)
        sent_vecs = np.load(path / files["sentence_vectors"], mmap_mode="r")
        sent_rows = np.load(path / files["sentence_rows"], mmap_mode="r")
        sent_ann = faiss.read_index(str(path / files["sentence_ann"])) if "sentence_ann" in files else None
        lexicon_dir = path / files["lexicon"] if "lexicon" in files else None  # loaded on first use
        if lexicon_dir is not None and not all((lexicon_dir / f).is_file() for f in (WORDS_FILE, VECTORS_FILE)):
            raise ValueError(f"{lexicon_dir.name} is incomplete")
        _apply_ann_settings(fidx, sent_ann, manifest.get("ann") or {})
        if sent_vecs.ndim != 2 or sent_rows.ndim != 2 or sent_rows.shape[1:] != (3,):
            raise ValueError("sentence data of the wrong shape")
    except Exception as exc:  # any unreadable piece means the index is corrupt
        raise IndexProblem(f"index at {path} is corrupt ({type(exc).__name__}: {exc}); "
                           f"{recovery_hint(path)}") from None
    if (fidx.ntotal != len(passages) or manifest.get("passages") != len(passages)
            or len(sent_vecs) != len(sent_rows) or (sent_ann is not None and sent_ann.ntotal != len(sent_rows))):
        raise IndexProblem(f"index at {path} is inconsistent ({fidx.ntotal} vectors, {len(passages)} passages); "
                           f"{recovery_hint(path)}")
    if embedder_id and manifest.get("model_id") != embedder_id:
        raise IndexProblem(model_mismatch(path, manifest.get("model_id"), embedder_id))
    return Index(path, manifest, passages, articles, fidx, bm25, sent_vecs, sent_rows, catalog, sent_ann,
                 lexicon_dir)


def model_mismatch(path: Path, built_with: str | None, configured: str) -> str:
    """One line naming what to set: the engine when only the engine differs (`model@sha+engine`), else the model."""
    built_base, _, built_engine = (built_with or "").partition("+")
    base, _, engine = configured.partition("+")
    if built_base == base and built_engine != engine:
        engine_name = built_engine or "onnx"
        fix = f"set SANAD_EMBED_ENGINE={engine_name} (queries embed with the engine that built it)"
    else:
        fix = "set SANAD_EMBED_MODEL to match"
    return (f"index at {path} was built with model {built_with!r}, but the configured model is {configured!r}; "
            f"{fix} or re-embed it with: sanad index build --name {path.name} --rebuild")


def _apply_ann_settings(fidx: faiss.Index, sent_ann: faiss.Index | None, ann: dict) -> None:
    """The search settings tuned at build time (recorded in the manifest) onto the loaded indexes."""
    if isinstance(fidx, faiss.IndexHNSW) and ann.get("passages", {}).get("ef_search"):
        fidx.hnsw.efSearch = int(ann["passages"]["ef_search"])
    if sent_ann is not None:
        faiss.extract_index_ivf(sent_ann).nprobe = int(ann.get("sentences", {}).get("nprobe", 32))


def index_state(path: Path) -> str:
    """"empty" (seeds may go here), "current", "upgradable" (this format, stored before lexicons or catalogs: it
    loads, and `upgrade_index` adds them), "outdated" (an older format: migrate its articles), or "unusable"
    (corrupt, or from a newer Sanad: loading it raises the clear error)."""
    if holds_nothing(path):
        return "empty"
    try:
        manifest = read_manifest(path)
    except IndexProblem:
        return "unusable"
    version = manifest.get("format_version")
    if version == FORMAT_VERSION:
        return "current" if UPGRADES <= manifest.get("files", {}).keys() else "upgradable"
    if isinstance(version, int) and version < FORMAT_VERSION and stored_articles(path):
        return "outdated"
    return "unusable"


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
                restore: bool = False, faiss_kind: str = "flat", spec: ChunkSpec = ChunkSpec(),
                progress: Callable[[int, int], None] | None = None,
                stages: Callable[[str, int, int | None], None] | None = None,
                batch_size: int = staging.DEFAULT_BATCH) -> BuildReport:
    """Add `loaded.articles` to the index at `path` (creating it), embedding only the new passages.

    rebuild: start from `loaded.articles` alone. restore: re-chunk and re-embed the articles the index already
    stores (whatever its format, model or damage), then add `loaded.articles`. An index in an older format is
    restored this way automatically. `progress(done, total)` is called as passages and sentences are embedded;
    `stages(stage, done, total)` as the build goes through "chunking" (articles), "resuming" (batches already
    embedded of all), "embedding" (passages and sentences), "gathering" (batches) and "writing" (total None until done).

    Embedding runs in batches of about `batch_size` passages, each checkpointed in the index's staging folder
    (rag/storage/staging.py): a build that dies continues from its checkpoints when run again with the same
    inputs, and commits the same index an uninterrupted build would. Readers see the previous version until
    the commit.
    """
    t0 = time.perf_counter()
    report = stages or (lambda stage, done, total: None)
    if not loaded.articles and (not restore or holds_nothing(path)):
        raise NoArticles(loaded.skipped)  # before anything is created on disk
    with _build_lock(path):
        old, base_articles, created = None, [], None
        state = index_state(path)
        if not rebuild and not restore and state == "outdated":
            restore = True  # a format upgrade: the user's articles are re-embedded, never replaced
        if restore:
            found = stored_articles(path)
            if found is None and state != "empty":
                raise IndexProblem(f"index at {path}: {recovery_hint(path)}")
            base_articles = found[0] if found else []
            base = f"restore:{found[1] if found else ''}"
            with contextlib.suppress(IndexProblem):
                previous = read_manifest(path)
                faiss_kind, created = previous.get("faiss_kind", faiss_kind), previous.get("created")
        elif not rebuild and state != "empty":
            old = load_index(path, embedder.model_id)  # a corrupt index is an error here, never replaced
            faiss_kind = old.manifest.get("faiss_kind", faiss_kind)
            base = f"extend:{old.manifest['files']['passages']}"
        else:
            base = "new"
        kept = old.articles if old else base_articles
        new_articles, dups = not_yet_indexed(loaded, kept)
        if not base_articles and not new_articles:
            if old is None:
                raise NoArticles(loaded.skipped)
            if not UPGRADES <= old.manifest["files"].keys():
                _upgrade(path, old, embedder, report)  # stored before them: a new version adds them
            return BuildReport(path, 0, 0, len(old.articles), len(old.passages), dups, loaded.skipped,
                               time.perf_counter() - t0)  # nothing new: no version to write
        to_embed = base_articles + new_articles

        stage = staging.Staging(path, staging.fingerprint(to_embed, embedder.model_id, spec, batch_size, base))
        stage.open()
        batches = stage.read_plan()
        if batches is None:
            batches = staging.plan_batches(_count_chunks(to_embed, embedder, spec, report), batch_size)
            stage.write_plan(batches)
        todo = [i for i, b in enumerate(batches) if not stage.has(i, b)]
        if len(todo) < len(batches):
            report("resuming", len(batches) - len(todo), len(batches))
        _embed_batches(stage, batches, todo, to_embed, embedder, spec, progress, report)

        # Gather: passages stream from the checkpoints into the commit; vectors go into FAISS batch by batch;
        # sentence vectors into a file-backed array, so memory does not grow with the archive.
        before = old.passages if old else []
        n_sent = (len(old.sentence_rows) if old else 0) + sum(b.sentences for b in batches)
        sent_vecs = stage.sentence_buffer(n_sent, embedder.dim)
        rows = [old.sentence_rows] if old else []
        fidx = old.faiss_index if old else _new_faiss(embedder.dim, faiss_kind)
        s_at, p_at = 0, len(before)
        if old:
            sent_vecs[:len(old.sentence_vectors)] = old.sentence_vectors
            s_at = len(old.sentence_vectors)
        report("gathering", 0, len(batches))
        for i, b in enumerate(batches):
            cp = stage.read(i, what=("vectors", "sentvecs", "rows"))
            if len(cp.vectors):
                fidx.add(np.ascontiguousarray(cp.vectors, dtype=np.float32))
            sent_vecs[s_at:s_at + len(cp.sentence_vectors)] = cp.sentence_vectors
            rows.append(cp.sentence_rows + np.array([p_at, 0, 0], dtype=np.int32))
            s_at, p_at = s_at + b.sentences, p_at + b.passages
            report("gathering", i + 1, len(batches))
        passages = staging.StagedPassages(before, stage, batches)
        articles = (old.articles + new_articles) if old else to_embed
        report("writing", 0, None)
        _commit(path, passages, articles, fidx,  # type: ignore[arg-type]  # a Sequence, streamed
                (sent_vecs, np.concatenate(rows).astype(np.int32).reshape(-1, 3) if rows
                 else np.zeros((0, 3), np.int32)),
                embedder, faiss_kind, old.manifest.get("created") if old else created)
        del sent_vecs
        stage.remove()  # only after the commit: until then a kill resumes from the checkpoints
        report("writing", 1, 1)
    first_new = len(base_articles)
    added = sum(b.passages for b in batches if b.start >= first_new)
    if base_articles and new_articles:  # a batch can straddle the stored and the new articles
        added = sum(len(chunk_article(a, embedder.count_tokens, spec)) for a in new_articles)
    return BuildReport(path, len(new_articles), added, len(articles), len(passages), dups, loaded.skipped,
                       time.perf_counter() - t0)


def _count_chunks(articles: list[Article], embedder: Embedder, spec: ChunkSpec,
                  report: Callable[[str, int, int | None], None]) -> list[tuple[int, int]]:
    """(passages, sentences) of each article: the plan of the batches (the passages are chunked again, batch
    by batch, when embedded: cheaper than holding them all)."""
    counts = []
    report("chunking", 0, len(articles))
    for i, a in enumerate(articles, 1):
        ps = chunk_article(a, embedder.count_tokens, spec)
        counts.append((len(ps), sum(len(sentence_spans(p.text)) for p in ps)))
        if i % 100 == 0 or i == len(articles):
            report("chunking", i, len(articles))
    return counts


def _embed_batches(stage: staging.Staging, batches: list[staging.Batch], todo: list[int], articles: list[Article],
                   embedder: Embedder, spec: ChunkSpec, progress: Callable[[int, int], None] | None,
                   report: Callable[[str, int, int | None], None]) -> None:
    """Embed the batches in `todo` and checkpoint each one as it is finished."""
    total = sum(b.passages + b.sentences for b in batches)  # passages and sentences: the units embedded
    done = [total - sum(batches[i].passages + batches[i].sentences for i in todo)]

    def tick(n: int) -> None:
        done[0] += n
        if progress:
            progress(done[0], total)
        report("embedding", done[0], total)

    tick(0)
    for i in todo:
        b = batches[i]
        passages = [p for a in articles[b.start:b.end] for p in chunk_article(a, embedder.count_tokens, spec)]
        spans = [sentence_spans(p.text) for p in passages]
        # Sentences are embedded too: a passage's dense score also counts its best-matching sentence.
        rows = np.array([(j, s, e) for j, sp in enumerate(spans) for s, e in sp], dtype=np.int32).reshape(-1, 3)
        if (len(passages), len(rows)) != (b.passages, b.sentences):
            raise IndexProblem(f"index at {stage.index_path}: chunking changed during the build (batch {i}); "
                               "run the build again")
        # The embedder sees a passage's text alone: prefixing the article title was measured worse on the seed
        # gold set (English R@1 0.48 vs 0.65, Arabic 0.81 vs 0.88): a news title is about the whole story.
        vectors, sent_vecs = embed_with_sentences(embedder, [p.text for p in passages], spans, progress=tick)
        stage.write(i, staging.Checkpoint(passages, vectors, sent_vecs, rows))


def bm25_corpus(passages: list[Passage]) -> list[list[str]]:
    return [arabic.analyze(f"{p.title}\n{p.text}") for p in passages]


def _new_version(path: Path) -> str:
    """Milliseconds in hex, bumped past every version present: unique and increasing even within a millisecond
    or when the clock steps back (a reused name would overwrite files a reader may be loading)."""
    latest = max((int(store_version(c.name), 16) for c in _store_entries(path)), default=0)
    return f"{max(int(time.time() * 1000), latest + 1):x}"


def _commit(path: Path, passages: list[Passage], articles: list[Article], fidx: faiss.Index,
            sentences: tuple[np.ndarray, np.ndarray], embedder: Embedder, faiss_kind: str,
            created: str | None, *, exact_max: int | None = None) -> None:
    """Write a new version and make it current. Above `exact_max` passages (default SANAD_EXACT_MAX) the
    passages go into HNSW and the sentences get an IVF-SQ8 candidate index with fp16 vectors, each tuned and
    its recall@10 against exact search measured and recorded in the manifest (`ann`)."""
    version = _new_version(path)
    files = {
        "passages": f"passages-{version}.jsonl",
        "articles": f"articles-{version}.jsonl",
        "faiss": f"faiss-{version}.index",
        "bm25": f"bm25-{version}",
        "sentence_vectors": f"sentvecs-{version}.npy",
        "sentence_rows": f"sentrows-{version}.npy",
        "lexicon": f"lexicon-{version}",
        "catalog": f"catalog-{version}.npz",
    }
    try:
        previous = read_manifest(path)["files"]
    except IndexProblem:
        previous = {}
    limit = _exact_max() if exact_max is None else exact_max
    sent_vecs, sent_rows = sentences
    sent_ann, ann_info = None, {}
    if len(passages) > limit or isinstance(fidx, faiss.IndexHNSW):
        fidx, sent_ann, sent_vecs, ann_info = _ann_pieces(path, previous, fidx, sent_vecs, sent_rows,
                                                          len(passages), sentence_ann=len(passages) > limit,
                                                          queries=_tuning_queries(embedder, articles))
        faiss_kind = "hnsw"
    if sent_ann is not None:
        files["sentence_ann"] = f"sentann-{version}.index"
    try:
        article_offsets = _write_jsonl(path / files["articles"], (a.__dict__ for a in articles))  # first: repairs
        passage_offsets = _write_jsonl(path / files["passages"], (p.to_dict() for p in passages))  # read it
        save_catalog(path / files["catalog"], catalog_of(passages, articles), passage_offsets, article_offsets)
        faiss.write_index(fidx, str(path / files["faiss"]))
        np.save(path / files["sentence_vectors"], sent_vecs)
        np.save(path / files["sentence_rows"], sent_rows)
        if sent_ann is not None:
            faiss.write_index(sent_ann, str(path / files["sentence_ann"]))
        bm25 = bm25s.BM25()
        if passages:
            bm25.index(bm25_corpus(passages), show_progress=False)
        bm25.save(str(path / files["bm25"]))
        save_lexicon(path / files["lexicon"], _lexicon(passages, embedder, archive=len(passages) > limit))
        for key in ("faiss", "bm25", "sentence_vectors", "sentence_rows", "sentence_ann", "lexicon", "catalog"):
            if key in files:
                fsync_tree(path / files[key])
        fsync_dir(path)  # the new names are durable before the manifest points at them
    except BaseException:
        _remove_store_files(path, [path / f for f in files.values()])
        raise
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    _publish(path, {
        "format_version": FORMAT_VERSION,
        "model_id": embedder.model_id,
        "dim": embedder.dim,
        "faiss_kind": faiss_kind,
        "search": "approximate" if sent_ann is not None else "exact",
        **({"ann": ann_info} if ann_info else {}),
        "passages": len(passages),
        "articles": len(articles),
        "corpus_fingerprint": _corpus_fingerprint(articles),
        "created": created or now,
        "updated": now,
        "files": files,
    }, version, previous)


def _publish(path: Path, manifest: dict, version: str, previous: dict) -> None:
    """The commit point: the temporary manifest is fsynced, renamed over manifest.json, the folder fsynced; then
    files of versions older than this one and the `previous` one are swept."""
    write_atomic(path / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1),
                 tmp_name=f".manifest-{version}.tmp")
    _sweep(path, set(manifest["files"].values()) | set(previous.values()))


def _lexicon(passages, embedder: Embedder, archive: bool) -> Lexicon:
    """The index's lexicon; an archive's also pre-translates the tokenizer's Latin words (+79 s on SaudiNewsNet,
    230 s for its whole lexicon), so most English question words need no embedding at query time."""
    return build_lexicon((p.text for p in passages), embedder.embed_queries,
                         english=tokenizer_words(embedder) if archive else ())


UPGRADES = frozenset({"lexicon", "catalog"})  # parts an index of this format may lack (stored before them)


def upgrade_index(path: Path, embedder: Embedder) -> None:
    """Add what an index stored before lexicons or catalogs lacks (a new version; the rest kept as is)."""
    with _build_lock(path):
        old = load_index(path, embedder.model_id)
        if not UPGRADES <= old.manifest["files"].keys():
            _upgrade(path, old, embedder, lambda stage, done, total: None)


def _upgrade(path: Path, index: Index, embedder: Embedder,
             report: Callable[[str, int, int | None], None]) -> None:
    """Commit a version of an index stored before lexicons or catalogs that adds what it lacks; the passages,
    vectors and BM25 files are kept as they are."""
    files = dict(index.manifest["files"])
    version = _new_version(path)
    new = []
    try:
        if "lexicon" not in files:
            report("lexicon", 0, None)
            files["lexicon"] = f"lexicon-{version}"
            new.append(path / files["lexicon"])
            save_lexicon(new[-1], _lexicon(index.passages, embedder, archive=len(index.passages) > _exact_max()))
            fsync_tree(new[-1])
            report("lexicon", 1, 1)
        if "catalog" not in files:
            files["catalog"] = f"catalog-{version}.npz"
            new.append(path / files["catalog"])
            save_catalog(new[-1], index.catalog, _offsets(path / files["passages"], len(index.passages)),
                         _offsets(path / files["articles"], len(index.articles)))
            fsync_tree(new[-1])
        fsync_dir(path)
    except BaseException:
        _remove_store_files(path, new)
        raise
    _publish(path, {**index.manifest, "files": files, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
             version, index.manifest["files"])


def _offsets(jsonl: Path, records: int) -> np.ndarray:
    """Byte offsets of the lines of a stored JSONL file (as `_write_jsonl` returns them), which must hold
    `records` lines."""
    with open(jsonl, "rb") as f:
        lengths = [len(line) for line in f]
    if len(lengths) != records:
        raise IndexProblem(f"{jsonl}: {len(lengths)} lines for {records} records; {recovery_hint(jsonl.parent)}")
    return jsonl_offsets(lengths)


def _exact_max() -> int:
    from rag.settings import get_settings

    return get_settings().exact_max


def _tuning_queries(embedder: Embedder, articles: list[Article], n: int = 200) -> np.ndarray | None:
    """Question-like vectors to tune and measure the ANN with: up to `n` article titles (a fixed sample) embedded
    as queries. None when there are too few titles or the embedder cannot embed queries."""
    titles = sorted({a.title.strip() for a in articles if len(a.title.strip()) >= 8})
    if len(titles) < 20:
        return None
    rng = np.random.default_rng(0)
    picked = [titles[i] for i in sorted(rng.choice(len(titles), size=min(n, len(titles)), replace=False))]
    try:
        return np.ascontiguousarray(embedder.embed_queries(picked), np.float32)
    except Exception:  # noqa: BLE001 - an embedder without queries tunes on held-out vectors instead
        return None


def _ann_pieces(path: Path, previous: dict, fidx: faiss.Index, sent_vecs: np.ndarray, sent_rows: np.ndarray,
                n_passages: int, sentence_ann: bool,
                queries: np.ndarray | None = None) -> tuple[faiss.Index, faiss.Index | None, np.ndarray, dict]:
    """(passage HNSW, sentence IVF or None, sentence vectors to store, manifest `ann` info). An HNSW or a
    sentence index the previous version already holds is extended, not rebuilt (an incremental build).
    `queries`: question-like tuning vectors (`_tuning_queries`); None tunes on held-out index vectors."""
    from rag.storage import ann

    vectors = fidx.reconstruct_n(0, fidx.ntotal) if fidx.ntotal else np.zeros((0, fidx.d), np.float32)
    held_out = sent_vecs if len(sent_vecs) else vectors
    tuned_on = "article titles as queries" if queries is not None else "held-out index vectors"
    fidx, info = ann.build_passage_ann(
        vectors, queries if queries is not None else ann.sample_rows(held_out, ann.RECALL_QUERIES),
        fidx if isinstance(fidx, faiss.IndexHNSW) else None)
    info = {"passages": {**info, "tuned_on": tuned_on}}
    if not sentence_ann or not len(sent_vecs):
        return fidx, None, np.asarray(sent_vecs, np.float32), info
    sent16 = np.asarray(sent_vecs, np.float16)  # halves disk and page cache; candidates are rescored from it
    old = _previous_sentence_ann(path, previous, sent16)
    sidx, sent_info = ann.build_sentence_ann(
        sent16, np.asarray(sent_rows[:, 0]), n_passages,
        queries if queries is not None else ann.sample_rows(vectors, ann.RECALL_QUERIES, seed=2), old)
    info["sentences"] = {**sent_info, "tuned_on": tuned_on}
    return fidx, sidx, sent16, info


def _previous_sentence_ann(path: Path, previous: dict, sent16: np.ndarray) -> faiss.Index | None:
    """The previous version's trained sentence index extended with the new rows, when the new sentence vectors
    start with exactly the previous ones (an incremental build); None otherwise (build it afresh)."""
    if "sentence_ann" not in previous:
        return None
    try:
        old_vecs = np.load(path / previous["sentence_vectors"], mmap_mode="r")
        if (old_vecs.dtype != np.float16 or old_vecs.shape[1:] != sent16.shape[1:] or len(old_vecs) > len(sent16)
                or not np.array_equal(old_vecs, sent16[:len(old_vecs)])):
            return None
        sidx = faiss.read_index(str(path / previous["sentence_ann"]))
    except Exception:  # unreadable: build afresh
        return None
    if sidx.ntotal != len(old_vecs):
        return None
    n_old = len(old_vecs)
    if len(sent16) > n_old:
        sidx.add_with_ids(np.asarray(sent16[n_old:], np.float32), np.arange(n_old, len(sent16)))
    return sidx


def _remove_store_files(path: Path, entries: list[Path]) -> None:
    for child in entries:
        if not store_version(child.name):
            continue
        if child.is_dir() and not child.is_symlink():
            # a bm25s or lexicon folder holds only the files they write; anything else means it is not ours
            if all(f.is_file() and f.suffix in (".json", ".npy", ".jsonl", ".index") for f in child.iterdir()):
                shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _sweep(path: Path, keep: set[str]) -> None:
    """Remove the store's own files of versions older than the current and the previous one, and of builds
    that died before committing. Only names `store_version` recognises are touched."""
    _remove_store_files(path, [c for c in _store_entries(path) if c.name not in keep])
    fsync_dir(path)
