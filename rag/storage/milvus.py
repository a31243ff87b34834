"""The index in Milvus (`SANAD_STORE=milvus`): passages, their dense vectors, sentence vectors, the Arabic BM25
side and the articles, in four collections per index name. Optional: needs `pip install 'sanad[milvus]'`.

`SANAD_MILVUS_URI` is a local `*.db` file (milvus-lite 2.5: the real Milvus engine in-process, one process at a
time; what the tests run) or `http://host:19530` (a Milvus server or cluster: production).

BM25 is Milvus's own BM25 function over text Sanad's Arabic analyser already tokenised (`rag.text.arabic.analyze`,
joined by spaces, split again by Milvus's whitespace tokenizer): the same terms the FAISS store's bm25s sees, and
Milvus keeps the corpus statistics (IDF, average length) current as passages are added. With k1=1.5, b=0.75 its
scores are bm25s's (Lucene variant) times (k1+1); they are divided back, so scores equal the FAISS store's.

Atomicity. Milvus commits each insert on its own, so every row carries the `version` of the build that wrote
it, and readers only see rows with lo ≤ version ≤ hi, the range named by the newest *manifest row*. A build
inserts its rows under a new version (invisible), flushes, then inserts one manifest row: the commit point (a
single-row insert is atomic). An incremental add keeps lo and moves hi; a rebuild sets lo = hi = the new version.
Rows of a build that died (version > hi) are deleted by the next build; after a commit, rows older than the
previous view are swept, so a reader still holding the previous manifest keeps working (as with the FAISS store).
"""
from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from rag.embedding.embedders import Embedder, embed_with_sentences
from rag.errors import ConfigError, IndexProblem
from rag.ingest.chunking import ChunkSpec, chunk_article, sentence_spans
from rag.ingest.corpus import LoadResult, not_yet_indexed
from rag.storage.index import BuildReport, NoArticles
from rag.text import arabic
from rag.types import Article, Passage

logging.getLogger("pymilvus.orm.iterator").setLevel(logging.ERROR)  # milvus-lite has no mvccTs: a harmless warning

FORMAT = 1
BM25_K1, BM25_B = 1.5, 0.75  # bm25s's defaults: the same scores as the FAISS store's BM25, times (k1 + 1)
BATCH = 512  # rows per insert (well under gRPC's message limit at 384-dim vectors)
TEXT_MAX = 65535  # Milvus's VARCHAR limit, in bytes
ARTICLE_PART = 16000  # characters of article text per row: ≤ 64000 bytes even at 4 bytes a character
_PASSAGE_FIELDS = ["id", "pid", "article_id", "title", "text", "ordinal", "start", "end", "source", "lang"]


def _milvus():
    try:
        import pymilvus
    except ImportError:
        raise ConfigError("SANAD_STORE=milvus needs the milvus extra: pip install 'sanad[milvus]'") from None
    return pymilvus


def collection_prefix(index_name: str) -> str:
    """Milvus names allow [A-Za-z0-9_] only; an index name may hold Unicode letters, '.' and '-'."""
    safe = re.sub(r"[^A-Za-z0-9_]", "_", index_name)[:40]
    if safe != index_name:
        safe += "_" + hashlib.sha1(index_name.encode()).hexdigest()[:8]
    return f"sanad_{safe}"


@dataclass(frozen=True)
class View:
    """What a reader sees: rows with lo ≤ version ≤ hi, as named by one manifest row."""

    version: int
    lo: int
    hi: int
    state: dict

    @property
    def where(self) -> str:
        return f"version >= {self.lo} and version <= {self.hi}"


class LazyRows(Sequence):
    """`len()` is cheap (the manifest's count); the rows themselves are read from Milvus on first use only, so
    front ends that show counts never pull a large archive into memory."""

    def __init__(self, count: int, load: Callable[[], list]) -> None:
        self._count, self._load, self._rows = count, load, None

    def __len__(self) -> int:
        return self._count

    def _all(self) -> list:
        if self._rows is None:
            self._rows = self._load()
        return self._rows

    def __getitem__(self, i):
        return self._all()[i]

    def __iter__(self):
        return iter(self._all())


