"""Process-wide access to the configured index and retriever, loaded once and shared.

The default index is built from the bundled seed articles on first use, so `from rag import answer`
works out of the box. Seeds go only into an index folder that holds nothing; an index in an older format
has its own stored articles re-embedded; a corrupt one is reported (IndexProblem), never replaced.
A cached retriever is reloaded when another process commits a newer version of its index.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from . import corpus
from .models import get_embedder
from .retrieval import Retriever
from .settings import SEEDS_DIR, Settings, get_settings
from .store import BuildReport, NoArticles, build_index, holds_nothing, index_state, load_index

_lock = threading.RLock()
_retrievers: dict[Path, tuple[Retriever, tuple[int, int, int] | None]] = {}


def build(paths: list[Path], settings: Settings | None = None, *, rebuild: bool = False, faiss_kind: str = "flat",
          progress: Callable[[int, int], None] | None = None,
          ingest_progress: corpus.Progress | None = None) -> BuildReport:
    """Clean, chunk, embed and add the articles under `paths` to the configured index.

    `rebuild` with `paths` starts the index from those files alone; `rebuild` without paths re-embeds the
    articles the index itself stores (the repair for a corrupt, outdated or other-model index), or builds
    from the bundled seeds when the index holds nothing. `ingest_progress(stage, done, total)` reports
    reading and de-duplication (see `corpus.load`)."""
    settings = settings or get_settings()
    path = settings.index_path
    restore = rebuild and not paths
    if restore and holds_nothing(path):
        paths, restore = [SEEDS_DIR], False
    loaded = corpus.load(paths, progress=ingest_progress) if paths else corpus.LoadResult()
    if not loaded.articles and not restore:
        raise NoArticles(loaded.skipped)  # before the embedding model is loaded
    embedder = get_embedder(settings)
    report = build_index(path, loaded, embedder, rebuild=rebuild and not restore, restore=restore,
                         faiss_kind=faiss_kind, progress=progress)
    with _lock:
        _retrievers.pop(path, None)  # the next search sees the new articles
    return report


def ensure_default_index(settings: Settings | None = None,
                         progress: Callable[[int, int], None] | None = None) -> BuildReport | None:
    """Build the default index from the bundled seeds when its folder holds nothing yet, and migrate it when
    it is in an older format (its own articles are re-embedded). Anything else is left for load_index to
    accept or report."""
    settings = settings or get_settings()
    if settings.index_name != "default":
        return None
    state = index_state(settings.index_path)
    if state == "empty":
        return build([SEEDS_DIR], settings, progress=progress)
    if state == "outdated":
        return build([], settings, rebuild=True, progress=progress)
    return None


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """Identifies the committed version cheaply: each commit renames a new manifest in (new inode)."""
    try:
        st = os.stat(path / "manifest.json")
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def get_retriever(settings: Settings | None = None) -> Retriever:
    settings = settings or get_settings()
    path = settings.index_path
    with _lock:
        cached = _retrievers.get(path)
        if cached is not None and cached[1] is not None and cached[1] == _stamp(path):
            return cached[0]
        ensure_default_index(settings)
        embedder = get_embedder(settings)
        stamp = _stamp(path)  # taken before loading: a commit during the load means one more reload later
        index = load_index(path, embedder.model_id)
        retriever = Retriever(index, embedder, dense_weight=settings.dense_weight)
        _retrievers[path] = (retriever, stamp)
        return retriever
