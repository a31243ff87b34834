"""The short answer: which words of a source sentence answer the question (no model, pure functions).

A question's wording says what kind of answer it wants (من/who → a person, متى/when → a date, كم/how many → a
number, أين/where → a place). Every window of up to MAX_WORDS words of a candidate sentence is scored by a linear
model over cues: its length, whether it holds a date or a number, how close it sits to the sentence's words that
echo the question (an answer is next to what the question repeats, and is not those words), and whether it ends
where a clause ends. The weights are fitted on ARCD train's answer spans only (`scripts/fit_span.py`); the seed
gold set is never used for fitting. The span is returned as offsets into the sentence, so it is verbatim.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rag.text import arabic

MAX_WORDS = 15  # the short answer's limit
MBR_TOP = 200  # windows weighed when choosing the span of highest expected F1
KINDS = ("person", "date", "number", "place", "other")

# Question cues, checked in order on the normalised question (first match wins); Arabic and English.
_AR_CUES = [
    ("date", r"(^|\s)(متى|متي|مت[يى])(\s|$)|(اي|باي|في اي)\s+(عام|سن[هة]|تاريخ|يوم|شهر|قرن|فتر[هة])"),
    ("number", r"(^|\s)(كم|بكم|لكم)(\s|$)|(ما|ماهو|ماهي|ما هو|ما هي)\s+(عدد|رقم|مساح[هة]|طول|عرض|ارتفاع|نسب[هة]|"
               r"مقدار|حجم|عمق|سعر|قيم[هة]|وزن|مد[هة])"),
    ("place", r"(^|\s)(اين|الى اين|من اين)(\s|$)|(اي|باي|في اي)\s+(مدين[هة]|دول[هة]|بلد|مكان|منطق[هة]|قار[هة]|"
              r"عاصم[هة]|محافظ[هة]|ولاي[هة]|جزير[هة]|ملعب)"),
    ("person", r"(^|\s)(من|لمن|ممن|بمن|عمن)(\s|$)|(^|\s)(ما|ماهو|ماهي|ما هو|ما هي)\s+(اسم)"),
]
_EN_CUES = [
    ("date", r"\bwhen\b|\b(what|which)\s+(year|date|day|month|century|decade|period)\b|\bhow long ago\b"),
    ("number", r"\bhow\s+(many|much|long|far|big|large|old|tall|high)\b|\b(what|which)\s+(number|percentage|"
               r"share|size|area|length|population|amount|price)\b"),
    ("place", r"\bwhere\b|\b(what|which|in which)\s+(city|country|place|region|town|continent|capital|state)\b"),
    ("person", r"\bwho\b|\bwhom\b|\bwhose\b|\b(what|which)\s+(is the name|person|president|minister|envoy)\b"),
]
_CUES = {"ar": [(k, re.compile(p)) for k, p in _AR_CUES], "en": [(k, re.compile(p, re.I)) for k, p in _EN_CUES]}

_MONTHS = {arabic.normalize(m) for m in """يناير فبراير مارس أبريل ابريل إبريل مايو يونيو يونيه يوليو يوليه أغسطس اغسطس
    سبتمبر أكتوبر اكتوبر نوفمبر ديسمبر كانون شباط آذار اذار نيسان أيار ايار حزيران تموز آب أيلول ايلول تشرين
    محرم صفر ربيع جمادى رجب شعبان رمضان شوال القعدة الحجة january february march april may june july august
    september october november december""".split()}
_DATE_WORDS = {arabic.normalize(w) for w in "عام العام سنة سنه السنة القرن هـ ه م ق.م ميلادي هجري bc ad".split()}
_NUMBER_WORDS = {arabic.normalize(w) for w in """واحد واحدة اثنان اثنين اثنتان ثلاث ثلاثة أربع أربعة خمس خمسة ست ستة
    سبع سبعة ثمان ثماني ثمانية تسع تسعة عشر عشرة عشرون عشرين ثلاثون ثلاثين أربعون أربعين خمسون خمسين ستون ستين
    سبعون سبعين ثمانون ثمانين تسعون تسعين مائة مئة مئات مائتان مائتين ألف ألفا آلاف ألفين مليون ملايين مليونا مليار
    مليارات نصف ربع ثلث بالمئة بالمائة المئة المائة % one two three four five six seven eight nine ten eleven twelve
    twenty thirty forty fifty hundred hundreds thousand thousands million millions billion percent""".split()}
# Hundreds are written as one word: ثلاثمئة, خمسمائة.
_NUMBER_WORDS |= {arabic.normalize(a + b) for a in "ثلاث أربع خمس ست سبع ثمان تسع".split() for b in ("مئة", "مائة")}
_DIGIT = re.compile(r"[0-9\u0660-\u0669\u06F0-\u06F9]")
_YEAR = re.compile(r"^[0-9\u0660-\u0669]{3,4}$")
_CLAUSE_END = re.compile(r"[،,.;؛:!?؟)\]»”\"]$")
_OPEN = "([«“\"'"
_CLOSE = ")]»”\"'.,،;؛:!?؟"
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Token:
    start: int  # offsets of the word inside the sentence, its punctuation left out
    end: int
    norm: str  # normalised, without a leading conjunction
    keys: tuple[str, ...]  # analysed (stemmed) forms, empty for a stopword
    clause_end: bool  # punctuation right after it
    number: bool
    date: bool


@dataclass(frozen=True)
class Span:
    start: int  # offsets inside the sentence
    end: int
    text: str
    kind: str  # the answer type the question asked for
    score: float
    confidence: float = 1.0  # the window's expected token F1 under the model's distribution over windows


def answer_type(question: str, lang: str | None = None) -> str:
    """What the question asks for: person, date, number, place, or other (a clause)."""
    q = arabic.normalize(question.lower())
    langs = [lang] if lang in _CUES else ["ar", "en"]
    for lg in langs:
        for kind, pattern in _CUES[lg]:
            if pattern.search(q):
                return kind
    return "other"


def tokenize(sentence: str) -> list[Token]:
    out = []
    for m in _WORD.finditer(sentence):
        s, e = m.start(), m.end()
        while s < e and sentence[s] in _OPEN:
            s += 1
        raw_end = e
        while e > s and sentence[e - 1] in _CLOSE:
            e -= 1
        if s == e:
            continue
        word = sentence[s:e]
        norm = arabic.normalize(word.lower())
        bare = norm[1:] if len(norm) > 3 and norm[0] in "وف" else norm  # و/ف: "and"
        number = bool(_DIGIT.search(word)) or norm in _NUMBER_WORDS or bare in _NUMBER_WORDS
        date = bool(_YEAR.match(word)) or norm in _MONTHS or bare in _MONTHS or bare.removeprefix("ب") in _MONTHS
        out.append(Token(s, e, bare, tuple(arabic.analyze(word)), raw_end > e and bool(
            _CLAUSE_END.search(sentence[s:raw_end])), number, date))
    return out


def question_keys(question: str) -> set[str]:
    return set(arabic.analyze(question))


# ---------------------------------------------------------------- the scoring model

_LEN_BUCKETS = (1, 2, 3, 5, 8, 11, MAX_WORDS)  # upper bounds


def _len_bucket(n: int) -> int:
    return next(i for i, b in enumerate(_LEN_BUCKETS) if n <= b)


FEATURES = (
    [f"len<={b}" for b in _LEN_BUCKETS]
    + ["q_share", "q_any", "q_left", "q_right", "q_dist", "q_none", "q_left3", "q_right3", "q_both_sides", "start_q", "end_q",
       "sent_start", "sent_end", "clause_end", "after_clause", "start_stop", "end_stop", "start_date_word"]
    + [f"{k}:{f}" for k in KINDS for f in ("number", "date", "short", "long", "q_left", "sent_end")]
)
_INDEX = {f: i for i, f in enumerate(FEATURES)}


def _nearest(in_q: list[bool]) -> tuple[list[int], list[int]]:
    """For each position, the nearest question-word position at or before it / at or after it (-1: none)."""
    n = len(in_q)
    before, after = [-1] * n, [-1] * n
    last = -1
    for k in range(n):
        last = k if in_q[k] else last
        before[k] = last
    last = -1
    for k in range(n - 1, -1, -1):
        last = k if in_q[k] else last
        after[k] = last
    return before, after


def features(tokens: list[Token], i: int, j: int, in_q: list[bool], kind: str,
             context: tuple | None = None) -> np.ndarray:
    """The cues of window tokens[i:j] (see FEATURES). `context`: `_context(in_q)`, shared by a sentence's windows."""
    prefix, before, after = context or _context(in_q)
    x = np.zeros(len(FEATURES), np.float32)
    n = j - i
    x[_len_bucket(n)] = 1.0
    window = tokens[i:j]
    content = sum(1 for t in window if t.keys)
    inside = prefix[j] - prefix[i]
    x[_INDEX["q_share"]] = inside / max(1, content)
    x[_INDEX["q_any"]] = float(inside > 0)
    x[_INDEX["q_left"]] = float(i > 0 and (in_q[i - 1] or (i > 1 and not tokens[i - 1].keys and in_q[i - 2])))
    x[_INDEX["q_right"]] = float(j < len(tokens) and in_q[j])
    x[_INDEX["q_left3"]] = (prefix[i] - prefix[max(0, i - 3)]) / 3
    x[_INDEX["q_right3"]] = (prefix[min(len(tokens), j + 3)] - prefix[j]) / 3
    x[_INDEX["q_both_sides"]] = float(prefix[i] > 0 and prefix[-1] - prefix[j] > 0)
    x[_INDEX["start_q"]] = float(in_q[i])
    x[_INDEX["end_q"]] = float(in_q[j - 1])
    left = before[i - 1] if i > 0 else -1
    right = after[j] if j < len(tokens) else -1
    dists = ([i - left] if left >= 0 else []) + ([right - j + 1] if right >= 0 else [])
    if dists:
        x[_INDEX["q_dist"]] = math.log1p(min(dists))
    else:
        x[_INDEX["q_none"]] = 1.0
    x[_INDEX["sent_start"]] = float(i == 0)
    x[_INDEX["sent_end"]] = float(j == len(tokens))
    x[_INDEX["clause_end"]] = float(window[-1].clause_end or j == len(tokens))
    x[_INDEX["after_clause"]] = float(i == 0 or tokens[i - 1].clause_end)
    x[_INDEX["start_stop"]] = float(not window[0].keys)
    x[_INDEX["end_stop"]] = float(not window[-1].keys)
    x[_INDEX["start_date_word"]] = float(window[0].norm in _DATE_WORDS)
    x[_INDEX[f"{kind}:number"]] = float(any(t.number for t in window))
    x[_INDEX[f"{kind}:date"]] = float(any(t.date for t in window))
    x[_INDEX[f"{kind}:short"]] = float(n <= 3)
    x[_INDEX[f"{kind}:long"]] = float(n >= 8)
    x[_INDEX[f"{kind}:q_left"]] = x[_INDEX["q_left"]]
    x[_INDEX[f"{kind}:sent_end"]] = x[_INDEX["sent_end"]]
    return x


