"""Names that English and Arabic write differently (exonyms): countries, cities, regions, bodies, calendars.

Their spellings do not transliterate each other (Egypt / مصر, Switzerland / سويسرا, Jordan / الأردن), so neither
the consonant match for names (rag/search/transliterate.py) nor a small model translating on its own gets them
right: the audited local model wrote Sweden for سويسرا and Makkah for المدينة المنورة. One table, read both
ways: `arabic_forms` (an English question's name → what the articles write) and `glossary` (an Arabic span → the
English its translation must use). Arabic forms are written without the article ال, which matching strips.
"""
from __future__ import annotations

import re
from functools import lru_cache

from rag.text import arabic

# English name (lower case) → its Arabic forms, the usual one first. General knowledge, not chosen from any
# evaluation set.
EXONYMS: dict[str, tuple[str, ...]] = {
    # Arab countries and their people
    "Saudi Arabia": ("المملكة العربية السعودية", "السعودية"), "Saudi": ("السعودية", "سعودي"),
    "Egypt": ("مصر",), "Egyptian": ("مصري", "المصرية"), "Jordan": ("الأردن",), "Jordanian": ("أردني", "الأردنية"),
    "Syria": ("سوريا", "سورية"), "Syrian": ("سوري", "السورية"), "Iraq": ("العراق",), "Iraqi": ("عراقي", "العراقية"),
    "Lebanon": ("لبنان",), "Lebanese": ("لبناني", "اللبنانية"), "Palestine": ("فلسطين",),
    "Palestinian": ("فلسطيني", "الفلسطينية"), "Yemen": ("اليمن",), "Yemeni": ("يمني", "اليمنية"),
    "Kuwait": ("الكويت",), "Qatar": ("قطر",), "Bahrain": ("البحرين",), "Oman": ("عمان",),
    "Emirates": ("الإمارات",), "UAE": ("الإمارات",), "Libya": ("ليبيا",), "Tunisia": ("تونس",),
    "Algeria": ("الجزائر",), "Morocco": ("المغرب",), "Moroccan": ("مغربي", "المغربية"), "Sudan": ("السودان",),
    "Mauritania": ("موريتانيا",), "Somalia": ("الصومال",),
    # other countries
    "Turkey": ("تركيا",), "Iran": ("إيران",), "Iranian": ("إيراني", "الإيرانية"), "Afghanistan": ("أفغانستان",),
    "Pakistan": ("باكستان",), "India": ("الهند",), "China": ("الصين",), "Chinese": ("صيني", "الصينية"),
    "Japan": ("اليابان",), "Russia": ("روسيا",), "Russian": ("روسي", "الروسية"),
    "United States": ("الولايات المتحدة",), "America": ("أمريكا", "أميركا"),
    "American": ("أمريكي", "أميركي", "الأمريكية", "الأميركية"), "France": ("فرنسا",), "French": ("فرنسي", "الفرنسية"),
    "Germany": ("ألمانيا",), "German": ("ألماني", "الألمانية"), "Britain": ("بريطانيا",),
    "British": ("بريطاني", "البريطانية"), "United Kingdom": ("المملكة المتحدة",), "England": ("إنجلترا", "انكلترا"),
    "Italy": ("إيطاليا",), "Spain": ("إسبانيا",), "Portugal": ("البرتغال",), "Netherlands": ("هولندا",),
    "Belgium": ("بلجيكا",), "Switzerland": ("سويسرا",), "Swiss": ("سويسري", "السويسرية"), "Austria": ("النمسا",),
    "Greece": ("اليونان",), "Greek": ("يوناني", "اليونانية", "الإغريق"), "Sweden": ("السويد",),
    "Norway": ("النرويج",), "Denmark": ("الدنمارك",), "Finland": ("فنلندا",), "Poland": ("بولندا",),
    "Ukraine": ("أوكرانيا",), "Canada": ("كندا",), "Mexico": ("المكسيك",), "Brazil": ("البرازيل",),
    "Argentina": ("الأرجنتين",), "Australia": ("أستراليا",), "Israel": ("إسرائيل",),
    "Israeli": ("إسرائيلي", "الإسرائيلية"), "Korea": ("كوريا",), "Ethiopia": ("إثيوبيا",), "Nigeria": ("نيجيريا",),
    "Indonesia": ("إندونيسيا",), "Malaysia": ("ماليزيا",), "Luxembourg": ("لوكسمبورغ",),
    # cities and regions
    "Cairo": ("القاهرة",), "Damascus": ("دمشق",), "Baghdad": ("بغداد",), "Beirut": ("بيروت",), "Amman": ("عمان",),
    "Riyadh": ("الرياض",), "Jeddah": ("جدة",), "Jiddah": ("جدة",), "Mecca": ("مكة المكرمة", "مكة"),
    "Makkah": ("مكة المكرمة", "مكة"), "Medina": ("المدينة المنورة",), "Madinah": ("المدينة المنورة",),
    "Dammam": ("الدمام",), "Doha": ("الدوحة",), "Dubai": ("دبي",), "Abu Dhabi": ("أبوظبي", "أبو ظبي"),
    "Manama": ("المنامة",), "Muscat": ("مسقط",), "Sanaa": ("صنعاء",), "Aden": ("عدن",), "Tripoli": ("طرابلس",),
    "Khartoum": ("الخرطوم",), "Rabat": ("الرباط",), 
    "Jerusalem": ("القدس",), "Gaza": ("غزة",), "Aleppo": ("حلب",), "Homs": ("حمص",), "Mosul": ("الموصل",),
    "Basra": ("البصرة",), "Ankara": ("أنقرة",), "Istanbul": ("إسطنبول", "اسطنبول"), "Tehran": ("طهران",),
    "Moscow": ("موسكو",), "Washington": ("واشنطن",), "New York": ("نيويورك",), "London": ("لندن",),
    "Paris": ("باريس",), "Berlin": ("برلين",), "Rome": ("روما",), "Madrid": ("مدريد",), "Brussels": ("بروكسل",),
    "Geneva": ("جنيف",), "Vienna": ("فيينا",), "Beijing": ("بكين",), "Tokyo": ("طوكيو",),
    "The Hague": ("لاهاي",), "Hague": ("لاهاي",), "Seville": ("إشبيلية",), "Sevilla": ("إشبيلية",),
    "Arabian Peninsula": ("الجزيرة العربية",), "Gulf": ("الخليج",), "Persian Gulf": ("الخليج العربي",),
    "Red Sea": ("البحر الأحمر",), "Mediterranean": ("البحر المتوسط",), "Middle East": ("الشرق الأوسط",),
    "Europe": ("أوروبا",), "European": ("أوروبي", "الأوروبية"), "Asia": ("آسيا",), "Africa": ("أفريقيا", "إفريقيا"),
    "Eastern Province": ("المنطقة الشرقية",), "Al-Ahsa": ("الأحساء",), "Ahsa": ("الأحساء",), "Asir": ("عسير",),
    "Qassim": ("القصيم",), "Tabuk": ("تبوك",), "Hail": ("حائل",), "Jazan": ("جازان",), "Najran": ("نجران",),
    "Taif": ("الطائف",), "Abha": ("أبها",), "Yanbu": ("ينبع",),
    # bodies and terms
    "United Nations": ("الأمم المتحدة",), "UN": ("الأمم المتحدة",), "NATO": ("حلف شمال الأطلسي", "الناتو"),
    "European Union": ("الاتحاد الأوروبي",), "EU": ("الاتحاد الأوروبي",), "Arab League": ("جامعة الدول العربية",),
    "GCC": ("مجلس التعاون",), "OPEC": ("أوبك",), "FIFA": ("الفيفا", "فيفا"), "ISIS": ("داعش",),
    "Islamic State": ("داعش",), "Quran": ("القرآن",), "Islam": ("الإسلام",), "Muslim": ("مسلم", "المسلمين"),
    "Ottoman": ("العثماني", "العثمانية"), "AD": ("ميلادي",), "BC": ("قبل الميلاد",),
    "Gregorian calendar": ("التقويم الميلادي",), "Hijri": ("هجري", "الهجري"), "football": ("كرة القدم",),
    "basketball": ("كرة السلة",), "Ramadan": ("رمضان",), "Eid": ("العيد",),
}

