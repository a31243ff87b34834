"""HTML for chat messages: answers with linked citations and a sources panel, refusals, errors.

Every piece of text that comes from a user, an article or a model is passed through `html.escape` before
it is put into markup; the markup itself is built here from fixed strings. The result is one line of HTML
with no blank lines, so Gradio's Markdown renderer treats it as a raw HTML block and leaves it alone
(its sanitiser still runs on top, as a second line of defence).
"""
from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

from rag.types import Answer, Citation, Hit

_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")
_LATIN = re.compile(r"[A-Za-z]")
# "[3]", "[1][2]" and "[1, 2]" / "[1، 2]"
CITE = re.compile(r"\[(\d{1,3}(?:\s*[,،]\s*\d{1,3})*)\]")

LABELS = {
    "ar": {
        "sources": "المصادر",
        "source": "المصدر",
        "more": "مقاطع أخرى مسترجعة لم يُستشهد بها",
        "closest": "أقرب المقاطع المسترجعة",
        "refused": "لا تحتوي المقالات على إجابة",
        "error": "تعذّر الحصول على إجابة",
        "thinking": "جارٍ البحث في المقالات…",
        "seconds": "ث",
        "changes": "ما عدّله التحقق",
    },
    "en": {
        "sources": "Sources",
        "source": "Source",
        "more": "Other retrieved passages, not cited",
        "closest": "Closest retrieved passages",
        "refused": "Not in the articles",
        "error": "Could not answer",
        "thinking": "Searching the articles…",
        "seconds": "s",
        "changes": "What verification changed",
    },
}


# What verification changed, per kind (rag.types.CHANGE_TEXT), said in Arabic; English uses Change.describe().
CHANGES_AR = {
    "out_of_range": "حُذف استشهاد بمصدر غير موجود",
    "dropped": "حُذف استشهاد لا يدعم الجملة",
    "repaired": "صُحّح رقم المصدر",
    "unsupported": "حُذفت جملة لا يدعمها أي مصدر",
    "invented": "حُذفت جملة فيها كلمات لا ترد في المصادر",
    "instruction": "حُذفت جملة تشبه التعليمات",
    "restated": "حُذفت جملة لا تزيد على إعادة السؤال",
    "not_quoted": "حُذف اقتباس لا يطابق مصدره",
}


def guess_language(text: str) -> str:
    """'ar' when the text has at least as many Arabic letters as Latin ones (UI labels only)."""
    ar = len(_ARABIC.findall(text or ""))
    la = len(_LATIN.findall(text or ""))
    return "ar" if ar >= la and ar > 0 else ("en" if la else "ar")


_STRONG = re.compile(r"[\u0590-\u08FF\uFB1D-\uFDFF\uFE70-\uFEFF]|[A-Za-z\u00C0-\u024F\u0370-\u03FF\u0400-\u04FF]")


def first_strong_direction(text: str, default: str = "rtl") -> str:
    """What dir="auto" would pick (first strong character), computed here so the wrapper carries it."""
    m = _STRONG.search(text or "")
    if not m:
        return default
    return "rtl" if "\u0590" <= m.group(0) <= "\u08FF" or m.group(0) >= "\uFB1D" else "ltr"


def direction(lang: str) -> str:
    return "rtl" if lang == "ar" else "ltr"


def _esc(text: str) -> str:
    return html.escape(text or "", quote=True)


_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_BULLET = re.compile(r"^(?:([-•*])|(\d{1,3})[.)])\s+(.*)$")


def _inline(escaped: str) -> str:
    """The one bit of Markdown a model's answer commonly uses: **bold** (applied to already-escaped text)."""
    return _BOLD.sub(r"<strong>\1</strong>", escaped)


def _paragraphs(escaped: str) -> str:
    """Escaped plain text → paragraphs and lists ("- " or "1. " lines), on one line of HTML."""
    out: list[str] = []
    items: list[str] = []
    kind = ["ul"]
    para: list[str] = []

    def flush_para() -> None:
        if para:
            out.append(f'<p dir="auto">{"<br>".join(para)}</p>')
            para.clear()

    def flush_items() -> None:
        if items:
            out.append(f"<{kind[0]}>" + "".join(f'<li dir="auto">{i}</li>' for i in items) + f"</{kind[0]}>")
            items.clear()

    for line in escaped.replace("\r\n", "\n").split("\n"):
        stripped = _inline(line.strip())
        bullet = _BULLET.match(stripped)
        if bullet:
            flush_para()
            this = "ol" if bullet.group(2) else "ul"
            if items and kind[0] != this:
                flush_items()
            kind[0] = this
            items.append(bullet.group(3))
        elif not stripped:
            flush_para()
            flush_items()
        else:
            flush_items()
            para.append(stripped)
    flush_para()
    flush_items()
    return "".join(out)


@dataclass
class _Source:
    n: int
    hit: Hit
    quotes: list[tuple[int, int]]  # spans to highlight inside the passage text


