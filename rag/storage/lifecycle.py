"""An index's life cycle: build it from files, and make sure the default one exists (no caches here: the
`Sanad` object owns the loaded index).

The default index is built from the bundled seed articles on first use, so `from rag import answer`
works out of the box. Seeds go only into an index folder that holds nothing; an index in an older format
has its own stored articles re-embedded; a corrupt one is reported (IndexProblem), never replaced.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rag.embedding.embedders import Embedder, get_embedder
from rag.ingest import corpus
from rag.settings import SEEDS_DIR, Settings, get_settings
from rag.storage.index import (
    BuildReport,
    NoArticles,
    build_index,
    holds_nothing,
    index_state,
    upgrade_index,
)


def build(paths: list[Path], settings: Settings | None = None, *, rebuild: bool = False, faiss_kind: str = "flat",
          progress: Callable[[int, int], None] | None = None,
          ingest_progress: corpus.Progress | None = None,
          embedder: Callable[[], Embedder] | None = None) -> BuildReport:
    """Clean, chunk, embed and add the articles under `paths` to the configured index.

    `rebuild` with `paths` starts the index from those files alone; `rebuild` without paths re-embeds the
    articles the index itself stores (the repair for a corrupt, outdated or other-model index), or builds
    from the bundled seeds when the index holds nothing. `ingest_progress(stage, done, total)` reports
    reading and de-duplication (see `corpus.load`), then the build's stages (see `build_index`). `embedder` gives the model when it is needed (after the
    files proved to hold articles)."""
    settings = settings or get_settings()
    path = settings.index_path
    restore = rebuild and not paths
    if settings.store == "milvus":
        return _build_milvus(paths, settings, rebuild, restore, progress, ingest_progress, embedder)
    if restore and holds_nothing(path):
        paths, restore = [SEEDS_DIR], False
    loaded = corpus.load(paths, progress=ingest_progress) if paths else corpus.LoadResult()
    if not loaded.articles and not restore:
        raise NoArticles(loaded.skipped)  # before the embedding model is loaded
    model = embedder() if embedder else get_embedder(settings)
    return build_index(path, loaded, model, rebuild=rebuild and not restore, restore=restore,
                       faiss_kind=faiss_kind, progress=progress, stages=ingest_progress,
                       batch_size=settings.build_batch)


def ensure_default_index(settings: Settings | None = None, progress: Callable[[int, int], None] | None = None,
                         embedder: Callable[[], Embedder] | None = None) -> BuildReport | None:
    """Build the default index from the bundled seeds when its folder holds nothing yet, and migrate it when
    it is in an older format (its own articles are re-embedded). Anything else is left for load_index to
    accept or report."""
    settings = settings or get_settings()
    if settings.index_name != "default":
        return None
    if settings.store == "milvus":
        from rag.storage.milvus import open_store

        store = open_store(settings)
        store.refresh()
        return build([SEEDS_DIR], settings, progress=progress, embedder=embedder) if store.empty else None
    state = index_state(settings.index_path)
    if state == "empty":
        return build([SEEDS_DIR], settings, progress=progress, embedder=embedder)
    if state == "outdated":
        return build([], settings, rebuild=True, progress=progress, embedder=embedder)
    if state == "upgradable":  # the bundled corpus's index, stored before lexicons or catalogs: add them
        upgrade_index(settings.index_path, embedder() if embedder else get_embedder(settings))
    return None


def _build_milvus(paths, settings, rebuild, restore, progress, ingest_progress, embedder) -> BuildReport:
    """`build` for SANAD_STORE=milvus: the same steps, written to Milvus (rag/storage/milvus.py)."""
    from rag.storage.milvus import build_milvus, open_store

    store = open_store(settings)
    if restore and store.empty:
        paths, restore = [SEEDS_DIR], False
    loaded = corpus.load(paths, progress=ingest_progress) if paths else corpus.LoadResult()
    if not loaded.articles and not restore:
        raise NoArticles(loaded.skipped)
    model = embedder() if embedder else get_embedder(settings)
    return build_milvus(store, loaded, model, rebuild=rebuild and not restore, restore=restore, progress=progress)
