"""Load news articles from files or folders (.txt .md .html .jsonl .csv), cleaned and de-duplicated.

Unreadable, non-UTF-8 or malformed files are reported by name and skipped; the rest still loads.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import numpy as np

from . import arabic
from .errors import CorpusError
from .cleaning import clean_lines, fallback_title, split_title
from .types import Article

SUPPORTED = {".txt", ".md", ".html", ".htm", ".jsonl", ".csv"}
MAX_FILE_BYTES = 50 * 1024 * 1024


@dataclass
class LoadResult:
    articles: list[Article] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file name, why)
    duplicates: int = 0




# ---------------------------------------------------------------- readers

def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise CorpusError(f"{path.name}: larger than {MAX_FILE_BYTES // 2**20} MiB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path.name}: not UTF-8 (bad byte at offset {exc.start})") from None


def make_article(raw_text: str, *, title: str = "", source: str = "", url: str = "", date: str = "",
                 article_id: str | None = None) -> Article | None:
    """Clean one article's text; None when nothing of substance is left."""
    lines = clean_lines(raw_text)
    found_title, body_lines = split_title(lines) if not title else ("", lines)
    body_lines = [ln for ln in body_lines if ln != title.strip()]  # the title repeated as first line
    body = "\n".join(body_lines).strip()
    if len(arabic.tokens(body)) < 5:
        return None
    title = (title or found_title).strip() or fallback_title(body)
    aid = article_id or hashlib.sha1(body.encode()).hexdigest()[:16]
    return Article(id=aid, title=title, text=body, source=source, url=url, date=date)


class _HTMLText(HTMLParser):
    """Block text of an HTML page, skipping scripts, styles and page furniture (nav, header, footer, aside, form)."""

    SKIP = {"script", "style", "nav", "header", "footer", "aside", "form", "noscript", "button", "select", "iframe"}
    BLOCK = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False
        self._in_h1 = False
        self.h1 = ""

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag == "h1":
            self._in_h1 = True
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self._skip:
            self._skip -= 1
        elif tag == "title":
            self._in_title = False
        elif tag == "h1":
            self._in_h1 = False
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        elif not self._skip:
            self.parts.append(data)
            if self._in_h1:
                self.h1 += data


def _html_article(text: str, path: Path) -> Article | None:
    parser = _HTMLText()
    parser.feed(text)
    body = "".join(parser.parts)
    title = parser.h1.strip() or re.split(r"\s[|–-]\s", parser.title.strip())[0]
    return make_article(body, title=title, source=path.name)


def _jsonl_articles(text: str, path: Path, result: LoadResult) -> list[Article]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            body = row["text"]
        except (json.JSONDecodeError, KeyError, TypeError):
            result.skipped.append((f"{path.name}:{n}", "not a JSON object with a 'text' field"))
            continue
        art = make_article(str(body), title=str(row.get("title") or ""), url=str(row.get("url") or ""),
                           date=str(row.get("date") or ""), source=str(row.get("source") or path.name))
        if art:
            out.append(art)
    return out


def _csv_articles(text: str, path: Path, result: LoadResult) -> list[Article]:
    reader = csv.DictReader(io.StringIO(text))
    fields = {f.lower().strip(): f for f in (reader.fieldnames or [])}
    body_col = next((fields[c] for c in ("text", "content", "body", "article") if c in fields), None)
    if body_col is None:
        raise CorpusError(f"{path.name}: CSV needs a 'text' (or content/body) column, found {list(fields)}")
    out = []
    for row in reader:
        get = lambda name: str(row.get(fields.get(name, ""), "") or "")  # noqa: E731
        art = make_article(str(row.get(body_col) or ""), title=get("title"), url=get("url"),
                           date=get("date"), source=get("source") or path.name)
        if art:
            out.append(art)
    return out


def load_file(path: Path, result: LoadResult) -> list[Article]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise CorpusError(f"{path.name}: unsupported type (use {', '.join(sorted(SUPPORTED))})")
    text = _read_text(path)
    if suffix == ".jsonl":
        return _jsonl_articles(text, path, result)
    if suffix == ".csv":
        return _csv_articles(text, path, result)
    if suffix in (".html", ".htm"):
        art = _html_article(text, path)
    else:
        art = make_article(text, source=path.name)
    return [art] if art else []


def iter_files(paths: list[Path]) -> list[Path]:
    files = []
    for p in paths:
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUPPORTED)
        else:
            files.append(p)
    return files


def load(paths: list[Path] | Path, known: "Deduper | None" = None) -> LoadResult:
    """Articles from files and folders, cleaned and de-duplicated (also against `known`, e.g. an index's)."""
    paths = [paths] if isinstance(paths, Path) else list(paths)
    result = LoadResult()
    dedupe = known or Deduper()
    for path in iter_files(paths):
        try:
            articles = load_file(path, result)
        except CorpusError as exc:
            result.skipped.append((path.name, str(exc).split(": ", 1)[-1]))
            continue
        except OSError as exc:
            result.skipped.append((path.name, exc.strerror or str(exc)))
            continue
        if not articles:
            result.skipped.append((path.name, "no article text after cleaning"))
        for art in articles:
            if dedupe.add(art):
                result.articles.append(art)
            else:
                result.duplicates += 1
    return result


# ---------------------------------------------------------------- duplicates

_SHINGLE = 5
_PERMS = 64
_BANDS = 16  # 16 bands × 4 rows: pairs above ~0.6 Jaccard become candidates
_NEAR = 0.8  # shingle Jaccard at or above which two articles are the same story
_MERSENNE = (1 << 61) - 1
_rng = np.random.default_rng(20240601)
_A = _rng.integers(1, _MERSENNE, _PERMS, dtype=np.uint64)
_B = _rng.integers(0, _MERSENNE, _PERMS, dtype=np.uint64)


def _shingles(text: str) -> set[int]:
    toks = arabic.normalize(text).split()
    grams = {" ".join(toks[i:i + _SHINGLE]) for i in range(max(1, len(toks) - _SHINGLE + 1))}
    return {int.from_bytes(hashlib.blake2b(g.encode(), digest_size=7).digest(), "little") for g in grams}


def _minhash(sh: set[int]) -> np.ndarray:
    x = np.fromiter(sh, dtype=np.uint64, count=len(sh))
    return ((np.outer(x, _A) + _B) % np.uint64(_MERSENNE)).min(axis=0)


class Deduper:
    """Exact (normalised text hash) and near-duplicate (MinHash LSH over word 5-shingles) detection."""

    def __init__(self) -> None:
        self.exact: set[str] = set()
        self.buckets: dict[tuple[int, bytes], list[int]] = {}
        self.shingles: list[set[int]] = []

    def add(self, article: Article) -> bool:
        """Remember the article; False when it duplicates one already seen."""
        key = hashlib.sha1(" ".join(arabic.normalize(article.text).split()).encode()).hexdigest()
        if key in self.exact:
            return False
        sh = _shingles(article.text)
        sig = _minhash(sh)
        rows = _PERMS // _BANDS
        keys = [(b, sig[b * rows:(b + 1) * rows].tobytes()) for b in range(_BANDS)]
        candidates = {i for k in keys for i in self.buckets.get(k, [])}
        for i in candidates:
            other = self.shingles[i]
            if len(sh & other) / max(1, len(sh | other)) >= _NEAR:
                return False
        self.exact.add(key)
        idx = len(self.shingles)
        self.shingles.append(sh)
        for k in keys:
            self.buckets.setdefault(k, []).append(idx)
        return True