def _quote_spans(text: str, citations: Iterable[Citation]) -> list[tuple[int, int]]:
    spans = []
    for c in citations:
        if 0 <= c.start < c.end <= len(text) and text[c.start:c.end] == c.quote:
            spans.append((c.start, c.end))
        elif c.quote:
            at = text.find(c.quote)
            if at < 0:
                at = text.find(c.quote.strip(" .…"))
                if at >= 0:
                    spans.append((at, at + len(c.quote.strip(" .…"))))
            else:
                spans.append((at, at + len(c.quote)))
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _marked(text: str, spans: list[tuple[int, int]]) -> str:
    out, pos = [], 0
    for s, e in spans:
        out.append(_esc(text[pos:s]))
        out.append(f"<mark>{_esc(text[s:e])}</mark>")
        pos = e
    out.append(_esc(text[pos:]))
    return "".join(out).replace("\n", "<br>")


_SAFE_URL = re.compile(r"^https?://[^\s\x00-\x1f\x7f]+$", re.IGNORECASE)


def safe_url(url: str) -> str:
    """The URL when it is a plain http(s) link, else "" (javascript:, data: and the like are never linked)."""
    url = (url or "").strip()
    return url if _SAFE_URL.match(url) else ""


def _news_line(hit: Hit, lang: str) -> str:
    """Outlet · date · link, and the other outlets that reported the same story; escaped, empty when unknown."""
    parts = [f'<span class="sanad-src-outlet">{_esc(hit.outlet)}</span>' if hit.outlet else "",
             f'<span class="sanad-src-date">{_esc(hit.date)}</span>' if hit.date else ""]
    if url := safe_url(hit.url):
        parts.append(f'<a class="sanad-src-link" href="{_esc(url)}" target="_blank" rel="noopener noreferrer">'
                     f'{L_LINK[lang]}</a>')
    if hit.also:
        parts.append(f'<span class="sanad-src-also">{L_ALSO[lang]} {_esc(", ".join(hit.also))}</span>')
    parts = [p for p in parts if p]
    return f'<div class="sanad-src-news" dir="ltr">{" · ".join(parts)}</div>' if parts else ""


L_LINK = {"ar": "الرابط", "en": "link"}
L_ALSO = {"ar": "نشرته أيضًا:", "en": "also reported by"}


def _source_card(src: _Source, msg_id: str, lang: str, cited: bool) -> str:
    p = src.hit.passage
    meta = _esc(p.source) if p.source and not src.hit.outlet else ""  # the outlet is in the news line
    cls = "sanad-src sanad-cited" if cited else "sanad-src"
    return (
        f'<div class="{cls}" id="src-{msg_id}-{src.n}">'
        f'<div class="sanad-src-head"><span class="sanad-src-n">{src.n}</span>'
        f'<span class="sanad-src-title" dir="auto">{_esc(p.title) or "—"}</span>'
        + (f'<span class="sanad-src-file" dir="ltr">{meta}</span>' if meta else "")
        + "</div>"
        + _news_line(src.hit, lang)
        +
        f'<div class="sanad-src-text" dir="auto">{_marked(p.text, src.quotes)}</div>'
        "</div>"
    )


def _link_citations(escaped_text: str, msg_id: str, sources: dict[int, _Source]) -> str:
    """Draw `[n]` as a link only where n is one of the answer's verified citations; any other bracketed number
    (a source's own reference mark quoted in the answer) stays plain text."""
    def one(n: int) -> str:
        src = sources[n]
        quote = " … ".join(src.hit.passage.text[s:e] for s, e in src.quotes)
        quote = quote if len(quote) <= 220 else quote[:220].rsplit(" ", 1)[0] + " …"
        tip = _esc(src.hit.passage.title) + (f"&#10;«{_esc(quote)}»" if quote else "")
        return (f'<a class="sanad-cite" href="#src-{msg_id}-{n}" '
                f'title="{tip}">{n}</a>')

    def repl(m: re.Match) -> str:
        nums = [int(x) for x in re.split(r"\s*[,،]\s*", m.group(1))]
        if not all(n in sources for n in nums):
            return m.group(0)
        sep = '<span class="sanad-br">, </span>'
        return ('<span class="sanad-cites"><span class="sanad-br">[</span>' + sep.join(one(n) for n in nums)
                + '<span class="sanad-br">]</span></span>')

    return CITE.sub(repl, escaped_text)


def _sources(answer: Answer) -> tuple[dict[int, _Source], dict[int, _Source]]:
    """(cited, uncited) passages by number."""
    by_n: dict[int, list[Citation]] = {}
    for c in answer.citations:
        by_n.setdefault(c.number, []).append(c)
    cited, uncited = {}, {}
    for i, hit in enumerate(answer.passages, 1):
        cits = by_n.get(i, [])
        if cits:
            cited[i] = _Source(i, hit, _quote_spans(hit.passage.text, cits))
        else:
            uncited[i] = _Source(i, hit, [])
    return cited, uncited


