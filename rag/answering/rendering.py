"""Short Arabic spans that a table renders into English exactly: dates, figures, counts and the names the exonym
table knows ("28 يوليو 1914" → "28 July 1914", "1299م" → "1299 CE", "نحو 370 مليون" → "about 370 million",
"العراق" → "Iraq"). No model and no guessing: a span with any word the tables do not know is not rendered ('').

Both backends use it for English questions over Arabic sources: the extractive one has no other translator, and
the local model's free translation, though checked, is slower and less often right on such spans (the audit saw
"1299 Year" for 1299م).
"""
from __future__ import annotations

import re

from rag.answering import support
from rag.text import arabic, exonyms
from rag.text.injection import INVISIBLE  # direction marks and the like: Wikipedia's Arabic has them

_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                "November", "December")
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_SEPARATORS = str.maketrans("٫٬", ".,")  # Arabic decimal and thousands separators (digits: arabic.DIGITS)
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+|\S")

# Words a date or a figure is written with (keys normalised by rag.text.arabic.normalize).
_WORDS = {arabic.normalize(k): v for k, v in {
    "في": "in", "وفي": "and in", "من": "from", "إلى": "to", "الى": "to", "حتى": "until", "منذ": "since",
    "و": "and", "أو": "or", "بين": "between", "حوالي": "about", "حوالى": "about", "نحو": "about", "قرابة": "nearly", "أكثر": "more",
    "أقل": "less", "ألف": "thousand", "آلاف": "thousand", "ألفا": "thousand", "مليون": "million",
    "ملايين": "million", "مليار": "billion", "مليارات": "billion", "دولار": "dollars", "ريال": "riyals", "كيلومتر": "km", "كم": "km", "نسمة": "people", "شخص": "people",
    "أشخاص": "people", "شخصا": "people", "بحوالي": "about", "بنحو": "about", "تقع": "located", "يقع": "located",
    "²": "²", "مربع": "square",
}.items()}
# Counted nouns: rendered after a figure only ("50 عاما": 50 years; "عام 1914" is the year 1914).
_COUNTED = {arabic.normalize(k): v for k, v in {
    "عام": "years", "عاما": "years", "سنة": "years", "سنوات": "years", "أعوام": "years", "شهر": "months",
    "شهرا": "months", "أشهر": "months", "أسبوع": "weeks", "أسابيع": "weeks", "يوم": "days", "يوما": "days",
    "أيام": "days", "ساعة": "hours", "ساعات": "hours", "دقيقة": "minutes", "دقائق": "minutes", "قتيل": "dead",
    "قتيلا": "dead", "قتلى": "dead", "جريح": "wounded", "جرحى": "wounded", "ولاية": "states", "محافظة":
    "governorates", "دولة": "countries", "دول": "countries", "لغة": "languages", "مرة": "times", "مرات": "times",
}.items()}
# Hijri months, named after a day's figure only (صفر is also "zero", رجب a given name).
_HIJRI = {arabic.normalize(k): v for k, v in {
    "محرم": "Muharram", "صفر": "Safar", "رجب": "Rajab", "شعبان": "Shaban", "رمضان": "Ramadan", "شوال": "Shawwal",
}.items()}
_YEAR_WORDS = {arabic.normalize(w) for w in ("عام", "العام", "عامي", "سنة", "السنة", "سنتي", "يوم")}  # before a figure: left out
_ERA_AFTER = {arabic.normalize(w): e for w, e in {"م": "CE", "ميلادي": "CE", "ميلادية": "CE", "للميلاد": "CE",
                                                   "هـ": "AH", "ه": "AH", "هجري": "AH", "هجرية": "AH",
                                                   "للهجرة": "AH"}.items()}
_FI, _WA_FI, _DAY_WORD, _MIN = (arabic.normalize(w) for w in ("في", "وفي", "يوم", "من"))
_ORDINAL_DAYS = {arabic.normalize(w): i for i, w in enumerate(
    ("الأول", "الثاني", "الثالث", "الرابع", "الخامس", "السادس", "السابع", "الثامن", "التاسع", "العاشر"), 1)}

_DIRECTIONS = {arabic.normalize(k): v for k, v in {"شمال": "North", "جنوب": "South", "شرق": "East", "غرب": "West",
                                                    "وسط": "Central"}.items()}
