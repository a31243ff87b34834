"""What serving needs of every passage and article, as arrays, and the records themselves parsed on demand.

Parsing an archive's 230 MB of passage and article JSON took 2 s of a 5–6 s cold `sanad search` on
SaudiNewsNet; a search reads a dozen records. So a commit also writes a catalog (ids, languages, outlets,
article dates and URLs, and each record's byte offset in its JSONL file) that loads in milliseconds, and
`Records` reads a record only when it is asked for.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
import orjson

from rag.ingest.dates import iso_date
from rag.types import Article, Passage

T = TypeVar("T")


@dataclass(frozen=True)
class Catalog:
    """One entry per passage (in index order) or per article (in stored order)."""

    passage_ids: np.ndarray  # str
    langs: np.ndarray  # str
    outlets: np.ndarray  # str, lower case: the article's source, else the passage's; '' for none
    article_of: np.ndarray  # int32: the passage's article row; -1 when its article is not stored
    article_ids: np.ndarray  # str
    article_dates: np.ndarray  # str: ISO date, '' for none
    article_urls: np.ndarray  # str

    def per_passage(self, article_values: np.ndarray, missing) -> np.ndarray:
        """An article-level array spread over the passages; `missing` where a passage's article is not stored."""
        if not len(article_values):
            return np.full(len(self.article_of), missing)
        return np.where(self.article_of >= 0, article_values[np.maximum(self.article_of, 0)], missing)

    def passage_dates(self) -> np.ndarray:
        return self.per_passage(self.article_dates, "")

    def url(self, passage: int) -> str:
        a = int(self.article_of[passage])
        return str(self.article_urls[a]) if a >= 0 else ""


def catalog_of(passages: Sequence[Passage], articles: Sequence[Article]) -> Catalog:
    """The catalog of records in hand (at commit, and when loading an index stored before catalogs)."""
    row = {a.id: i for i, a in enumerate(articles)}
    article_of = np.array([row.get(p.article_id, -1) for p in passages], np.int32)
    sources = [(a.source or "") for a in articles]
    return Catalog(
        passage_ids=_strings([p.id for p in passages]),
        langs=_strings([p.lang for p in passages]),
        outlets=_strings([((sources[a] if a >= 0 else "") or p.source).lower()
                          for a, p in zip(article_of.tolist(), passages)]),
        article_of=article_of,
        article_ids=_strings([a.id for a in articles]),
        article_dates=_strings([iso_date(a.date) for a in articles]),
        article_urls=_strings([a.url or "" for a in articles]))


def _strings(values: list[str]) -> np.ndarray:
    return np.array(values, dtype=str) if values else np.zeros(0, dtype="<U1")


_FIELDS = ("passage_ids", "langs", "outlets", "article_of", "article_ids", "article_dates", "article_urls")


def save_catalog(file: Path, catalog: Catalog, passage_offsets: np.ndarray, article_offsets: np.ndarray) -> None:
    """One .npz (no pickles); the caller fsyncs and commits it."""
    with open(file, "wb") as f:
        np.savez(f, passage_offsets=passage_offsets, article_offsets=article_offsets,
                 **{k: getattr(catalog, k) for k in _FIELDS})


def load_catalog(file: Path) -> tuple[Catalog, np.ndarray, np.ndarray]:
    """(catalog, passage byte offsets, article byte offsets); ValueError when its arrays disagree."""
    with np.load(file, allow_pickle=False) as z:
        arrays = {k: z[k] for k in (*_FIELDS, "passage_offsets", "article_offsets")}
    cat = Catalog(**{k: arrays[k] for k in _FIELDS})
    n, m = len(cat.passage_ids), len(cat.article_ids)
    if not (len(cat.langs) == len(cat.outlets) == len(cat.article_of) == n == len(arrays["passage_offsets"]) - 1
            and len(cat.article_dates) == len(cat.article_urls) == m == len(arrays["article_offsets"]) - 1
            and (n == 0 or int(cat.article_of.max()) < m)):
        raise ValueError("catalog arrays disagree")
    return cat, arrays["passage_offsets"], arrays["article_offsets"]


class Records(Sequence, Generic[T]):
    """The records of a JSONL file by position, each parsed when asked for (`offsets[i]:offsets[i+1]` holds
    record i); iterating parses them all, in order."""

    def __init__(self, file: Path, offsets: np.ndarray, parse: Callable[[dict], T]) -> None:
        self.file, self.offsets, self.parse = file, offsets, parse
        self._f = None

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        if self._f is None:
            self._f = open(self.file, "rb")  # noqa: SIM115 - held for the index's lifetime, as FAISS holds its files
        start, end = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.parse(orjson.loads(_pread(self._f, start, end - start)))

    def __iter__(self) -> Iterator[T]:
        with open(self.file, "rb") as f:
            for line in f:
                if line.strip():
                    yield self.parse(orjson.loads(line))

    def __add__(self, other: Sequence[T]) -> list[T]:
        return [*self, *other]


def _pread(f, start: int, size: int) -> bytes:
    return os.pread(f.fileno(), size, start)


def jsonl_offsets(lengths: list[int]) -> np.ndarray:
    """Byte offsets of records whose encoded lines are `lengths` long: (len + 1,) int64, starting at 0."""
    return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)