_SPLIT = re.compile(r"\s+")
_NOT_LETTER = re.compile(r"[^\w]|[\d_]")
_ARTICLE = re.compile(r"^[وف]?(?:بال|كال|لل|ال)")


def _key(arabic_text: str) -> tuple[str, ...]:
    """Normalised words, each without the article (and a و, ف, ب, ك or ل before it): how forms are matched."""
    out = []
    for w in _SPLIT.split(arabic.normalize(arabic_text).strip()):
        w = _NOT_LETTER.sub("", w)
        bare = _ARTICLE.sub("", w)
        out.append(bare if len(bare) > 1 else w)
    return tuple(w for w in out if w)


@lru_cache(maxsize=1)
def _by_arabic() -> dict[tuple[str, ...], tuple[str, str]]:
    """Arabic form (as `_key`) → (English name, the form as the table writes it); the first listed wins."""
    out: dict[tuple[str, ...], tuple[str, str]] = {}
    for english, forms in EXONYMS.items():
        for form in forms:
            out.setdefault(_key(form), (english, form))
    return out


def english_of(arabic_words: str) -> str:
    """The table's English for words that are exactly one of its forms (article and a glued و/ب/ل aside): "بالقاهرة"
    → "Cairo"; '' otherwise, and for a form that names two places (عمان: Oman or Amman)."""
    key = _key(arabic_words)
    entry = _by_arabic().get(key) if key else None
    return entry[0] if entry and key not in _AMBIGUOUS else ""


_AMBIGUOUS = {_key("عمان")}
_BY_ENGLISH = {k.lower(): v for k, v in EXONYMS.items()}


def arabic_forms(name: str) -> tuple[str, ...]:
    """The Arabic forms of an English name or phrase (any case); () when it is not in the table."""
    return _BY_ENGLISH.get(name.lower().strip(), ())


def glossary(arabic_text: str) -> list[tuple[str, str]]:
    """(Arabic form, English) for each table entry `arabic_text` holds, longest first and without overlaps:
    "ولد في المدينة المنورة" → [("المدينة المنورة", "Medina")], not المدينة alone; والأردن → ("الأردن", "Jordan")."""
    keys = [_key(w) for w in _SPLIT.split(arabic_text.strip())]
    table = _by_arabic()
    longest = max((len(k) for k in table), default=0)
    out, i = [], 0
    while i < len(keys):
        for n in range(min(longest, len(keys) - i), 0, -1):
            window = keys[i:i + n]
            key = tuple(w for k in window for w in k)
            if all(window) and key in table:
                english, form = table[key]
                out.append((form, english))
                i += n
                break
        else:
            i += 1
    return list(dict.fromkeys(out))