# A run tried for a longer span's lead (`english_lead`) neither ends on a connector ("… from") nor starts on one
# ("من 28 ولاية" is "28 states"), nor stops before the word that continues its number ("370" of "370 مليون").
_CONNECTORS = {"in", "on", "from", "to", "and", "or", "between", "about", "nearly", "more", "less"}
_LEADING = {"from", "to", "and", "or"}
_SCALES = {k for k, v in _WORDS.items() if v in ("thousand", "million", "billion")}
_COUNT_WORDS = "|".join(sorted({"thousand", "million", "billion", *_COUNTED.values()}))
_DATE_WORDS = set(_MONTH_NAMES) | set(_DAY_NAMES) | set(_HIJRI.values())
_NUMBER_NOUNS = {arabic.normalize(w) for w in ("رقم", "برقم", "القرار", "قرار")}  # "القرار 2254" is no year
LATEST_YEAR = 2100  # a larger figure is no year: "resolution 2254"
MAX_RUN_WORDS = 8  # the longest run of a span's words tried (a date with its day, month, year and era fits)
_PUNCT = {"،": ",", ",": ",", "-": "–", "–": "–", "(": "(", ")": ")", "/": "/", "%": "%", ".": ""}


def english_by_table(text: str, names: bool = True) -> str:
    """The English of a short Arabic span made only of what the tables know; '' when any word is unknown.
    `names`: places and bodies of the exonym table count as known words."""
    text = INVISIBLE.sub("", arabic.strip_diacritics(text))
    toks = _TOKEN.findall(text.translate(arabic.DIGITS).translate(_SEPARATORS).replace("ق.م", " قبل الميلاد "))
    out: list[str] = []
    has_value = False
    i = 0
    while i < len(toks):
        t = toks[i]
        n = arabic.normalize(t)
        nxt = arabic.normalize(toks[i + 1]) if i + 1 < len(toks) else ""
        prev_number = bool(out) and _counts(out[-1])
        name = _exonym_at(toks, i) if names else None
        if name:
            out.append(name[0])
            has_value = True
            i += name[1]
            continue
        if t[0].isdigit():
            out.append(t)
            has_value = True
        elif (value := support.number_word(n)) is not None and value > 2 and not _WORDS.get(n):
            out.append(_in_words(value))  # خمسين ولاية: fifty states (one and two are also "a" and "both")
            has_value = True
        elif names and n in _DIRECTIONS and _exonym_at(toks, i + 1):
            out.append(_DIRECTIONS[n])  # غرب آسيا: West Asia
        elif (n, nxt) == (arabic.normalize("قبل"), arabic.normalize("الميلاد")) and prev_number:
            out.append("BC")
            i += 1
        elif n in _ORDINAL_DAYS and nxt == _MIN and i + 2 < len(toks) and _month(*_next_two(toks, i + 2)):
            out.append(str(_ORDINAL_DAYS[n]))  # الأول من سبتمبر: 1 September
            i += 1
        elif (month := _month(n, nxt)) is not None:
            out.append(_MONTH_NAMES[month[0] - 1])
            has_value = True
            i += month[1] - 1
            if i + 1 < len(toks) and arabic.normalize(toks[i + 1]) == _MIN:  # سبتمبر من عام 1939: September 1939
                i += 1
        elif prev_number and n in _ERA_AFTER:
            out.append(_ERA_AFTER[n])
        elif (day := support.weekday(n)) is not None:
            out.append(_DAY_NAMES[day])
            has_value = True
        elif prev_number and n in _COUNTED:
            out.append(_COUNTED[n])
        elif prev_number and n in _HIJRI:
            out.append(_HIJRI[n])
        elif n in _YEAR_WORDS:
            pass
        elif n in (_FI, _WA_FI) and _day_date(toks, i + 1):
            out += ["and", "on"] if n == _WA_FI else ["on"]  # في 13 أكتوبر: on 13 October (في 1914: in 1914)
        elif n in _WORDS or (n[:1] == "و" and n[1:] in _WORDS):
            word = _WORDS.get(n) or _WORDS[n[1:]]
            if n not in _WORDS:
                out.append("and")
            out.append(word)
        elif n.startswith("و") and n[1:].isdigit():  # a glued "and" before a figure: و1914
            out += ["and", n[1:]]
            has_value = True
        elif t in _PUNCT:
            out.append(_PUNCT[t])
        else:
            return ""
        i += 1
    return _join(out) if has_value else ""


def _exonym_at(toks: list[str], i: int, longest: int = 4) -> tuple[str, int] | None:
    """(English, words used) for the longest run of words from `i` that is one name of the exonym table."""
    for n in range(min(longest, len(toks) - i), 0, -1):
        run = toks[i:i + n]
        if all(t[0].isalpha() for t in run):
            english = exonyms.english_of(" ".join(run))
            if english:
                return english, n
    return None


def _month(n: str, nxt: str) -> tuple[int, int] | None:
    """(month number, words used) for a month name, one word or two (كانون الثاني)."""
    pair = support.month_pair(n, nxt)
    if pair:
        return pair, 2
    single = support.month_number(n)
    return (single, 1) if single else None


def _next_two(toks: list[str], i: int) -> tuple[str, str]:
    words = [arabic.normalize(t) for t in toks[i:i + 2]] + ["", ""]
    return words[0], words[1]


