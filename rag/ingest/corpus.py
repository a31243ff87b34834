"""Load news articles from files or folders (.txt .md .html .jsonl .csv), cleaned and de-duplicated.

Nothing is dropped silently: every file that yields no article, every row that is not loaded (with its
line number) and every file of another type is listed in `LoadResult.skipped` with the reason. Sizes are
checked before reading, JSONL and CSV are read line by line, and duplicate detection costs at most a fixed
number of shingles per article, so a huge or hostile file costs bounded memory and time.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import json
import os
import re
import stat
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import numpy as np

from rag.errors import CorpusError
from rag.ingest.cleaning import clean_field, clean_lines, fallback_title, split_title
from rag.ingest.dates import normalize_date
from rag.text import arabic
from rag.types import Article

SUPPORTED = {".txt", ".md", ".html", ".htm", ".jsonl", ".csv", ".jsonl.gz"}
MAX_FILE_BYTES = 50 * 1024 * 1024
# A .jsonl.gz is counted in decompressed bytes as it streams (a gzip bomb stops there). Its limit is higher than
# MAX_FILE_BYTES: a whole news archive comes as one file (SaudiNewsNet: 28 MB compressed, 107 MB of JSONL).
MAX_GZIP_BYTES = 1024 * 1024 * 1024
MAX_ROW_REPORTS = 20  # rows reported one by one per file; the rest are counted in one line
MIN_WORDS = 5  # content words an article needs

# progress(stage, done, total): "reading" counts bytes of the input files, "duplicates" counts articles.
Progress = Callable[[str, int, "int | None"], None]


@dataclass
class LoadResult:
    articles: list[Article] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file name, or file:line, why)
    duplicates: int = 0


class _RowLog:
    """Row-level problems of one file, reported as `name:line`; capped so a broken file yields a few lines."""

    def __init__(self, name: str, result: LoadResult) -> None:
        self.name, self.result, self.count = name, result, 0

    def row(self, first: int, why: str, last: int | None = None) -> None:
        """Report the row on lines first..last (one line when last is None)."""
        self.count += 1
        if self.count <= MAX_ROW_REPORTS:
            where = f"{first}-{last}" if last is not None and last != first else str(first)
            self.result.skipped.append((f"{self.name}:{where}", why))

    def close(self) -> None:
        if self.count > MAX_ROW_REPORTS:
            self.result.skipped.append((self.name, f"{self.count - MAX_ROW_REPORTS} more rows not loaded "
                                                   f"({self.count} in all; the first {MAX_ROW_REPORTS} are listed)"))


# ---------------------------------------------------------------- bytes to text

_HEAD = 64 * 1024  # bytes sniffed for binary data
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))  # UTF-32 LE first: same start
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_LONE_CR = re.compile(r"(?<=\r)(?=[^\n])")  # old-Mac line ends inside one "\n" line


def _mib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def _check_file(path: Path, name: str) -> int:
    """The file's size, refusing before any read what cannot or must not be read."""
    st = path.stat()
    if not stat.S_ISREG(st.st_mode):
        raise CorpusError(f"{name}: not a regular file")
    if st.st_size > MAX_FILE_BYTES:
        raise CorpusError(f"{name}: larger than {MAX_FILE_BYTES // 2**20} MiB ({_mib(st.st_size)}); "
                          "split it into smaller files")
    if st.st_size == 0:
        raise CorpusError(f"{name}: empty file")
    return st.st_size


