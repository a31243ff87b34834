"""`Sanad`: one object, built from `Settings`, that owns the embedder, the index, the retriever, the backends
and their caches. Everything a front end does goes through it.

    s = Sanad(settings)                       # nothing is loaded until first used
    s.ask("…")                                # a Response: iterate for text, then .answer
    s.answer("…"), s.search("…", k=5), s.build([Path("articles/")])

`rag.answer()` and friends use a default instance per settings (`sanad_for`).
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rag.answering.evidence import SentenceVectors
from rag.backends import Registry, Resources, build_registry
from rag.embedding.embedders import Embedder, get_embedder
from rag.errors import ConfigError, IndexProblem
from rag.query import Filters, make_filters, make_query
from rag.response import Response
from rag.search.retrieval import Retriever
from rag.settings import Settings, get_settings
from rag.storage import lifecycle
from rag.storage.index import BuildReport, load_index
from rag.types import Answer, Hit

QUERY_CACHE = 256  # question vectors kept (answering embeds the question for retrieval and for selection)


class Sanad:
    def __init__(self, settings: Settings | None = None, *, registry: Registry | None = None,
                 embedder: Embedder | None = None) -> None:
        self.settings = settings or get_settings()
        self.backends = registry or build_registry(self.settings)
        if self.settings.backend not in self.backends.names:
            raise ConfigError(f"SANAD_BACKEND={self.settings.backend!r} is not a backend; use one of "
                              f"{', '.join(self.backends.names)}")
        self._embedder = embedder
        self._sentences: SentenceVectors | None = None
        self._retriever: Retriever | None = None
        self._loaded_stamp: tuple | None = None
        self._lock = threading.RLock()  # guards lazy loading and the caches below
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._reader_failed = False

    # -- owned parts, loaded on first use

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = get_embedder(self.settings)
            return self._embedder

    @property
    def sentences(self) -> SentenceVectors:
        """Passage-sentence vectors: the index's own, else embedded on demand and kept in an LRU cache."""
        with self._lock:
            if self._sentences is None:
                self._sentences = SentenceVectors(self.embedder)
            return self._sentences

    @property
    def retriever(self) -> Retriever:
        """The retriever over the configured index; reloaded when another process committed a newer version."""
        if self.settings.store == "milvus":
            return self._milvus_retriever()
        with self._lock:
            stamp = _manifest_stamp(self.settings.index_path)
            if self._retriever is None or stamp != self._loaded_stamp:
                lifecycle.ensure_default_index(self.settings, embedder=lambda: self.embedder)
                stamp = _manifest_stamp(self.settings.index_path)  # before loading: a commit meanwhile reloads
                index = load_index(self.settings.index_path, self.embedder.model_id)
                self._retriever = Retriever(index, self.embedder, self.settings.dense_weight,
                                            embed_query=self.embed_query, sentences=self.sentences)
                self._loaded_stamp = stamp
            return self._retriever

    def _milvus_retriever(self):
        """SANAD_STORE=milvus: the same search over the Milvus index; sees another process's commit at once (each
        search reads the newest manifest row). Answer-time sentence vectors are embedded on demand (LRU cache)."""
        from rag.search.candidates import StoreRetriever
        from rag.storage.milvus import open_store

        with self._lock:
            store = open_store(self.settings)
            changed = store.refresh()
            if self._retriever is None or changed:
                lifecycle.ensure_default_index(self.settings, embedder=lambda: self.embedder)
                store.refresh()
                if store.empty:
                    raise IndexProblem(f"no Milvus index {store.name!r} at {store.uri}; build it with: "
                                       f"sanad index build --name {store.name} FILES")
                if store.model_id != self.embedder.model_id:
                    raise IndexProblem(f"Milvus index {store.name!r} was built with model {store.model_id!r}, but "
                                       f"the configured model is {self.embedder.model_id!r}; set SANAD_EMBED_MODEL "
                                       f"to match or re-embed it with: sanad index build --name {store.name} --rebuild")
                self._retriever = StoreRetriever(store, self.embedder, self.settings.dense_weight,
                                                 embed_query=self.embed_query)
            return self._retriever

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            vec = self._query_vectors.get(text)
            if vec is not None:
                self._query_vectors.move_to_end(text)
                return vec
        vec = self.embedder.embed_queries([text])
        with self._lock:
            self._query_vectors[text] = vec
            while len(self._query_vectors) > QUERY_CACHE:
                self._query_vectors.popitem(last=False)
        return vec

    def resources(self) -> Resources:
        return Resources(self.settings, self.embedder, self.sentences, self.embed_query, self.translated_terms,
                         self.reader, lambda: self.retriever.size)

    def reader(self):
        """The span reader's encoder, loaded on first use (None when SANAD_READER=off, none is fitted, or it cannot
        be built: answers then pick their words by the span cues alone, as before the reader)."""
        if self.settings.reader == "off" or self._reader_failed:
            return None
        from rag.answering import reader as readers

        with self._lock:
            try:
                return readers.encoder(self.settings.models_dir)
            except (OSError, RuntimeError, ValueError) as e:  # e.g. a full disk while exporting it to ONNX
                logging.getLogger(__name__).warning("span reader unavailable, answering without it: %s", e)
                self._reader_failed = True
                return None

    def translated_terms(self, question: str) -> list[str]:
        """The question's words in the index's language, through its lexicon ([] for a Milvus store: none)."""
        terms = getattr(self.retriever, "translated_terms", None)
        return terms(question) if terms else []

    # -- what front ends call

    def search(self, text: str, k: int | None = None, method: str = "fused", lang: str | None = None,
               filters: Filters | None = None) -> list[Hit]:
        """Ranked passages; `filters` limits them to a date range and outlets (see `rag.query.make_filters`)."""
        return self.retriever.search(text, k or self.settings.top_k, method, lang=lang, filters=filters)

    def ask(self, question: str, *, history: list[dict] | None = None, top_k: int | None = None,
            backend: str | None = None, language: str | None = None, date_from: str | None = None,
            date_to: str | None = None, outlets: list[str] | str | None = None) -> Response:
        """Check the question now (errors raise here), then answer lazily as the Response is read.
        `date_from`/`date_to` (YYYY-MM-DD, inclusive) and `outlets` limit the sources answered from."""
        query = make_query(question, self.settings, history=history, top_k=top_k, backend=backend,
                           language=language, filters=make_filters(date_from, date_to, outlets))
        self.backends.get(query.backend)  # an unknown backend is the caller's error, raised now
        from rag.answering.pipeline import (
            run,  # loaded on the first answer: searches never import it
        )

        return Response(run(self, query))

    def ensure_index(self, progress: Callable[[int, int], None] | None = None) -> BuildReport | None:
        """Build (first run) or migrate the default index now, with progress, instead of on first use."""
        with self._lock:
            return lifecycle.ensure_default_index(self.settings, progress=progress, embedder=lambda: self.embedder)

    def answer(self, question: str, **kwargs) -> Answer:
        return self.ask(question, **kwargs).answer

    def build(self, paths: list[Path], *, rebuild: bool = False, faiss_kind: str = "flat",
              progress: Callable[[int, int], None] | None = None,
              ingest_progress: Callable[[str, int, int | None], None] | None = None,
              embedder: Embedder | None = None) -> BuildReport:
        """Add the articles under `paths` to this index (see `lifecycle.build`); the next search sees them.
        `embedder` embeds this build's passages instead of the own one (e.g. a `RayEmbedder`): it must be the
        same model (same `model_id`)."""
        def model() -> Embedder:  # called once the files proved to hold articles
            if embedder is None:
                return self.embedder
            if embedder.model_id != self.embedder.model_id:
                raise ConfigError(f"the build embedder is {embedder.model_id}, this Sanad searches with "
                                  f"{self.embedder.model_id}")
            return embedder

        report = lifecycle.build(paths, self.settings, rebuild=rebuild, faiss_kind=faiss_kind, progress=progress,
                              ingest_progress=ingest_progress, embedder=model)
        with self._lock:
            self._retriever = None  # the next search loads the new version
        return report


def _manifest_stamp(index_path: Path) -> tuple | None:
    try:
        st = (index_path / "manifest.json").stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size  # each commit renames a new manifest in (a new inode)


_default: dict[Settings, Sanad] = {}
_default_lock = threading.Lock()


def sanad_for(settings: Settings | None = None) -> Sanad:
    """The shared instance for these settings (the current SANAD_* environment when None)."""
    settings = settings or get_settings()
    with _default_lock:
        if settings not in _default:
            _default[settings] = Sanad(settings)
        return _default[settings]
