"""Remove scraped-news boilerplate from article text, keeping the body as written.

What goes: navigation and newsletter blocks, "comment / share / back to top" lines, bulleted related-headline
lists at the end, `&` left from `&nbsp;`, agency sign-offs (// انتهى //), SMS/contact lines, and lead lines
repeated (whole or truncated) by the next line.
"""
from __future__ import annotations

import html
import re

# Whole lines that are site furniture, never article text (matched after trimming bullets and spaces).
_BOILERPLATE_LINES = re.compile(
    r"^(?:"
    r"اترك تعليقا?ً?|أضف تعليقا?ً?|اضف تعليق|التعليقات|تعليقات الفيس ?بوك|تعليقات فيسبوك|شارك(?:\s+\S+){0,3}|"
    r"مشاركة|شارك هذا الخبر|شارك المقال|طباعة|اطبع|أرسل لصديق|ارسل لصديق|إرسال لصديق|"
    r"زر الذهاب إلى الأعلى|العودة إلى الأعلى|الرجوع للأعلى|إلى الأعلى|للأعلى|"
    r"اقرأ أيضا?ً?:?|اقرأ المزيد|\.{0,3}المزيد|أخبار ذات صلة:?|مواضيع ذات صلة:?|مقالات ذات صلة:?|"
    r"الاخبار|الأخبار|التصويت|القائمة البريدية|الاسم|البريد|البريد الإلكتروني|تابعونا|تابعنا|"
    r"الرئيسية|اشترك|إشترك|"
    r"//\s*(?:انتهى|يتبع)\s*//|\*+|(?:\*\s*)+|Next|Previous|Next Previous|"
    r"share|comments?|print|back to top|read more|related(?: articles| posts)?:?|"
    r"للتواصل مع الكاتب ارسل رسالة SMS|للتواصل أرسل sms.*|\d+\s*-\s*(?:Zain|Mobily|Stc)"
    r")$",
    re.IGNORECASE,
)
# Lines that mention a newsletter or social-follow prompt.
_PROMO = re.compile(r"(اشترك|إشترك).{0,40}(البريدية|النشرة)|(لتصلك|ليصلك) (آخر|اخر) (الأخبار|اخبار)|"
                    r"subscribe to our newsletter|follow us on", re.IGNORECASE)
_PROMO_MAX = 200  # characters: a promo is a short line; a paragraph that mentions a newsletter is kept
_BULLET = re.compile(r"^\s*(?:[•·▪►◄‣◦●■□–-]|\*(?!\*))\s*")
_SENTENCE_END = re.compile(r"[.!?؟…»\"”)]\s*$")
# `&` touching Arabic text or spaces is what `&nbsp;` leaves behind; `AT&T` stays.
_NBSP_AMP = re.compile(r"(?<=[\u0600-\u06FF\s:،.\"»])&|&(?=[\u0600-\u06FF\s\"«])")
_NEXT_PREV = re.compile(r"^(?:Next\s+Previous\s+)")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
# Terminal colour codes, stray control characters (NUL...), BOMs inside the text, and line breaks other than \n.
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|[\x00-\x08\x0e-\x1f\x7f\ufeff]")
_BREAKS = re.compile(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]")


def clean_lines(text: str) -> list[str]:
    """The body lines of a scraped article, boilerplate removed, each stripped."""
    text = html.unescape(_CONTROL.sub("", _BREAKS.sub("\n", text)))
    text = _NBSP_AMP.sub(" ", text)
    lines = []
    for raw in text.split("\n"):
        line = _SPACES.sub(" ", raw).strip()
        line = _NEXT_PREV.sub("", line)
        bare = _BULLET.sub("", line).strip()
        if not bare or _BOILERPLATE_LINES.match(bare) or (len(bare) <= _PROMO_MAX and _PROMO.search(bare)):
            continue
        lines.append(line)
    lines = _drop_trailing_bullets(lines)
    lines = _drop_leading_menu(lines)
    return _drop_repeated_leads(lines)


def clean_field(value: str) -> str:
    """A one-line metadata value (title, url, date) without control characters or stray BOMs."""
    return " ".join(_CONTROL.sub("", value).split())


def _is_bullet(line: str) -> bool:
    return bool(_BULLET.match(line)) and len(line.split(None, 26)) <= 25


def _drop_trailing_bullets(lines: list[str]) -> list[str]:
    # A run of short bulleted lines closing the article is a related-headlines list.
    end = len(lines)
    while end > 0 and _is_bullet(lines[end - 1]):
        end -= 1
    return lines[:end] if len(lines) - end >= 2 else lines


def _drop_leading_menu(lines: list[str]) -> list[str]:
    # Site menus are runs of one- or two-word lines before the headline.
    start = 0
    while start < len(lines) - 1 and len(lines[start].split(None, 3)) <= 2 and not _SENTENCE_END.search(lines[start]):
        start += 1
    return lines[start:]


def _drop_repeated_leads(lines: list[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        stem = line.rstrip(" .…")
        if line in seen or (len(stem) > 20 and nxt.startswith(stem) and len(nxt) > len(stem)):
            continue  # an exact repeat, or a truncated teaser of the next paragraph
        seen.add(line)
        out.append(line)
    return out


def looks_like_title(line: str) -> bool:
    """A headline: short, and not ending like a sentence."""
    words = len(line.split(None, 21))  # at most 22 pieces: a 50 MB line is not split whole
    return 2 <= words <= 20 and not re.search(r"[.!؟?:،,]\s*$", line)


def split_title(lines: list[str]) -> tuple[str, list[str]]:
    """(title, body lines): the first line when it reads as a headline and a body follows, else no title."""
    if len(lines) >= 2 and looks_like_title(lines[0]):
        return lines[0], lines[1:]
    return "", lines


def fallback_title(body: str, words: int = 10) -> str:
    head = body.split(None, words)
    return " ".join(head[:words]) + (" …" if len(head) > words else "")