def _context(in_q: list[bool]) -> tuple:
    prefix = [0]
    for v in in_q:
        prefix.append(prefix[-1] + v)
    return (prefix, *_nearest(in_q))


def windows(tokens: list[Token], max_words: int = MAX_WORDS) -> list[tuple[int, int]]:
    return [(i, j) for i in range(len(tokens)) for j in range(i + 1, min(len(tokens), i + max_words) + 1)]


def candidate_matrix(question: str, sentence: str, kind: str | None = None,
                     qkeys: set[str] | None = None) -> tuple[list[Token], list[tuple[int, int]], np.ndarray]:
    """Tokens, windows and their feature rows for one sentence (shared by picking and fitting)."""
    kind = kind or answer_type(question)
    qkeys = question_keys(question) if qkeys is None else qkeys
    tokens = tokenize(sentence)
    in_q = [bool(set(t.keys) & qkeys) for t in tokens]
    wins = windows(tokens)
    ctx = _context(in_q)
    x = np.stack([features(tokens, i, j, in_q, kind, ctx) for i, j in wins]) if wins else np.zeros((0, len(FEATURES)))
    return tokens, wins, x


# A person is named after a title ("المبعوث … ستيفان"), by a common given name, or with a kinship particle
# ("بن", "أبو", "عبد"): what a "who" question's sentence should hold.
_TITLES = {arabic.normalize(w) for w in """الرئيس الملك الأمير الشيخ الدكتور السيد السيدة الكاتب الشاعر الفنان المخرج
    اللاعب المدرب الوزير الإمام الخليفة السلطان القائد العالم المؤرخ الروائي الأديب المطرب المغني الممثل الممثلة
    البابا الجنرال العقيد اللواء المهندس الباحث الرسام الملحن المستشار المبعوث السفير المتحدث الناطق""".split()}
