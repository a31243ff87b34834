"""Process-wide access to the configured index and retriever, loaded once and shared.

The default index is built from the bundled seed articles on first use, so `from rag import answer`
works out of the box.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

from . import corpus
from .models import get_embedder
from .retrieval import Retriever
from .settings import SEEDS_DIR, Settings, get_settings
from .store import FORMAT_VERSION, BuildReport, build_index, load_index

_lock = threading.RLock()
_retrievers: dict[Path, Retriever] = {}


def build(paths: list[Path], settings: Settings | None = None, *, rebuild: bool = False, faiss_kind: str = "flat",
          progress: Callable[[int, int], None] | None = None,
          ingest_progress: corpus.Progress | None = None) -> BuildReport:
    """Clean, chunk, embed and add the articles under `paths` to the configured index.

    `ingest_progress(stage, done, total)` reports reading and de-duplication (see `corpus.load`)."""
    settings = settings or get_settings()
    embedder = get_embedder(settings)
    loaded = corpus.load(paths, progress=ingest_progress)
    report = build_index(settings.index_path, loaded, embedder, rebuild=rebuild, faiss_kind=faiss_kind,
                         progress=progress)
    with _lock:
        _retrievers.pop(settings.index_path, None)  # the next search sees the new articles
    return report


def ensure_default_index(settings: Settings | None = None,
                         progress: Callable[[int, int], None] | None = None) -> BuildReport | None:
    """Build the default index from the bundled seeds when there is none yet."""
    settings = settings or get_settings()
    if settings.index_name != "default":
        return None
    manifest = settings.index_path / "manifest.json"
    if not manifest.exists():
        return build([SEEDS_DIR], settings, progress=progress)
    try:
        outdated = json.loads(manifest.read_text(encoding="utf-8")).get("format_version") != FORMAT_VERSION
    except ValueError:
        outdated = True
    if outdated:  # an index from an older Sanad: the default one is rebuilt from the bundled seeds
        return build([SEEDS_DIR], settings, rebuild=True, progress=progress)
    return None


def get_retriever(settings: Settings | None = None) -> Retriever:
    settings = settings or get_settings()
    with _lock:
        cached = _retrievers.get(settings.index_path)
        if cached is not None:
            return cached
        ensure_default_index(settings)
        embedder = get_embedder(settings)
        index = load_index(settings.index_path, embedder.model_id)
        retriever = Retriever(index, embedder, dense_weight=settings.dense_weight)
        _retrievers[settings.index_path] = retriever
        return retriever