class MilvusIndex:
    """One index's collections. Implements the `CandidateStore` protocol `rag.search.candidates` searches."""

    def __init__(self, uri: str, index_name: str, folder: Path, *, token: str = "") -> None:
        self.uri, self.name = uri, index_name
        self.path = folder  # a local folder for side files (evaluation caches), as the FAISS store's folder
        pre = collection_prefix(index_name)
        self.c_passages, self.c_sentences = f"{pre}_passages", f"{pre}_sentences"
        self.c_articles, self.c_manifest = f"{pre}_articles", f"{pre}_manifest"
        pm = _milvus()
        self._errors = (pm.MilvusException,)
        local = "://" not in uri
        if local:
            if not uri.endswith(".db"):
                raise ConfigError(f"SANAD_MILVUS_URI={uri!r}: a local milvus-lite file must end in .db "
                                  "(or give http://host:19530)")
            Path(uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
            uri = str(Path(uri).expanduser())
        self.local = local
        try:
            self.client = pm.MilvusClient(uri, token=token)
        except pm.MilvusException as exc:
            busy = " (milvus-lite serves one process at a time: is Sanad already running on it? point "\
                   "SANAD_MILVUS_URI at a Milvus server to share it)" if local else ""
            raise IndexProblem(f"cannot open Milvus at {self.uri}: {exc.message}{busy}") from None
        self.view: View | None = None
        self.refresh()

    # -- the manifest

    def _has(self, name: str) -> bool:
        return self.client.has_collection(name)

    def newest_view(self) -> View | None:
        if not self._has(self.c_manifest):
            return None
        rows = self.client.query(self.c_manifest, filter="id >= 0", output_fields=["id", "state"])
        if not rows:
            return None
        row = max(rows, key=lambda r: r["id"])
        state = json.loads(row["state"])
        if state.get("format") != FORMAT:
            raise IndexProblem(f"Milvus index {self.name!r} has format {state.get('format')}, this Sanad reads "
                               f"{FORMAT}; rebuild it with: sanad index build --name {self.name} --rebuild FILES")
        return View(row["id"], state["lo"], state["hi"], state)

    def refresh(self) -> bool:
        """Read the newest manifest row; True when it differs from the one this reader had."""
        view = self._call(self.newest_view)
        changed = view != self.view
        self.view = view
        return changed

    def stamp(self) -> int | None:
        """The committed version (changes with every commit, from any process)."""
        view = self._call(self.newest_view)
        return view.version if view else None

    @property
    def empty(self) -> bool:
        return self.view is None

    @property
    def state(self) -> dict:
        if self.view is None:
            raise IndexProblem(f"no Milvus index {self.name!r} at {self.uri}; build it with: "
                               f"sanad index build --name {self.name} FILES")
        return self.view.state

    @property
    def model_id(self) -> str:
        return self.state["model_id"]

    @property
    def size(self) -> int:
        return self.state["passages"] if self.view else 0

    @property
    def passages(self) -> LazyRows:
        return LazyRows(self.size, lambda: self._call(self._all_passages))

    @property
    def articles(self) -> LazyRows:
        return LazyRows(self.state["articles"] if self.view else 0, lambda: self._call(self.stored_articles))

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except self._errors as exc:
            raise IndexProblem(f"Milvus at {self.uri} failed: {getattr(exc, 'message', exc)}") from None

    def pinned(self) -> "MilvusIndex":
        """This index fixed to its current view: one search sees one version even if a commit lands meanwhile."""
        return copy.copy(self)

    # -- reads (each filtered to the view)

    def _where(self, extra: str = "") -> str:
        base = self.view.where if self.view else "version < 0"
        return f"({base}) and ({extra})" if extra else base

    def _search(self, collection: str, data, field: str, limit: int, metric: str, where: str = "",
                **kw) -> list[dict]:
        if limit <= 0:
            return []
        res = self.client.search(collection, data=data, anns_field=field, limit=limit, filter=self._where(where),
                                 search_params={"metric_type": metric}, consistency_level="Strong", **kw)
        return list(res[0])

    def _query(self, collection: str, where: str, fields_: list[str], limit: int | None = None) -> list[dict]:
        kw = {"limit": limit} if limit else {}
        return list(self.client.query(collection, filter=self._where(where), output_fields=fields_,
                                      consistency_level="Strong", **kw))

    def dense_top(self, q: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The n passages nearest the question vector: (ids, cosines), best first."""
        hits = self._call(self._search, self.c_passages, [q.tolist()], "vector", min(2 * n, self.size), "IP")
        return _best(*_ids_scores(hits), n)

    def sentence_top(self, q: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The n passages with the best-matching sentences: (ids, best sentence cosine), best first (Milvus's
        grouping search: one hit per passage, its best sentence; exact max-pooling for every passage returned)."""
        hits = self._call(self._search, self.c_sentences, [q.tolist()], "vector", min(2 * n, self.size), "IP",
                          group_by_field="passage", output_fields=["passage"])
        return _best(np.array([h["entity"]["passage"] for h in hits], np.int64),
                     np.array([h["distance"] for h in hits], np.float32), n)

    def passage_cos(self, q: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Exact cosines of the given passages (their stored vectors, fetched; as FAISS's reconstruct)."""
        rows = self._call(self._query, self.c_passages, f"id in {_list(ids)}", ["id", "vector"])
        vec = {r["id"]: r["vector"] for r in rows}
        mat = np.array([vec[i] for i in ids.tolist()], np.float32).reshape(len(ids), -1)
        return mat @ q

    def best_sentence_cos(self, q: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Each given passage's best sentence cosine, from its stored sentence vectors (0 without sentences)."""
        out = np.zeros(len(ids), np.float32)
        if not len(ids):
            return out
        rows = self._call(self._query, self.c_sentences, f"passage in {_list(ids)}", ["passage", "vector"])
        if not rows:
            return out
        owner = np.array([r["passage"] for r in rows], np.int64)
        cos = np.array([r["vector"] for r in rows], np.float32) @ q
        pos = {p: j for j, p in enumerate(ids.tolist())}
        best = np.full(len(ids), -np.inf, np.float32)
        np.maximum.at(best, np.array([pos[o] for o in owner.tolist()]), cos)
        return np.where(np.isfinite(best), best, 0.0).astype(np.float32)

    def bm25_top(self, question: str, n: int, lang: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The n best BM25 matches (positive scores only), within one language when `lang` is given."""
        text = _bm25_text(question)
        if not text:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        where = f'lang == "{lang}"' if lang else ""
        hits = self._call(self._search, self.c_passages, [text], "sparse", min(2 * n, self.size), "BM25", where)
        ids, scores = _ids_scores(hits)
        return _best(ids, scores / np.float32(BM25_K1 + 1), n)

    def bm25_for(self, question: str, ids: np.ndarray) -> np.ndarray:
        """BM25 scores of the given passages (0 where no term matches)."""
        text = _bm25_text(question)
        if not text or not len(ids):
            return np.zeros(len(ids), np.float32)
        hits = self._call(self._search, self.c_passages, [text], "sparse", len(ids), "BM25", f"id in {_list(ids)}")
        ids_, scores = _ids_scores(hits)
        got = dict(zip(ids_.tolist(), (scores / np.float32(BM25_K1 + 1)).tolist()))
        return np.array([got.get(i, 0.0) for i in ids.tolist()], np.float32)

    def langs(self, ids: np.ndarray) -> np.ndarray:
        rows = self._call(self._query, self.c_passages, f"id in {_list(ids)}", ["id", "lang"])
        lang = {r["id"]: r["lang"] for r in rows}
        return np.array([lang.get(i, "") for i in ids.tolist()])

    def get_passages(self, ids: Sequence[int]) -> list[Passage]:
        ids = [int(i) for i in ids]
        if not ids:
            return []
        rows = self._call(self._query, self.c_passages, f"id in {_list(ids)}", _PASSAGE_FIELDS)
        by_id = {r["id"]: _passage(r) for r in rows}
        return [by_id[i] for i in ids]

    def _all_passages(self) -> list[Passage]:
        return [_passage(r) for r in sorted(self._iterate(self.c_passages, _PASSAGE_FIELDS), key=lambda r: r["id"])]

    def stored_articles(self) -> list[Article]:
        """The articles the current view holds, in the order they were added."""
        rows = sorted(self._iterate(self.c_articles, ["id", "article", "part", "text"]),
                      key=lambda r: (r["id"], r["part"]))
        out: list[Article] = []
        names = {f.name for f in fields(Article)}
        for r in rows:
            if r["part"] == 0:
                meta = json.loads(r["article"])
                out.append(Article(**{k: v for k, v in meta.items() if k in names}, text=r["text"]))
            else:
                a = out[-1]
                out[-1] = Article(**{**a.__dict__, "text": a.text + r["text"]})
        return out

    def _iterate(self, collection: str, fields_: list[str]) -> Iterator[dict]:
        if self.view is None:
            return
        it = self.client.query_iterator(collection, batch_size=1000, filter=self._where(), output_fields=fields_)
        try:
            while batch := it.next():
                yield from batch
        finally:
            it.close()

    # -- writes

    def ensure_collections(self, dim: int) -> None:
        pm = _milvus()
        DT = pm.DataType
        c = self.client

        def make(name: str, add: Callable, indexes: list[tuple[str, str, str, dict]], functions=()) -> None:
            if c.has_collection(name):
                return
            schema = c.create_schema(auto_id=False)
            schema.add_field("id", DT.INT64, is_primary=True)
            schema.add_field("version", DT.INT64)
            add(schema)
            for f in functions:
                schema.add_function(f)
            ip = c.prepare_index_params()
            for field_name, kind, metric, params in indexes:
                ip.add_index(field_name, index_type=kind, metric_type=metric, params=params)
            c.create_collection(name, schema=schema, index_params=ip, consistency_level="Strong")

        # Exact search on milvus-lite (FLAT, its only kind); HNSW on a server, as the FAISS store's --faiss-kind hnsw.
        dense = ("FLAT", {}) if self.local else ("HNSW", {"M": 32, "efConstruction": 200})

        def passages(s):
            s.add_field("pid", DT.VARCHAR, max_length=TEXT_MAX)
            s.add_field("article_id", DT.VARCHAR, max_length=TEXT_MAX)
            s.add_field("title", DT.VARCHAR, max_length=TEXT_MAX)
            s.add_field("text", DT.VARCHAR, max_length=TEXT_MAX)
            s.add_field("ordinal", DT.INT64)
            s.add_field("start", DT.INT64)
            s.add_field("end", DT.INT64)
            s.add_field("source", DT.VARCHAR, max_length=TEXT_MAX)
            s.add_field("lang", DT.VARCHAR, max_length=16)
            s.add_field("vector", DT.FLOAT_VECTOR, dim=dim)
            # Sanad's analysed tokens, space-joined: Milvus only splits them again and counts.
            s.add_field("terms", DT.VARCHAR, max_length=TEXT_MAX, enable_analyzer=True,
                        analyzer_params={"tokenizer": "whitespace"})
            s.add_field("sparse", DT.SPARSE_FLOAT_VECTOR)

        bm25 = pm.Function(name="bm25", function_type=pm.FunctionType.BM25, input_field_names=["terms"],
                           output_field_names=["sparse"])
        make(self.c_passages, passages,
             [("vector", dense[0], "IP", dense[1]),
              ("sparse", "SPARSE_INVERTED_INDEX", "BM25", {"bm25_k1": BM25_K1, "bm25_b": BM25_B})], [bm25])

        def sentences(s):
            s.add_field("passage", DT.INT64)
            s.add_field("start", DT.INT64)
            s.add_field("end", DT.INT64)
            s.add_field("vector", DT.FLOAT_VECTOR, dim=dim)

        make(self.c_sentences, sentences, [("vector", dense[0], "IP", dense[1])])

        def articles(s):  # Milvus wants a vector in every collection: a 2-d placeholder
            s.add_field("article", DT.VARCHAR, max_length=TEXT_MAX)  # the record without its text, JSON
            s.add_field("part", DT.INT64)
            s.add_field("text", DT.VARCHAR, max_length=TEXT_MAX)
            s.add_field("pad", DT.FLOAT_VECTOR, dim=2)

        make(self.c_articles, articles, [("pad", "FLAT", "L2", {})])

        def manifest(s):
            s.add_field("state", DT.VARCHAR, max_length=TEXT_MAX)
            s.add_field("pad", DT.FLOAT_VECTOR, dim=2)

        make(self.c_manifest, manifest, [("pad", "FLAT", "L2", {})])

    def _insert(self, collection: str, rows: list[dict]) -> None:
        for i in range(0, len(rows), BATCH):
            self.client.insert(collection, rows[i:i + BATCH])

    def drop(self) -> None:
        for name in (self.c_passages, self.c_sentences, self.c_articles, self.c_manifest):
            if self.client.has_collection(name):
                self.client.drop_collection(name)
        self.view = None

    def close(self) -> None:
        """Close the client; a milvus-lite file is released for other processes."""
        with contextlib.suppress(Exception):
            self.client.close()
        for key in [k for k, v in _open.items() if v is self]:
            del _open[key]
        if self.local:
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(str(Path(self.uri).expanduser()))


# ---------------------------------------------------------------- building

@contextlib.contextmanager
def _writer_lock(store: MilvusIndex) -> Iterator[None]:
    # One writer per index on this machine (as the FAISS store). Writers on different machines against one
    # cluster are not coordinated by Milvus; run builds from one place (README).
    store.path.mkdir(parents=True, exist_ok=True)
    with open(store.path / ".milvus-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def build_milvus(store: MilvusIndex, loaded: LoadResult, embedder: Embedder, *, rebuild: bool = False,
                 restore: bool = False, spec: ChunkSpec = ChunkSpec(),
                 progress: Callable[[int, int], None] | None = None) -> BuildReport:
    """Add `loaded.articles` to the Milvus index (creating it), embedding only the new passages; `rebuild`
    starts from them alone; `restore` re-embeds the stored articles first. Same meaning as `build_index`."""
    t0 = time.perf_counter()
    if not loaded.articles and (not restore or store.empty):
        raise NoArticles(loaded.skipped)
    with _writer_lock(store):
        store._call(store.refresh)
        old = store.view
        if old and not rebuild and not restore and old.state.get("model_id") != embedder.model_id:
            raise IndexProblem(f"Milvus index {store.name!r} was built with model {old.state.get('model_id')!r}, "
                               f"but the configured model is {embedder.model_id!r}; set SANAD_EMBED_MODEL to match "
                               f"or re-embed it with: sanad index build --name {store.name} --rebuild")
        kept = store._call(store.stored_articles) if old and not rebuild else []
        incremental = old is not None and not rebuild and not restore
        new_articles, dups = not_yet_indexed(loaded, kept)
        if not new_articles and not restore:
            if old is None:
                raise NoArticles(loaded.skipped)
            return BuildReport(store.path, 0, 0, old.state["articles"], old.state["passages"], dups,
                               loaded.skipped, time.perf_counter() - t0)
        to_embed = new_articles if incremental else kept + new_articles
        passages = [p for a in to_embed for p in chunk_article(a, embedder.count_tokens, spec)]
        spans = [(i, s, e) for i, p in enumerate(passages) for s, e in sentence_spans(p.text)]
        total, done = len(passages) + len(spans), [0]
        if progress:
            progress(0, total)

        def tick(n: int) -> None:
            done[0] += n
            if progress:
                progress(done[0], total)

        vectors, sent_vecs = embed_with_sentences(embedder, [p.text for p in passages],
                                                  [sentence_spans(p.text) for p in passages], progress=tick)
        store._call(_write, store, old, incremental, to_embed, passages, vectors, spans, sent_vecs, embedder)
    articles_now = store.state["articles"]
    added = sum(1 for p in passages if p.article_id in {a.id for a in new_articles})
    return BuildReport(store.path, len(new_articles), added, articles_now, store.size, dups, loaded.skipped,
                       time.perf_counter() - t0)


def _write(store: MilvusIndex, old: View | None, incremental: bool, articles: list[Article],
           passages: list[Passage], vectors: np.ndarray, spans: list[tuple[int, int, int]], sent_vecs: np.ndarray,
           embedder: Embedder) -> None:
    c = store.client
    store.ensure_collections(embedder.dim)
    hi = old.hi if old else -1
    for name in (store.c_passages, store.c_sentences, store.c_articles):
        c.delete(name, filter=f"version > {hi}")  # rows of a build that died before its commit
    version = max(int(time.time() * 1000), hi + 1, (old.version + 1) if old else 0)
    st = old.state if old else {}
    base_p, base_s, base_a = st.get("next_passage", 0), st.get("next_sentence", 0), st.get("next_article", 0)
    store._insert(store.c_articles, [
        {"id": base_a + i, "version": version, "part": j, "pad": [0.0, 0.0],
         "article": json.dumps({k: v for k, v in a.__dict__.items() if k != "text"}, ensure_ascii=False),
         "text": a.text[j * ARTICLE_PART:(j + 1) * ARTICLE_PART]}
        for i, a in enumerate(articles) for j in range(max(1, -(-len(a.text) // ARTICLE_PART)))])
    store._insert(store.c_passages, [
        {"id": base_p + i, "version": version, "pid": p.id, "article_id": p.article_id, "title": p.title,
         "text": p.text, "ordinal": p.ordinal, "start": p.start, "end": p.end, "source": p.source, "lang": p.lang,
         "vector": vectors[i].tolist(), "terms": _terms(p)}
        for i, p in enumerate(passages)])
    store._insert(store.c_sentences, [
        {"id": base_s + j, "version": version, "passage": base_p + i, "start": s, "end": e,
         "vector": sent_vecs[j].tolist()}
        for j, (i, s, e) in enumerate(spans)])
    for name in (store.c_articles, store.c_passages, store.c_sentences):
        c.flush(name)  # durable before the manifest row points at them
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    lo = old.lo if incremental else version
    prev_lo = old.lo if old else version
    state = {"format": FORMAT, "model_id": embedder.model_id, "dim": embedder.dim, "lo": lo, "hi": version,
             "passages": (st.get("passages", 0) if incremental else 0) + len(passages),
             "articles": (st.get("articles", 0) if incremental else 0) + len(articles),
             "next_passage": base_p + len(passages), "next_sentence": base_s + len(spans),
             "next_article": base_a + len(articles), "created": st.get("created", now), "updated": now}
    # The commit point: one row, inserted whole. Readers take the newest manifest row.
    c.insert(store.c_manifest, [{"id": version, "version": version, "state": json.dumps(state), "pad": [0.0, 0.0]}])
    c.flush(store.c_manifest)
    store.refresh()
    # Sweep what no reader can need: views older than the previous one, and manifest rows before it.
    for name in (store.c_passages, store.c_sentences, store.c_articles):
        c.delete(name, filter=f"version < {prev_lo}")
    if old:
        c.delete(store.c_manifest, filter=f"id < {old.version}")


def _terms(p: Passage) -> str:
    # What bm25s indexes in the FAISS store (rag.storage.index.bm25_corpus): title and text, analysed.
    return " ".join(arabic.analyze(f"{p.title}\n{p.text}"))[:TEXT_MAX // 4]


def _bm25_text(question: str) -> str:
    return " ".join(arabic.analyze(question))


def _ids_scores(hits: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([h["id"] for h in hits], np.int64), np.array([h["distance"] for h in hits], np.float32))


def _best(ids: np.ndarray, scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The n best, ties by ascending id as the FAISS store's stable sorts (Milvus orders ties arbitrarily, and
    ARCD has many: passages of twin articles); asked for 2n, so a tie across the cut is resolved too."""
    order = np.lexsort((ids, -scores))[:n]
    return ids[order], scores[order]


def _list(ids) -> str:
    return "[" + ",".join(str(int(i)) for i in (ids.tolist() if isinstance(ids, np.ndarray) else ids)) + "]"


def _passage(r: dict) -> Passage:
    return Passage(id=r["pid"], article_id=r["article_id"], title=r["title"], text=r["text"], ordinal=r["ordinal"],
                   start=r["start"], end=r["end"], source=r["source"], lang=r["lang"])


_open: dict[tuple, MilvusIndex] = {}


def open_store(settings, name: str | None = None) -> MilvusIndex:
    """The Milvus index `name` (default: the configured index) at the configured URI; one client per process."""
    from rag.settings import check_index_name

    name = check_index_name(name or settings.index_name)
    key = (settings.milvus_target, settings.milvus_token, name)
    if key not in _open:
        _open[key] = MilvusIndex(settings.milvus_target, name, settings.index_dir / name,
                                 token=settings.milvus_token)
    return _open[key]