def _encoding(head: bytes) -> tuple[str, int]:
    """(codec, BOM length): UTF-8 unless a byte-order mark says UTF-16/32 (Windows "Unicode" text)."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec, len(bom)
    return "utf-8", 0


def _refuse_binary(sample: str, name: str) -> None:
    # UTF-16 without a BOM decodes as "valid" UTF-8 full of NUL or \x06 bytes: refuse rather than index noise.
    bad = len(_CONTROL.findall(sample))
    if bad > max(1, len(sample) // 100):
        raise CorpusError(f"{name}: binary data, not text ({bad} control characters in the first "
                          f"{len(sample)} characters; UTF-16 without a byte-order mark?)")


def _not_utf8(name: str, offset: int) -> CorpusError:
    return CorpusError(f"{name}: not UTF-8 (bad byte at offset {offset}); save it as UTF-8")


def _read_text(path: Path, name: str | None = None) -> str:
    """A whole text file, size-checked first; UTF-8 (BOM optional) or UTF-16/32 with a BOM."""
    name = name or path.name
    _check_file(path, name)
    with path.open("rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise CorpusError(f"{name}: grew past {MAX_FILE_BYTES // 2**20} MiB while being read")
    codec, bom = _encoding(data[:4])
    if codec == "utf-8":  # binary first: UTF-16 without a BOM deserves that hint more than "not UTF-8"
        _refuse_binary(data[:_HEAD].decode("utf-8", "replace"), name)
    try:
        text = data[bom:].decode(codec)
    except UnicodeDecodeError as exc:
        if codec == "utf-8":
            raise _not_utf8(name, exc.start + bom) from None
        raise CorpusError(f"{name}: not valid {codec.upper()} (bad bytes at offset {exc.start + bom})") from None
    _refuse_binary(text[:_HEAD], name)
    return text


def _lines(path: Path, name: str, tick: Callable[[int], None]) -> Iterator[tuple[int, str | None, int]]:
    """(line number, text, byte offset) per line, streamed; text is None for a line that is not UTF-8
    (the offset is then the bad byte's). `tick(bytes read)` reports progress."""
    size = _check_file(path, name)
    with path.open("rb") as f:
        head = f.read(_HEAD)
        codec, bom = _encoding(head[:4])
        if codec != "utf-8":  # UTF-16/32 with a BOM: bounded by the size check, decoded whole
            n = 0
            for line in _split_keep(_read_text(path, name)):
                for part in _LONE_CR.split(line):
                    n += 1
                    yield n, part, 0
            tick(size)
            return
        _refuse_binary(head.decode("utf-8", "replace"), name)
        f.seek(bom)
        n, offset, last_tick = 0, bom, bom
        while raw := f.readline(MAX_FILE_BYTES + 1 - offset):
            start, offset = offset, offset + len(raw)
            if offset > MAX_FILE_BYTES:
                raise CorpusError(f"{name}: grew past {MAX_FILE_BYTES // 2**20} MiB while being read")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                n += 1
                yield n, None, start + exc.start
                continue
            for part in _LONE_CR.split(line):
                n += 1
                yield n, part.removeprefix("\ufeff"), start  # a BOM inside: files joined with `cat`
            if offset - last_tick >= 1 << 20:
                tick(offset)
                last_tick = offset
        tick(offset)


def _suffix(path: Path) -> str:
    """The file type: its suffix, or ".jsonl.gz" for gzip-compressed JSON Lines."""
    return ".jsonl.gz" if path.name.lower().endswith(".jsonl.gz") else path.suffix.lower()


def _gz_lines(path: Path, name: str, tick: Callable[[int], None],
              log: _RowLog) -> Iterator[tuple[int, str | None, int]]:
    """`_lines` for a .jsonl.gz: decompressed as it streams, UTF-8, sized by decompressed bytes. A corrupt or
    truncated stream ends the file with one reported row (the rows before it are kept); `tick` counts
    compressed bytes (what the progress total is made of)."""
    st = path.stat()
    if not stat.S_ISREG(st.st_mode):
        raise CorpusError(f"{name}: not a regular file")
    if st.st_size == 0:
        raise CorpusError(f"{name}: empty file")
    with path.open("rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as f:
        n, offset, last_tick = 0, 0, 0
        while True:
            try:
                line = f.readline(MAX_FILE_BYTES + 1)
            except (gzip.BadGzipFile, EOFError, zlib.error, OSError) as exc:
                why = ("not gzip data" if isinstance(exc, gzip.BadGzipFile) and n == 0 else
                       "the gzip stream ends early (truncated file)" if isinstance(exc, EOFError) else
                       f"corrupt gzip data ({' '.join(str(exc).split())[:80]})")
                if n == 0:
                    raise CorpusError(f"{name}: {why}") from None
                log.row(n + 1, f"{why}; the rest of the file was not read")
                break
            if not line:
                break
            start, offset = offset, offset + len(line)
            if offset > MAX_GZIP_BYTES or len(line) > MAX_FILE_BYTES:
                what = (f"a line longer than {MAX_FILE_BYTES // 2**20} MiB" if len(line) > MAX_FILE_BYTES
                        else f"more than {MAX_GZIP_BYTES // 2**20} MiB decompressed")
                if n == 0:
                    raise CorpusError(f"{name}: {what}")
                log.row(n + 1, f"{what}; the rest of the file was not read")
                break
            n += 1
            if n == 1 and line.startswith(codecs.BOM_UTF8):
                line = line[len(codecs.BOM_UTF8):]
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield n, None, start + exc.start
                continue
            yield n, text, start
            if raw.tell() - last_tick >= 1 << 20:
                last_tick = raw.tell()
                tick(last_tick)
        tick(st.st_size)


def _split_keep(text: str) -> Iterator[str]:
    """Lines split on "\\n" only (str.splitlines also splits inside CSV fields at \\u2028, \\x1c…)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


# ---------------------------------------------------------------- articles

def make_article(raw_text: str, *, title: str = "", source: str = "", url: str = "", date: str = "",
                 article_id: str | None = None, author: str = "") -> Article | None:
    """Clean one article's text; None when nothing of substance is left."""
    lines = clean_lines(raw_text)
    title = clean_field(title)
    found_title, body_lines = split_title(lines) if not title else ("", lines)
    body_lines = [ln for ln in body_lines if ln != title]  # the title repeated as first line
    body = "\n".join(body_lines).strip()
    if not _has_words(body, MIN_WORDS):
        return None
    title = title or found_title or fallback_title(body)
    aid = article_id or hashlib.sha1(body.encode()).hexdigest()[:16]
    return Article(id=aid, title=title, text=body, source=source, url=url, date=normalize_date(date),
                   author=author)


def _has_words(text: str, n: int) -> bool:
    # Only the first few thousand characters are tokenised: a 50 MB line need not be, to know it has 5 words.
    for size in (4096, len(text)):
        if len(arabic.tokens(text[:size])) >= n + (size < len(text)):  # the last one may be cut
            return True
        if size >= len(text):
            break
    return False


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


def _html_article(text: str, name: str) -> Article | None:
    parser = _HTMLText()
    parser.feed(text)
    parser.close()
    body = "".join(parser.parts)
    title = parser.h1.strip() or re.split(r"\s[|–-]\s", parser.title.strip())[0]
    return make_article(body, title=title, source=Path(name).name)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return {int: "a number", float: "a number", str: "a string", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__)


def _meta(value: object) -> str:
    """A title/url/date/source value as one line: lists of strings are joined; objects and null are ignored."""
    if isinstance(value, str):
        return clean_field(value)
    if isinstance(value, list):
        return clean_field(" ".join(v for v in value if isinstance(v, str)))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return ""


def _body(row: dict) -> tuple[str | None, str]:
    """(text, why not): a string, or a list of strings taken as paragraphs."""
    if "text" not in row:
        return None, f"no 'text' field (fields: {', '.join(list(row)[:8]) or 'none'})"
    value = row["text"]
    if isinstance(value, str):
        return value, ""
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "\n".join(value), ""
    return None, f"'text' is {_kind(value)}, not text"


_TOO_SHORT = f"no article text after cleaning (under {MIN_WORDS} words)"


def _jsonl_articles(path: Path, name: str, log: _RowLog, tick: Callable[[int], None]) -> list[Article]:
    out: list[Article] = []
    good = False  # a readable row seen: later bad bytes spoil one row, not the file
    lines = _gz_lines(path, name, tick, log) if _suffix(path) == ".jsonl.gz" else _lines(path, name, tick)
    for n, line, offset in lines:
        if line is None:
            if not good:
                raise _not_utf8(name, offset)
            log.row(n, f"not UTF-8 (bad byte at offset {offset})")
            continue
        if not line.strip():
            continue
        good = True
        try:
            row = json.loads(line)
        except RecursionError:
            row, why = None, "not valid JSON (nested too deeply)"
        except ValueError as exc:  # JSONDecodeError, and ints too long to convert
            row, why = None, f"not valid JSON ({getattr(exc, 'msg', str(exc))[:80]})"
        else:
            why = "" if isinstance(row, dict) else f"{_kind(row)}, not a JSON object"
        if why:
            if n == 1 and line.lstrip().startswith("["):
                why += "; the file looks like a JSON array, not JSON Lines (one object per line)"
            log.row(n, why)
            continue
        text, why = _body(row)
        if text is None:
            log.row(n, why)
            continue
        art = make_article(text, title=_meta(row.get("title")), url=_meta(row.get("url")),
                           date=_meta(row.get("date_extracted")) or _meta(row.get("date")),  # SaudiNewsNet's
                           source=_meta(row.get("source")) or Path(name).name, author=_meta(row.get("author")))
        if art:
            out.append(art)
        else:
            log.row(n, _TOO_SHORT)
    return out


def _csv_articles(path: Path, name: str, log: _RowLog, tick: Callable[[int], None]) -> list[Article]:
    csv.field_size_limit(MAX_FILE_BYTES)  # an article may exceed csv's 128 KiB default
    bad: list[int] = []  # offsets of undecodable lines inside the row being read
    readable_rows = [0]

    def text_lines() -> Iterator[str]:
        for _, line, offset in _lines(path, name, tick):
            if line is None:
                if not readable_rows[0]:  # a wrong encoding, not one damaged row: refuse the file
                    raise _not_utf8(name, offset)
                bad.append(offset)
                yield "\n"  # keeps line numbers; the row it belongs to is reported below
            else:
                yield line

    header: list[str] | None = None
    # strict: a stray quote raises (and is reported) instead of silently swallowing the rows after it.
    reader = csv.reader(text_lines(), strict=True)
    out: list[Article] = []
    end = 0
    while True:
        start = end + 1
        try:
            rec = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            end = reader.line_num
            if header is None:
                raise CorpusError(f"{name}: unreadable CSV header ({exc})") from None
            lost = end - start + 1
            why = (f"a quote opened on line {start} is never closed" if "end of data" in str(exc)
                   else f"malformed CSV quoting ({exc})")
            log.row(start, f"{why}; {lost} line{'s' * (lost > 1)} not loaded", end)
            bad.clear()
            continue
        end = reader.line_num
        if header is None:
            if not any(c.strip() for c in rec):
                continue  # blank lines before the header
            header = [h.lower().strip() for h in rec]
            body_col = next((header.index(c) for c in ("text", "content", "body", "article") if c in header), None)
            if body_col is None:
                raise CorpusError(f"{name}: CSV needs a 'text' (or content/body) column, found {header[:8]}")
            bad.clear()
            continue
        if bad:
            log.row(start, f"not UTF-8 (bad byte at offset {bad[0]})", end)
            bad.clear()
            continue
        if not any(c.strip() for c in rec):
            continue
        readable_rows[0] += 1
        if len(rec) > len(header):
            log.row(start, f"{len(rec)} fields where the header has {len(header)} (an unquoted comma?)", end)
            continue
        row = dict(zip(header, rec + [""] * (len(header) - len(rec))))
        art = make_article(rec[body_col] if body_col < len(rec) else "", title=_meta(row.get("title")),
                           url=_meta(row.get("url")), date=_meta(row.get("date")),
                           source=_meta(row.get("source")) or Path(name).name, author=_meta(row.get("author")))
        if art:
            out.append(art)
        else:
            log.row(start, _TOO_SHORT, end)
    if header is None:
        raise CorpusError(f"{name}: no CSV header")
    return out


def _load(path: Path, name: str, log: _RowLog, tick: Callable[[int], None]) -> list[Article]:
    suffix = _suffix(path)
    if suffix not in SUPPORTED:
        raise CorpusError(f"{name}: unsupported type {suffix or '(no extension)'} "
                          f"(use {', '.join(sorted(SUPPORTED))})")
    if suffix in (".jsonl", ".jsonl.gz"):
        return _jsonl_articles(path, name, log, tick)
    if suffix == ".csv":
        return _csv_articles(path, name, log, tick)
    text = _read_text(path, name)
    tick(len(text))
    art = _html_article(text, name) if suffix in (".html", ".htm") else make_article(text, source=path.name)
    return [art] if art else []


def load_file(path: Path, result: LoadResult) -> list[Article]:
    """The articles of one file; row problems go to `result.skipped`, a refused file raises CorpusError."""
    log = _RowLog(path.name, result)
    try:
        return _load(path, path.name, log, lambda _: None)
    finally:
        log.close()


def _walk(paths: list[Path], result: LoadResult) -> list[tuple[Path, str]]:
    """(path, name to report) of every file to read; other types, hidden and linked folders are reported."""
    files: list[tuple[Path, str]] = []
    for p in paths:
        if not p.is_dir():
            files.append((p, p.name))
            continue

        def unreadable(exc: OSError, root: Path = p) -> None:
            where = os.path.relpath(exc.filename, root) if exc.filename else "."
            result.skipped.append((root.name if where == "." else Path(where).as_posix(), exc.strerror or str(exc)))

        for root, dirs, names in os.walk(p, onerror=unreadable):
            rel = Path(root).relative_to(p)
            for d in sorted(dirs):
                if d.startswith(".") or os.path.islink(os.path.join(root, d)):
                    result.skipped.append(((rel / d).as_posix(), "hidden folder, not read" if d.startswith(".")
                                           else "link to a folder, not followed"))
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not os.path.islink(os.path.join(root, d)))
            for fname in sorted(names):
                f, shown = Path(root) / fname, (rel / fname).as_posix()
                suffix = _suffix(f)
                if suffix not in SUPPORTED:
                    result.skipped.append((shown, f"unsupported type {suffix or '(no extension)'}"))
                else:
                    files.append((f, shown))
    return files


def iter_files(paths: list[Path]) -> list[Path]:
    """The files `load` reads under `paths` (folders: supported types only)."""
    return [f for f, _ in _walk(list(paths), LoadResult())]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def load(paths: list[Path] | Path, progress: Progress | None = None) -> LoadResult:
    """Articles from files and folders, cleaned and de-duplicated.

    `progress(stage, done, total)` is called as files are read ("reading": bytes) and as articles are
    checked for duplicates ("duplicates": articles).
    """
    paths = [paths] if isinstance(paths, Path) else list(paths)
    report = progress or (lambda stage, done, total: None)
    result = LoadResult()
    files = _walk(paths, result)
    sizes = [min(_size(f), MAX_FILE_BYTES) for f, _ in files]  # refused huge files count as skipped bytes
    total, done = sum(sizes), 0
    report("reading", 0, total)
    found: list[tuple[str, Article]] = []
    for (path, name), size in zip(files, sizes):
        log = _RowLog(name, result)

        def tick(n: int, base: int = done, size: int = size) -> None:
            report("reading", base + min(n, size), total)

        articles: list[Article] | None = None
        try:
            articles = _load(path, name, log, tick)
        except CorpusError as exc:
            msg = str(exc)
            result.skipped.append((name, msg[len(name) + 2:] if msg.startswith(name + ": ") else msg))
        except OSError as exc:
            result.skipped.append((name, exc.strerror or str(exc)))
        except Exception as exc:  # noqa: BLE001 -- one odd file must not stop the others; said, not hidden
            result.skipped.append((name, f"unexpected error while reading ({type(exc).__name__}: "
                                         f"{' '.join(str(exc).split())[:120]})"))
        finally:
            log.close()
            done += size
            report("reading", done, total)
        if articles == []:
            result.skipped.append((name, f"no articles ({log.count} row{'s' * (log.count > 1)} not loaded)"
                                   if log.count else "no article text after cleaning"))
        found += [(name, a) for a in articles or []]

    dedupe = Deduper()
    kept: Counter[str] = Counter()
    report("duplicates", 0, len(found))
    for i, (name, art) in enumerate(found, 1):
        if dedupe.add(art):
            result.articles.append(art)
            kept[name] += 1
        else:
            result.duplicates += 1
        if i % 200 == 0 or i == len(found):
            report("duplicates", i, len(found))
    for name, n in Counter(name for name, _ in found).items():
        if not kept[name]:  # the file is not silently empty: say why nothing of it was added
            result.skipped.append((name, "duplicate of an article already loaded" if n == 1
                                   else f"all {n} articles duplicate ones already loaded"))
    return result


# ---------------------------------------------------------------- duplicates
#
# Exact duplicates: the hash of the normalised words. Near duplicates: resemblance of word 5-shingle sets,
# estimated from a bottom-k sketch (the _SKETCH smallest shingle hashes) -- exact for articles up to about
# _SKETCH words, and a bounded-cost unbiased estimate beyond. Candidates come from MinHash LSH buckets over
# the sketch, so no pairwise comparison; the text is hashed in chunks, so a 50 MB line costs bounded memory.

_SHINGLE = 5
_SKETCH = 1024  # shingle hashes kept per article
_CHUNK = 1 << 20  # characters normalised and hashed at a time
_PERMS = 64
_BANDS = 16  # 16 bands × 4 rows: pairs above ~0.6 resemblance become candidates
_NEAR = 0.8  # resemblance at or above which two articles are the same story
_MERSENNE = (1 << 61) - 1
_rng = np.random.default_rng(20240601)
_A = _rng.integers(1, _MERSENNE, _PERMS, dtype=np.uint64)
_B = _rng.integers(0, _MERSENNE, _PERMS, dtype=np.uint64)
_U64 = np.uint64
_PRIME = _U64(0x100000001B3)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads shingle hashes evenly, so the smallest k are a fair sample."""
    x = x ^ (x >> _U64(30))
    x = x * _U64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> _U64(27))
    x = x * _U64(0x94D049BB133111EB)
    return x ^ (x >> _U64(31))


def _token_hash(tok: str) -> int:
    return int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=8).digest(), "little")


def _pieces(text: str, size: int) -> Iterator[str]:
    """`text` in pieces of about `size` characters, cut at whitespace (so no word is split)."""
    i = 0
    while i < len(text):
        j = min(len(text), i + size)
        if j < len(text):
            cut = max(text.rfind(" ", i, j), text.rfind("\n", i, j))
            j = cut if cut > i else j
        yield text[i:j]
        i = j


def _fingerprint(text: str) -> tuple[str, np.ndarray]:
    """(exact key, sorted sketch of shingle hashes) of an article's normalised words."""
    key = hashlib.sha1()
    cache: dict[str, int] = {}
    tail = np.empty(0, _U64)  # the last _SHINGLE-1 token hashes of the previous piece
    sketch = np.empty(0, _U64)
    count = 0
    for piece in _pieces(text, _CHUNK):
        toks = arabic.normalize(piece).split()
        if not toks:
            continue
        key.update(((" " if count else "") + " ".join(toks)).encode())
        count += len(toks)
        for t in set(toks).difference(cache):
            cache[t] = _token_hash(t)
        h = np.concatenate([tail, np.fromiter(map(cache.__getitem__, toks), _U64, len(toks))])
        if len(h) >= _SHINGLE:
            sketch = np.unique(np.concatenate([sketch, _shingle_hashes(h)]))[:_SKETCH]
        tail = h[-(_SHINGLE - 1):]
    if count < _SHINGLE:  # fewer words than a shingle: the words are the one shingle
        h = np.concatenate([tail, np.zeros(_SHINGLE - len(tail), _U64)])
        sketch = _shingle_hashes(h)
    return key.hexdigest(), sketch


def _shingle_hashes(h: np.ndarray) -> np.ndarray:
    n = len(h) - _SHINGLE + 1
    acc = h[:n].copy()
    for j in range(1, _SHINGLE):
        acc = acc * _PRIME + h[j:j + n]  # wraps mod 2^64, which is what a hash wants
    return _mix(acc)


def _minhash(sketch: np.ndarray) -> np.ndarray:
    return ((np.outer(sketch, _A) + _B) % _U64(_MERSENNE)).min(axis=0)


def _resemblance(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard of the two shingle sets, from their bottom-k sketches: of the k smallest hashes of the
    union, the share found in both (exact when both sets have at most k shingles)."""
    union = np.union1d(a, b)[:_SKETCH]
    both = np.intersect1d(a, b, assume_unique=True)
    return float(np.count_nonzero(both <= union[-1])) / len(union)


class Deduper:
    """Exact (normalised text hash) and near-duplicate (bottom-k sketch + MinHash LSH) detection."""

    def __init__(self) -> None:
        self.exact: set[str] = set()
        self.buckets: dict[tuple[int, bytes], list[int]] = {}
        self.sketches: list[np.ndarray] = []

    def add(self, article: Article) -> bool:
        """Remember the article; False when it duplicates one already seen."""
        key, sketch = _fingerprint(article.text)
        if key in self.exact:
            return False
        sig = _minhash(sketch)
        rows = _PERMS // _BANDS
        keys = [(b, sig[b * rows:(b + 1) * rows].tobytes()) for b in range(_BANDS)]
        candidates = {i for k in keys for i in self.buckets.get(k, [])}
        if any(_resemblance(sketch, self.sketches[i]) >= _NEAR for i in candidates):
            return False
        self.exact.add(key)
        idx = len(self.sketches)
        self.sketches.append(sketch)
        for k in keys:
            self.buckets.setdefault(k, []).append(idx)
        return True


def not_yet_indexed(loaded: LoadResult, kept: list[Article]) -> tuple[list[Article], int]:
    """The loaded articles that are neither already indexed (`kept`) nor exact or near duplicates of an indexed or
    earlier one, and how many duplicates were dropped in all (the loader's own included)."""
    known = {a.id for a in kept}
    dedupe = Deduper()
    for a in kept:
        dedupe.add(a)
    new, dups = [], loaded.duplicates
    for a in loaded.articles:
        if a.id in known or not dedupe.add(a):
            dups += 1
        else:
            new.append(a)
            known.add(a.id)
    return new, dups
