"""Adding uploaded articles to the index: check each file first, then clean, chunk, embed and add.

A refused file never reaches the index, and a failed build leaves the previous index as it was (the
store commits atomically), so nothing already indexed is lost.
"""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.sanad import Sanad

ALLOWED = (".txt", ".md", ".html", ".htm", ".jsonl", ".csv")
MAX_UPLOAD_BYTES = 10 * 1024 * 1024


@dataclass
class UploadResult:
    accepted: list[str] = field(default_factory=list)
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # (name, why in Arabic, why in English)
    added_articles: int = 0
    added_passages: int = 0
    duplicates: int = 0
    total_articles: int | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    error: str = ""

    def to_markdown(self) -> str:
        lines = []
        if self.error:
            lines.append(f"⚠️ {self.error}")
        if self.accepted and not self.error:
            lines.append(f"✅ المقالات المضافة: **{self.added_articles}** (مقاطع: {self.added_passages}) · "
                         f"Articles added: **{self.added_articles}** ({self.added_passages} passages)")
            if self.duplicates:
                lines.append(f"↺ مكررة لم تُضف: {self.duplicates} · Duplicates not added: {self.duplicates}")
            if self.total_articles is not None:
                lines.append(f"📚 في الفهرس الآن: {self.total_articles} · Now in the index: {self.total_articles}")
        for name, why in self.skipped:
            lines.append(f"⚠️ `{_md(name)}`: {_md(why)}")
        for name, why_ar, why_en in self.refused:
            lines.append(f"⛔ `{_md(name)}` — {why_ar} · {why_en}")
        if not lines:
            lines.append("لم يُرفع أي ملف · No file uploaded")
        return "\n\n".join(lines)


def _md(text: str) -> str:
    """Plain text safe inside Markdown: no HTML, no backticks breaking the code span."""
    import html

    return html.escape(str(text)).replace("`", "'")


def check_file(path: Path, name: str | None = None) -> tuple[str, str] | None:
    """None when the file may be ingested, else (why in Arabic, why in English)."""
    name = name or path.name
    suffix = Path(name).suffix.lower()
    if suffix not in ALLOWED:
        kinds = ", ".join(ALLOWED)
        return (f"نوع غير مدعوم (المقبول: {kinds})", f"unsupported type (accepted: {kinds})")
    try:
        size = path.stat().st_size
    except OSError:
        return ("تعذّرت قراءة الملف", "the file could not be read")
    if size > MAX_UPLOAD_BYTES:
        mb = MAX_UPLOAD_BYTES // 2**20
        return (f"أكبر من {mb} ميغابايت", f"larger than {mb} MB")
    if size == 0:
        return ("الملف فارغ", "the file is empty")
    try:
        path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        return ("ليس نصًا بترميز UTF-8", "not readable UTF-8 text")
    except OSError:
        return ("تعذّرت قراءة الملف", "the file could not be read")
    return None


def add_files(files: list[str | Path], sanad: "Sanad",
              progress: Callable[[int, int], None] | None = None) -> UploadResult:
    """Check, then ingest the acceptable files into the configured index."""
    from rag.errors import SanadError

    result = UploadResult()
    staging = Path(tempfile.mkdtemp(prefix="sanad-upload-"))
    try:
        paths = []
        for f in files or []:
            src = Path(getattr(f, "name", f))
            name = src.name
            why = check_file(src, name)
            if why:
                result.refused.append((name, *why))
                continue
            dest = staging / name
            n = 1
            while dest.exists():  # two uploads with the same name
                dest = staging / f"{Path(name).stem}-{n}{Path(name).suffix}"
                n += 1
            shutil.copyfile(src, dest)
            paths.append(dest)
            result.accepted.append(name)
        if not paths:
            return result
        try:
            report = sanad.build(paths, progress=progress)
        except SanadError as exc:
            result.error = str(exc)
            return result
        result.added_articles = report.added_articles
        result.added_passages = report.added_passages
        result.duplicates = report.duplicates
        result.total_articles = report.total_articles
        result.skipped = list(report.skipped)
        sanad.retriever  # load the grown index now, not on the next question
        return result
    finally:
        shutil.rmtree(staging, ignore_errors=True)
