"""Names in English questions matched to their Arabic spelling, consonant by consonant.

The lexicon translates an English word by embedding it (rag/search/lexicon.py), which works for words and fails
for names: "Jeddah" lands on هند, "Ittihad" on عتيد, "Arsenal" on رياض. A name is written in both scripts by its
consonants, so both spellings are read as coarse sounds: consonant classes (letters the two scripts render alike
merged: ق/ك/خ and q/k/kh, س/ص and s, ط/ت/ث and t/th, …) with the vowels between them. A name matches an Arabic
word with the same consonants whose long vowels (ا و ي, ة) the English spelling also writes, the word that
matches most of them first: Jeddah → J·D ← جدة, Ittihad → T·H·D ← الاتحاد (not يتعهد), Riyadh → R·D ← الرياض.
Pure functions; `Lexicon.names` indexes its words by consonants once.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from rag.text import arabic

# Arabic letters → consonant class. ا أ إ آ ى are the vowel a, ة A (a, or an English final ah), و u, ي i; the rest (ع ء ؤ ئ, diacritics) are
# dropped: sounds English spelling leaves out or writes as a vowel.
_AR_CLASS = {
    "ب": "B", "پ": "B", "ت": "T", "ث": "T", "ط": "T", "ج": "J", "ح": "H", "ه": "H", "خ": "K", "ق": "K", "ك": "K",
    "د": "D", "ذ": "D", "ض": "D", "ظ": "D", "ر": "R", "ز": "Z", "س": "S", "ص": "S", "ش": "X", "چ": "X", "غ": "G",
    "گ": "G", "ف": "F", "ڤ": "F", "ل": "L", "م": "M", "ن": "N",
}
_AR_VOWEL = {"ا": "a", "أ": "a", "إ": "a", "آ": "a", "ٱ": "a", "ى": "a", "ة": "A", "و": "u", "ي": "i"}
_AR_HAMZA_SEAT = "اأإآٱ"  # a word's first letter: carries whatever vowel it starts with
_AR_ARTICLE = re.compile(r"^(?:وال|بال|فال|كال|لل|ال)(?=..)")

# English spellings → consonant class, longest first; "g" is ج, غ or ق/ك depending on the name's origin.
_EN_DIGRAPHS = {"sh": ("X",), "ch": ("X",), "kh": ("K",), "gh": ("G",), "th": ("T",), "dh": ("D",), "ph": ("F",),
                "ck": ("K",), "ts": ("S",)}
_EN_CLASS = {"b": "B", "p": "B", "t": "T", "d": "D", "j": "J", "k": "K", "q": "K", "z": "Z", "s": "S", "f": "F",
             "v": "F", "l": "L", "m": "M", "n": "N", "r": "R", "h": "H"}
# English vowel letters → the Arabic long vowel they may write; "e" is usually short (Jeddah's e is no ي) and
# writes ي only in foreign names (Celerina ← سيليرينا), so it matches ي at half weight.
_EN_VOWEL = {"a": "a", "e": "e", "i": "i", "o": "u", "u": "u", "y": "i", "w": "u"}
_EN_LONG = {"ee": "i", "ei": "i", "ey": "i", "ea": "i", "oo": "u", "ou": "u"}
MAX_READINGS = 9  # two g's (three readings each)
MIN_CONSONANTS = 2


@dataclass(frozen=True)
class Reading:
    """A spelling as sounds: its consonant classes, and before/after/between them the vowels it writes
    (len(vowels) == len(consonants) + 1). `open_start`: an Arabic word's first letter is a hamza seat, which
    carries any vowel."""

    consonants: str
    vowels: tuple[str, ...]
    open_start: bool = False


def _reading(sounds: list[tuple[str, str]], open_start: bool = False) -> Reading:
    """`sounds`: ("C", class) or ("V", vowels) in order → a Reading: repeated consonants with no vowel between
    folded (Jeddah's dd: Arabic writes a doubled letter once) and a final H dropped (Jeddah ← جدة, عبدالله)."""
    consonants, vowels = [], [""]
    for kind, value in sounds:
        if kind == "V":
            vowels[-1] += value
        elif not (consonants and consonants[-1] == value and not vowels[-1]):
            consonants.append(value)
            vowels.append("")
    if consonants and consonants[-1] == "H":  # marked "h" when nothing followed it (see _WRITES)
        consonants.pop()
        tail = vowels.pop()
        vowels[-1] += tail or "h"
    return Reading("".join(consonants), tuple(vowels), open_start)


def arabic_reading(word: str) -> Reading:
    """An Arabic word as sounds, its article (ال, وال, بال, لل…) removed: الاتحاد → T·H·D with a before D."""
    # عبدالرحمن: the article inside a compound name is written Abdul-, Abdel-, Abdal-
    word = _AR_ARTICLE.sub("", arabic.strip_diacritics(word)).replace("عبدال", "عبدل")
    sounds = []
    for ch in word:
        if ch in _AR_CLASS:
            sounds.append(("C", _AR_CLASS[ch]))
        elif ch in _AR_VOWEL:
            sounds.append(("V", _AR_VOWEL[ch]))
    if word[:1] in _AR_HAMZA_SEAT and sounds and sounds[0][0] == "V":
        sounds = sounds[1:]
        return _reading(sounds, open_start=True)
    return _reading(sounds)


def english_readings(word: str) -> list[Reading]:
    """The readings an English spelling of a name may have (one per reading of each "g"; c is S before e, i or
    y, else K; x is KS)."""
    word = word.lower()
    readings: list[list[tuple[str, str]]] = [[]]
    i = 0
    while i < len(word):
        pair = word[i:i + 2]
        if pair in _EN_LONG:
            options, i = [("V", _EN_LONG[pair])], i + 2
        elif pair in _EN_DIGRAPHS:
            options, i = [("C", c) for c in _EN_DIGRAPHS[pair]], i + 2
        else:
            ch, i = word[i], i + 1
            if ch == "g":
                options = [("C", "J"), ("C", "G"), ("C", "K")]
            elif ch == "c":  # soft c is س, or ش in Spanish names (Barcelona ← برشلونة)
                options = [("C", "S"), ("C", "X")] if word[i:i + 1] in ("e", "i", "y") else [("C", "K")]
            elif ch == "x":
                readings = [r + [("C", "K"), ("C", "S")] for r in readings]
                continue
            elif ch in _EN_VOWEL:
                options = [("V", _EN_VOWEL[ch])]
            elif ch in _EN_CLASS:
                options = [("C", _EN_CLASS[ch])]
            else:
                continue
        readings = [r + [o] for r in readings for o in options][:MAX_READINGS]
    out = [_reading(r) for r in readings]
    return list({r.consonants: r for r in out}.values())


# Which English vowels may write each Arabic one, and how well: ة (A) is Jeddah's final ah best, then an a or e
# (Mecca ← مكة); a final ه dropped with its H (h) is matched by the name's final h or by nothing.
_WRITES = {"a": {"a": 1.0}, "i": {"i": 1.0, "e": 0.5}, "u": {"u": 1.0}, "A": {"h": 1.5, "a": 1.0, "e": 1.0},
           "h": {"h": 1.0}}
_OPTIONAL = "h"


def cost(english: Reading, arabic: Reading) -> tuple[int, float]:
    """(Arabic long vowels the English spelling does not write, minus how well it writes the others) for readings
    with the same consonants; lower is better. Short vowels are free: English writes them, Arabic does not."""
    missing, matched = 0, 0.0
    for g, (en, ar) in enumerate(zip(english.vowels, arabic.vowels)):
        pos = 0
        for v in ar:
            found = max(range(pos, len(en)), key=lambda j: (_WRITES[v].get(en[j], 0), -j), default=-1)
            if found >= 0 and en[found] in _WRITES[v]:
                matched, pos = matched + _WRITES[v][en[found]], found + 1
            elif v not in _OPTIONAL:
                missing += 1
        if g == 0 and arabic.open_start:  # the hamza seat carries whatever vowel the name starts with
            if en:
                matched += 1
            else:
                missing += 1
    # A long vowel the name writes (i, u, o, y, w: not a or e, which are often short) and the word lacks counts
    # against it: Kuwait's ai is the ي of كويت, which قوات lacks.
    strong = sum(en.count("i") + en.count("u") for en in english.vowels)
    used = sum(ar.count("i") + ar.count("u") for ar in arabic.vowels)
    return missing, max(0, strong - used) / 2 - matched


# `arabic_reading(w).consonants` for a whole word list at once, by whole-text str.translate and regexes (vowels
# kept as "v" until repeats are folded, as in `_reading`): 60k words in ~0.03 s instead of ~0.2 s one by one, which
# an English question's first search paid on a cold start.
_AR_KEY = str.maketrans({**_AR_CLASS, **{ch: "v" for ch in _AR_VOWEL}})
_LINE_ARTICLE = re.compile(r"(?m)^(?:وال|بال|فال|كال|لل|ال)(?=..)")
_NOT_KEY = re.compile(r"[^A-Zv\n]")
_REPEATS = re.compile(r"([A-Z])\1+")
_FINAL_H = re.compile(r"(?m)H$")


def consonant_keys(words: list[str]) -> list[str]:
    """Each word's consonants, exactly `arabic_reading(word).consonants`."""
    text = _LINE_ARTICLE.sub("", arabic.strip_diacritics("\n".join(words))).replace("عبدال", "عبدل")
    text = _NOT_KEY.sub("", re.sub(r"[A-Za-z]", "", text).translate(_AR_KEY))
    return _FINAL_H.sub("", _REPEATS.sub(r"\1", text).replace("v", "")).split("\n")


def consonant_index(words: list[str]) -> dict[str, list[int]]:
    """Consonants → the rows of `words` spelled with them, in `words`' order (the lexicon's: most frequent first)."""
    out: dict[str, list[int]] = {}
    for i, consonants in enumerate(consonant_keys(words)):
        if len(consonants) >= MIN_CONSONANTS:
            out.setdefault(consonants, []).append(i)
    return out


def matches(name: str, words: list[str], index: dict[str, list[int]], most: int = 2) -> list[int]:
    """Rows of `words` that may spell `name` (every long vowel written in the name too): the one matching most
    of its vowels (the most frequent of those) and the most frequent of all, at most `most`; [] for a name of
    fewer than two consonants. Both, because neither alone is right often enough: Kuwait is كويت (its ai is ي)
    not the more frequent قوات, Assad is الأسد not the better-matching إسعاد."""
    scored = []
    for reading in english_readings(name):
        if len(reading.consonants) < MIN_CONSONANTS:
            continue
        for i in index.get(reading.consonants, ()):
            missing, score = cost(reading, arabic_reading(words[i]))
            if not missing:
                scored.append((score, i))
    if not scored:
        return []
    return list(dict.fromkeys([min(scored)[1], min(i for _, i in scored)]))[:most]


def is_name(word: str) -> bool:
    """A capitalised Latin word (Jeddah, NASA): how a question writes a name."""
    return word[:1].isupper() and word.isalpha() and word.isascii()
