"""Helpers shared by test modules (imported as `from helpers import …`; test modules never import each other)."""
from __future__ import annotations

import hashlib
import importlib
import os
import random
import re
from pathlib import Path

import numpy as np
import pytest

from rag.ingest.corpus import LoadResult
from rag.types import Answer, Article

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]
FINAL = ".sanad-final, .sanad-refusal, .sanad-error"  # a chat message that is done


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require(module: str, extra: str):
    """Import an optional engine for its tests. `make test` installs every extra, so under CI a missing one is a
    failure, never a silent skip; elsewhere the tests skip with the install command."""
    if os.environ.get("CI"):
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=f"the {extra} extra is not installed: pip install '.[{extra}]'")


def shared_data(*parts: str) -> Path:
    path = SHARED.joinpath("data", *parts)
    if not path.exists():
        if os.environ.get("CI"):  # CI runs beside ../shared: a missing dataset is a failure, not a silent skip
            pytest.fail(f"shared data {path} is absent under CI")
        pytest.skip(f"shared data {path} is absent (it lives beside the checkout as ../shared)")
    return path


def assert_citations_valid(a: Answer):
    assert a.citations, a.text
    numbers_in_text = {int(n) for n in re.findall(r"\[(\d+)\]", a.text)}
    for c in a.citations:
        assert 1 <= c.number <= len(a.passages)
        shown = a.passages[c.number - 1].passage
        assert shown.id == c.passage_id
        assert shown.text[c.start:c.end] == c.quote  # the supporting sentence is really in that passage
        assert c.number in numbers_in_text
    assert numbers_in_text <= {c.number for c in a.citations}


WORDS = ("الحكومة الوزير المدينة الاقتصاد المياه الطاقة المدرسة الجامعة المستشفى الطريق السوق الزراعة "
         "المطر الشمس البحر الجبل القطار الميناء المصنع الصحيفة المحكمة البرلمان الشرطة الرياضة الملعب "
         "الفريق المدرب الطبيب الدواء المريض الطالب المعلم الكتاب المكتبة المتحف المسرح الفنان").split()


class HashEmbedder:
    """Deterministic unit vectors from a hash of the text: the store's code paths, without a model."""

    model_id, dim = "test-hash-16", 16

    def _vec(self, text: str) -> np.ndarray:
        v = np.random.default_rng(int(hashlib.md5(text.encode()).hexdigest()[:8], 16)).standard_normal(self.dim)
        return (v / np.linalg.norm(v)).astype(np.float32)

    def embed_passages(self, texts, batch_size=32, progress=None):
        if progress:
            progress(len(texts))
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_queries(self, texts):
        return self.embed_passages(texts)

    def count_tokens(self, text):
        return len(text.split())


def make_article(i: int, sentences: int = 6) -> Article:
    rng = random.Random(i)
    body = " ".join(" ".join(rng.choice(WORDS) for _ in range(12)) + "." for _ in range(sentences))
    return Article(id=f"art{i:05d}", title=f"خبر رقم {i}", text=body, source=f"{i}.txt")


def loaded(*ids: int) -> LoadResult:
    return LoadResult(articles=[make_article(i) for i in ids])