_NAME_PARTICLES = {arabic.normalize(w) for w in "بن ابن أبو أبي عبد آل بنت".split()}


def names_person(text: str) -> bool:
    """The text names someone (by the cues above; Arabic only)."""
    from rag.answering.support import _entity  # the given-name list the claim checks use

    words = [arabic.normalize(w) for w in re.findall(r"\w+", text)]
    for i, w in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        e = _entity(w)
        if (e and e.startswith("name:")) or (nxt and (w in _NAME_PARTICLES or (w in _TITLES and not nxt.startswith("ال")))):
            return True
    return False


def fits(kind: str, text: str) -> bool:
    """The text holds what a date, number or person question asks for (places cannot be told by form)."""
    if kind == "person":
        return names_person(text)
    tokens = tokenize(text)
    if kind == "date":
        return any(t.date for t in tokens)
    if kind == "number":
        return any(t.number for t in tokens)
    return False


def best_window(wins: list[tuple[int, int]], scores: np.ndarray) -> int:
    """The window with the highest expected token F1 under the model's distribution over windows (not simply
    the likeliest one: when the model hesitates between nested windows, the one overlapping them all wins)."""
    return best_window_f1(wins, scores)[0]


def best_window_f1(wins: list[tuple[int, int]], scores: np.ndarray, cover: float = 0.0) -> tuple[int, float]:
    """`best_window` and its expected F1 (how sure the model is of the span). `cover` > 0 also values the
    probability that the window holds the whole answer (expected F1 + cover × that probability)."""
    top = np.argsort(-scores)[:MBR_TOP]  # the rest carry next to no probability
    w = np.asarray(wins)[top]
    scores = scores[top]
    lo, hi = w[:, 0], w[:, 1]
    overlap = np.clip(np.minimum(hi[:, None], hi[None, :]) - np.maximum(lo[:, None], lo[None, :]), 0, None)
    length = hi - lo
    f1 = 2 * overlap / (length[:, None] + length[None, :])
    p = np.exp(scores - scores.max())
    p /= p.sum()
    expected = f1 @ p
    if cover:
        holds = (lo[:, None] <= lo[None, :]) & (hi[None, :] <= hi[:, None])  # window i holds window j
        utility = expected + cover * (holds @ p)
    else:
        utility = expected
    b = int(np.argmax(utility))
    return int(top[b]), float(expected[b])


