"""Arabic-aware text handling for matching: normalisation, tokens, light stemming, language detection.

Normalised text is used for matching only; passages are stored and shown as written.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer  # PyStemmer: Snowball, incl. Arabic

# Harakat, tanween, shadda, sukun, dagger alef, Quranic marks; and tatweel.
_DIACRITICS = re.compile(r"[\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640]")
_ALEF = re.compile(r"[\u0622\u0623\u0625\u0671]")  # آ أ إ ٱ → ا
# Arabic-Indic and Extended (Persian) Arabic-Indic digits → 0-9, for str.translate.
DIGITS = str.maketrans({**{chr(0x0660 + d): str(d) for d in range(10)}, **{chr(0x06F0 + d): str(d) for d in range(10)}})
_TRANSLATE = str.maketrans({"\u0649": "\u064A", "\u0629": "\u0647", "\u0624": "\u0648", "\u0626": "\u064A"}) | DIGITS
# Letters and digits only: Arabic punctuation (، ؛ ؟) sits inside the Arabic Unicode block but is no part of a word.
_TOKEN = re.compile(r"[^\W_]+")
_ARABIC_LETTER = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00C0-\u024F]")

# Frequent function words; removing them keeps BM25 scores about content.
_STOP_AR = set(
    """في من على الى إلى عن مع ان أن إن او أو ثم قد لا لم لن ما ماذا هل هو هي هم هذا هذه ذلك تلك التي الذي الذين
    كان كانت يكون كما بعد قبل حتى اذا إذا بين عند كل اي أي غير بها به له لها لهم فيه فيها منها منه وقد وهو وهي و ف ب ل
    يوم امس أمس""".split()
)
_STOP_EN = set(
    """a an the of in on at to for from by with and or is are was were be been what who whom which when where why how
    did does do that this these those it its as about into than then there their they he she his her""".split()
)


def strip_diacritics(text: str) -> str:
    """Harakat and tatweel out; letters (hamza forms included) kept as written."""
    return _DIACRITICS.sub("", text)


def normalize(text: str) -> str:
    """Fold Arabic spelling variants: diacritics and tatweel out, alef forms → ا, ى → ي, ة → ه, ؤ/ئ → و/ي."""
    text = unicodedata.normalize("NFKC", text)
    text = _DIACRITICS.sub("", text)
    text = _ALEF.sub("\u0627", text)
    return text.translate(_TRANSLATE).lower()


_STOP = {normalize(t) for t in _STOP_AR | _STOP_EN}


def content_words(text: str) -> list[str]:
    """Word tokens as written (diacritics and tatweel removed), stopwords and single letters dropped."""
    out = []
    for tok in _TOKEN.findall(_DIACRITICS.sub("", unicodedata.normalize("NFKC", text))):
        norm = normalize(tok)
        if norm in _STOP or (len(norm) < 2 and not norm.isdigit()):
            continue
        out.append(tok)
    return out


def tokens(text: str) -> list[str]:
    """Normalised word tokens, stopwords removed."""
    return [normalize(t) for t in content_words(text)]


@lru_cache(maxsize=1)
def _stemmers() -> tuple:
    return Stemmer.Stemmer("arabic"), Stemmer.Stemmer("english")


_ARTICLE_PREFIXES = ("وال", "فال", "بال", "كال", "ولل", "لل", "ال")


def _strip_article(token: str) -> str:
    # Snowball strips ال but not the conjunction/preposition glued before it (وال، بال، فال، لل).
    for prefix in _ARTICLE_PREFIXES:
        if token.startswith(prefix) and len(token) - len(prefix) >= 3:
            return token[len(prefix):]
    return token


@lru_cache(maxsize=200_000)
def stem(token: str) -> str:
    """Light stem of a word as written, normalised. Snowball needs the original letters (it strips ة, not ه),
    so it runs before normalisation."""
    ar, en = _stemmers()
    if _ARABIC_LETTER.search(token):
        return normalize(ar.stemWord(_strip_article(token)))
    return en.stemWord(token.lower())


def analyze(text: str) -> list[str]:
    """What BM25 indexes and queries with: normalised, stopword-free, light-stemmed tokens."""
    return [stem(t) for t in content_words(text)]


def has_arabic(text: str) -> bool:
    """Whether the text holds any Arabic letter."""
    return bool(_ARABIC_LETTER.search(text))


def detect_language(text: str) -> str:
    """'ar' or 'en' by letter counts; mixed text goes to the script most of its letters use.

    Latin-script questions are answered in English (the product's two languages).
    Raises ValueError when the text has no letters at all.
    """
    ar = len(_ARABIC_LETTER.findall(text))
    la = len(_LATIN_LETTER.findall(text))
    if ar == 0 and la == 0:
        raise ValueError("cannot tell the language: the text has no Arabic or Latin letters")
    return "ar" if ar >= la else "en"


def language_or(text: str, default: str = "ar") -> str:
    """`detect_language`, or `default` for text with no letters (Arabic: the corpus norm)."""
    try:
        return detect_language(text)
    except ValueError:
        return default