def _day_date(toks: list[str], i: int) -> bool:
    """Tokens from `i` are a day of a month ("13 أكتوبر", "يوم 28 يونيو")."""
    words = [arabic.normalize(t) for t in toks[i:i + 4]]
    if words[:1] == [_DAY_WORD]:
        words = words[1:]
    return len(words) >= 2 and words[0].isdigit() and bool(_month(*(words[1:3] + [""])[:2]))


_UNITS = ("", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
          "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def _counts(word: str) -> bool:
    """The rendered word ends a number (so a counted noun after it is a count: "50 years", "fifty states")."""
    last = re.split(r"[\s-]", word)[-1]
    return bool(last) and (last[:1].isdigit() or last in ("thousand", "million", "billion", "hundred")
                           or last in _UNITS[1:] or last in _TENS[2:])


def _in_words(value: int) -> str:
    """A number the source writes in words, written in words (so the figures the checks compare stay alike)."""
    if value >= 1000:
        return str(value)
    hundreds, rest = divmod(value, 100)
    words = [f"{_UNITS[hundreds]} hundred"] if hundreds else []
    if rest >= 20:
        words.append(_TENS[rest // 10] + (f"-{_UNITS[rest % 10]}" if rest % 10 else ""))
    elif rest:
        words.append(_UNITS[rest])
    return " ".join(words)


def _join(words: list[str]) -> str:
    text = " ".join(w for w in words if w)
    text = re.sub(r"\s+([,)%])", r"\1", text)
    text = re.sub(r"\(\s+", "(", text)
    text = re.sub(r"\s*–\s*", " – ", text)
    text = re.sub(r"\bmore from\b", "more than", text)
    text = re.sub(r"\bless from\b", "less than", text)
    text = re.sub(r"\b(between \S+) to\b", r"\1 and", text, flags=re.IGNORECASE)  # بين 1805 إلى 1848
    text = re.sub(r"^(?:and\s+)+", "", text.strip(" ,–"))  # وفي opening a span: no "And" to lead with
    if text.count("(") != text.count(")"):  # a bracket the span opens and does not close (or the other way)
        text = text.replace("(", "").replace(")", "").strip()
    return text[:1].upper() + text[1:]


def english_lead(text: str, kind: str) -> tuple[int, int, str] | None:
    """(start, end, English) of what an English answer can lead with from an Arabic span: the whole span when the
    tables render it; for a question asking when or how many, else the longest run of its words that renders
    and holds a figure ("خلال زيارته لدمشق يوم 15 أيلول الماضي" → "On 15 September" from "يوم 15 أيلول"); None
    when neither does."""
    whole = english_by_table(text)
    if whole:
        return 0, len(text), whole
    if kind not in ("date", "number"):
        return None
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    for i in range(len(words)):  # the first date the span gives ("from 28 July 1914 … until 11 November 1918")
        for size in range(min(len(words) - i, MAX_RUN_WORDS), 0, -1):
            s, e = words[i][0], words[i + size - 1][1]
            while e > s and (text[e - 1] in "،,.:;)»”-–" or text[e - 1].isspace()):  # edge punctuation stays out
                e -= 1
            while s < e and (text[s] in "(«“" or INVISIBLE.match(text[s])):
                s += 1
            english = english_by_table(text[s:e], names=False)  # a date's run is the date, not a place by it
            if english and _holds(kind, english) and _stands_alone(
                    english, _word_after(text, words, i + size), _word_before(text, s)):
                return s, e, english
    return None


def _word_after(text: str, words: list[tuple[int, int]], k: int) -> str:
    return arabic.normalize(text[words[k][0]:words[k][1]]) if k < len(words) else ""


def _word_before(text: str, s: int) -> str:
    before = text[:s].split()
    return arabic.normalize(before[-1]) if before else ""


def _stands_alone(english: str, after: str, before: str) -> bool:
    """A run is a whole date or figure: not cut before the word that continues its number ("370" of "370 مليون",
    "28" of "28 ولاية"), not a resolution's number (رقم 2254), no connector at its end or start, not ended by a
    number word that the next word continues ("28 states seven")."""
    first, last = english.split()[0].lower(), english.split()[-1]
    return (after not in _SCALES and after not in _COUNTED and before not in _NUMBER_NOUNS
            and last.lower() not in _CONNECTORS and first not in _LEADING
            and not (after and last.split("-")[-1] in _UNITS + _TENS))


def _holds(kind: str, english: str) -> bool:
    """A run answers "when" only with a date (a year, a month or a day's name), "how many" with a figure: "In what
    year …" over "1350، إذ قارب عدد سكان العالم حوالي 370 مليون" is 1350, not "about 370 million"."""
    if kind == "date":
        years = re.findall(rf"\b(\d{{3,4}})\b(?!\s*(?:{_COUNT_WORDS})\b)", english)  # "370 million" is no year
        return any(int(y) <= LATEST_YEAR for y in years) or bool(set(english.split()) & _DATE_WORDS)
    return any(_counts(w) for w in english.split())