def _meta(answer: Answer, lang: str) -> str:
    parts = []
    if answer.backend:
        parts.append(_esc(answer.backend))
    total = answer.timings.get("total") if answer.timings else None
    if isinstance(total, (int, float)):
        parts.append(f"{total:.1f} {LABELS[lang]['seconds']}")
    if not parts:
        return ""
    return f'<div class="sanad-meta" dir="ltr">{" · ".join(parts)}</div>'


def _changes(answer: Answer, lang: str) -> str:
    """What verification changed in the draft, collapsed (the sentences quoted are model output: escaped)."""
    changes = answer.verification.changes
    if not changes:
        return ""
    items = []
    for c in changes:
        line = c.describe() if lang == "en" else f"{CHANGES_AR.get(c.kind, c.kind)}: {c.claim[:80]}"
        items.append(f"<li>{_esc(line)}</li>")
    return (f'<details class="sanad-changes"><summary>{LABELS[lang]["changes"]} ({len(changes)})</summary>'
            f'<ul>{"".join(items)}</ul></details>')


def _render_user(text: str) -> str:
    lang = guess_language(text)
    d = first_strong_direction(text, direction(lang))
    return (f'<div class="sanad-msg sanad-user" dir="{d}" lang="{lang}">'
            f"{_paragraphs(_esc(text))}</div>")


def _render_pending(question: str, partial: str = "", lang: str | None = None) -> str:
    """The assistant message while the answer streams in (citations shown, not yet linked)."""
    lang = lang or guess_language(question)
    d = direction(lang)
    if not partial:
        return (f'<div class="sanad-msg sanad-answer sanad-pending" dir="{d}" lang="{lang}">'
                f'<span class="sanad-dots"></span> {LABELS[lang]["thinking"]}</div>')
    body = CITE.sub(lambda m: f'<span class="sanad-cites">{m.group(0)}</span>', _esc(partial))
    return (f'<div class="sanad-msg sanad-answer sanad-streaming" dir="{d}" lang="{lang}">'
            f'<div class="sanad-body">{_paragraphs(body)}</div></div>')


def _render_answer(answer: Answer, msg_id: str) -> str:
    """The final answer: text with linked [n], its cited sources, the other passages collapsed."""
    lang = answer.language if answer.language in LABELS else guess_language(answer.text)
    d = direction(lang)
    L = LABELS[lang]
    cited, uncited = _sources(answer)
    if answer.refused:
        closest = "".join(_source_card(s, msg_id, lang, False) for s in list(uncited.values())[:3])
        return (
            f'<div class="sanad-msg sanad-refusal" dir="{d}" lang="{lang}">'
            f'<div class="sanad-badge sanad-badge-refused">{L["refused"]}</div>'
            f'<div class="sanad-body">{_paragraphs(_esc(answer.text))}</div>'
            + (f'<details class="sanad-more"><summary>{L["closest"]}</summary>{closest}</details>'
               if closest else "")
            + _changes(answer, lang) + _meta(answer, lang) + "</div>"
        )
    text, short = answer.text, ""
    if answer.short and text.lstrip().startswith(answer.short):  # the short answer leads, set apart
        short = _link_citations(_esc(answer.short), msg_id, cited)
        text = text.lstrip()[len(answer.short):].strip()
    body = _link_citations(_esc(text), msg_id, cited)
    parts = [
        f'<div class="sanad-msg sanad-answer sanad-final" dir="{d}" lang="{lang}" id="ans-{msg_id}">',
        f'<div class="sanad-short" dir="auto">{short}</div>' if short else "",
        f'<div class="sanad-body">{_paragraphs(body)}</div>',
    ]
    if cited or uncited:
        parts.append('<div class="sanad-sources">')
        if cited:
            parts.append(f'<div class="sanad-sources-h">{L["sources"]}</div>')
            parts.extend(_source_card(s, msg_id, lang, True) for s in cited.values())
        if uncited:
            parts.append(f'<details class="sanad-more"><summary>{L["more"]} ({len(uncited)})</summary>')
            parts.extend(_source_card(s, msg_id, lang, False) for s in uncited.values())
            parts.append("</details>")
        parts.append("</div>")
    parts.append(_changes(answer, lang))
    parts.append(_meta(answer, lang))
    parts.append("</div>")
    return "".join(parts)


def _render_error(message: str, lang: str) -> str:
    lang = lang if lang in LABELS else "ar"
    return (f'<div class="sanad-msg sanad-error" dir="{direction(lang)}" lang="{lang}">'
            f'<div class="sanad-badge sanad-badge-error">{LABELS[lang]["error"]}</div>'
            f'<div class="sanad-body" dir="auto">{_esc(message)}</div></div>')


def _one_line(fn):
    def wrapped(*args, **kwargs) -> str:
        # A newline left in a title or quote could end Markdown's raw-HTML block early; none may remain.
        return fn(*args, **kwargs).replace("\r", " ").replace("\n", " ")

    wrapped.__name__ = fn.__name__.lstrip("_")
    wrapped.__doc__ = fn.__doc__
    return wrapped


render_user = _one_line(_render_user)
render_pending = _one_line(_render_pending)
render_answer = _one_line(_render_answer)
render_error = _one_line(_render_error)