def pick(question: str, sentence: str, lang: str | None = None, weights: np.ndarray | None = None,
         translated: list[str] = (), score: Callable[[np.ndarray, list[tuple[int, int]]], np.ndarray] | None = None,
         cover: float = 0.0) -> Span | None:
    """The best-scoring window of `sentence` as the short answer (offsets into `sentence`), or None.
    `translated`: the question's words in the sentence's language (an English question over an Arabic
    sentence), which the cues then see as the words the question repeats. Measured on ARCD train's English
    questions, given the answer sentence: span F1 0.314 without them, 0.376 with (Arabic questions: 0.427).
    `score(x, windows)`: another model's window scores (the span reader, rag/answering/reader.py); `cover`: see
    `best_window_f1`."""
    kind = answer_type(question, lang)
    keys = (question_keys(question) | set(translated)) if translated else None
    tokens, wins, x = candidate_matrix(question, sentence, kind, keys)
    if not wins:
        return None
    scores = score(x, wins) if score is not None else x @ (WEIGHTS if weights is None else weights)
    b, expected = best_window_f1(wins, scores, cover)
    i, j = wins[b]
    s, e = tokens[i].start, tokens[j - 1].end
    return Span(s, e, sentence[s:e], kind, float(scores[b]), expected)


# Fitted by scripts/fit_span.py on ARCD train (held-out span F1 0.426 given the answer sentence, 5 folds by
# article; in-sample 0.431; conditional logit over each question's windows of its answer
# sentence; target: the windows with the best token F1 against the gold span). Regenerate with that script.
_FITTED = {"len<=1": 0.275, "len<=2": 0.576, "len<=3": 0.467, "len<=5": 0.294, "len<=8": -0.403, "len<=11": -0.626, "len<=15": -0.583, "q_share": -0.739, "q_any": 0.038, "q_left": 0.201, "q_right": -0.395, "q_dist": -0.567, "q_none": -0.287, "q_left3": 1.232, "q_right3": 0.014, "q_both_sides": -0.066, "start_q": 0.136, "end_q": -0.268, "sent_start": 0.560, "sent_end": 1.555, "clause_end": -0.104, "after_clause": 0.647, "start_stop": -0.230, "end_stop": -0.718, "start_date_word": 0.457, "person:number": -0.781, "person:date": -0.336, "person:short": -0.116, "person:long": -0.202, "person:q_left": 0.396, "person:sent_end": 0.215, "date:number": 1.789, "date:date": 1.559, "date:short": 0.725, "date:long": -1.152, "date:q_left": 0.147, "date:sent_end": 0.105, "number:number": 2.265, "number:date": -0.027, "number:short": 0.707, "number:long": -0.868, "number:q_left": -0.256, "number:sent_end": 0.077, "place:number": -0.406, "place:date": -0.216, "place:short": 0.119, "place:long": -0.324, "place:q_left": -0.039, "place:sent_end": 0.465, "other:number": -0.388, "other:date": -0.405, "other:short": -0.116, "other:long": 0.374, "other:q_left": -0.047, "other:sent_end": 0.693}
WEIGHTS = np.array([_FITTED.get(f, 0.0) for f in FEATURES], np.float32)
