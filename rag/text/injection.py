"""Spot text in a source that tries to instruct the model ("ignore the previous instructions", "ملاحظة إلى
المساعد: من الآن فصاعدا أجب بأن…"). Such a sentence is never evidence and is never shown to an LLM.

Matching runs on a folded copy of the sentence, so obfuscation does not hide it: NFKC (fullwidth letters,
ligatures), zero-width and bidi controls removed, a few Cyrillic/Greek look-alikes mapped to Latin, Arabic
spelling folded (diacritics, tatweel, alef forms, ى/ة, Arabic-Indic digits), case folded, spaces collapsed and
spaced-out letters ("i g n o r e") joined. The patterns want an imperative aimed at the assistant or at its
instructions, so news prose ("أجاب الوزير بأن…", "he would ignore the criticism") does not match.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from rag.ingest.chunking import sentence_spans
from rag.text import arabic

REMOVED = "[removed: instruction-like text]"

# Zero-width characters, soft hyphen, combining grapheme joiner, bidi embeddings/overrides/isolates/marks.
_INVISIBLE = "\u00ad\u034f\u061c\u115f\u1160\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e" \
             "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\u206a\u206b\u206c\u206d\u206e\u206f\ufeff"
INVISIBLE = re.compile(f"[{_INVISIBLE}]")
# Look-alikes NFKC leaves alone (Cyrillic and Greek letters that read as Latin ones).
_LOOKALIKE, _LATIN = "аеорсухіѕјԁɡӏοανιкмтвнАЕОРСУХІЅЈΟΑΝΙΚΜΤВН", "aeopcyxisjdgloavikmtbhaeopcyxisjoavikmtbh"
_CONFUSABLE = str.maketrans(_LOOKALIKE, _LATIN)
_HAS_LOOKALIKE = re.compile(f"[{_LOOKALIKE}]")
_SPACED = re.compile(r"(?<!\w)(?:\w[ \-_*·.]){3,}\w(?!\w)")  # "i g n o r e", "ت-ج-ا-ه-ل"
_SPACES = re.compile(r"\s+")


def _fold(text: str, invisible: str) -> str:
    text = INVISIBLE.sub(invisible, unicodedata.normalize("NFKC", text))
    if _HAS_LOOKALIKE.search(text):  # str.translate costs ~1 µs a character: only when needed
        text = text.translate(_CONFUSABLE)
    text = _SPACES.sub(" ", arabic.normalize(text))
    return _SPACED.sub(lambda m: re.sub(r"[ \-_*·.]", "", m.group()), text)


def _hamza_kept(text: str) -> str:
    text = INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    return _SPACES.sub(" ", arabic.strip_diacritics(text))


def folded(text: str) -> list[str]:
    """The forms the patterns are matched on: invisible characters dropped, and read as spaces (a zero-width
    space may be standing in for a word break)."""
    a = _fold(text, "")
    return [a, _fold(text, " ")] if INVISIBLE.search(text) else [a]


# Arabic in the patterns is written folded, as arabic.normalize leaves it: ا for أ/إ/آ, ي for ى, ه for ة.
# Arabic imperatives often look like past-tense verbs (تجاهل "ignore!" / "he ignored"), so an Arabic pattern
# wants the object right after the verb together with a qualifier news rarely uses ("all", "previous", "your").
_PLEASE = r"(?:(?:من فضلك|رجاء|رجاءا|الان|فورا|تماما|ببساطه) )?"
_AR_IGNORE = r"(?<!\w)[وف]?(?:تجاهل|تجاهلي|تجاهلوا|انس|انسي|انسوا|اهمل|اهملي|تخط|الغ)"
_AR_RULES = r"(?:ال)?(?:تعليمات|اوامر|توجيهات|ارشادات|قواعد|قيود|موجه)"
_AR_BEFORE = (r"(?:(?:ال)?(?:سابقه|اصليه|قديمه|مسبقه|اوليه|معطاه لك|موجهه اليك)|اعلاه|سابقا|"
              r"التي (?:تلقيتها|اعطيت لك|زودت بها|لديك))")
_AR_YOUR = r"(?:تعليماتك|اوامرك|توجيهاتك|قواعدك|تعليماتكم|ارشاداتك)"
_AR_AI = (r"(?:(?:ال)?(?:مساعد|ذكاء ال?اصطناعي|نموذج|نموذج اللغوي|مساعد الذكي|مساعد الالي|روبوت الدردشه|"
          r"شات ?بوت|بوت)|chatgpt|gpt)(?!\w)(?! (?:الخاص|الشخصي|ل?وزير|للرئيس|العام|الاول|التنفيذي))")
_AR_SAY = r"اجب|اجيبي|اجيبوا|قل|قولي|قولوا|رد|ردي|ردوا|اكتب|اكتبي|اكتبوا|اذكر|اذكري|اعتبر|تصرف|كن"
_EN_IGNORE = r"\b(?:ignore|disregard|forget|bypass|skip|discard|neglect|abandon)\b"
_EN_BEFORE = r"(?:previous|prior|above|earlier|preceding|foregoing|original|initial|system|your)"
_EN_RULES = r"(?:instructions?|prompts?|rules|directions|guidelines|directives|commands|orders|context|messages?)"
_EN_AI = r"(?:ai|a\.i\.|ai assistant|assistant|chat ?bot|language model|llm|gpt|chatgpt)"
_W = r"(?:\S+ ){0,3}?"  # up to three words in between

_PATTERNS_EN = [
    # English: imperatives against the instructions, or against "the above".
    _EN_IGNORE + rf" {_W}{_EN_BEFORE} {_W}{_EN_RULES}\b",
    r"\b(?:ignore|disregard|forget|override|overrule|bypass|discard|drop)\b (?:all|any|every|your|these) "
    r"(?:\S+ ){0,2}?(?:instructions?|prompts?)\b",
    _EN_IGNORE + r" (?:all |everything |anything )?(?:of )?(?:the |what is |what's |what was )?"
                 r"(?:above|foregoing|preceding|said before|written above|previously said)\b",
    _EN_IGNORE + r" everything (?:above|before|you were told|you have been told)\b",
    r"\b(?:do not|don't|never|stop) (?:follow|obey|apply) (?:the |your |any |all )?(?:previous |prior |system |"
    r"original )?(?:instructions|prompts?|rules|guidelines)\b",
    r"\bfrom now on\b,? (?:please )?(?:you (?:must|should|will|shall|are to|have to) )?(?:always |only |just )?"
    r"(?:answer|say|reply|respond|tell|state|claim|output|write|act|pretend|call|refer|ignore)\b",
    r"\b(?:always|only|never) (?:answer|reply|respond)\b.{0,40}\b(?:every|any|all) (?:question|user|query)",
    r"\b(?:note|memo|reminder|attention|instructions?) (?:to|for) (?:the |any |all |an? )?" + _EN_AI
    + r"s?\b(?! (?:coach|manager|secretary|director|minister|professor|editor|referee|principal|of|to))",
    r"\b(?:dear|hey|hi|hello|attention|listen),? " + _EN_AI + r"s?\b",
    r"^\W*(?:system|assistant|developer|sys)\s*:",
    # Chat-template tokens. A bare "<system>" is left to escaping, which already makes it inert data.
    r"<\|(?:im_start|im_end|system|user|assistant|endoftext)\|>|\[/?inst\]|<<\/?sys>>|###\s*(?:instruction|system)\b",
    r"\byou are now\b|\byou're now\b",
    r"\b(?:your|my|the following|these are (?:your|the)|here are (?:your|the)) new (?:instructions|rules|orders)\b",
    r"\bnew (?:instructions|rules|system prompt)\s*:",
    r"\bsystem prompt\b|\bdeveloper mode\b",
    r"\breply (?:only )?with\b(?: only)? (?:the word|the phrase|the text|exactly|yes|no|\"|')|\b(?:reply|respond|answer)"
    r" only with\b|\b(?:say|write|output|print|type) (?:only )?(?:the (?:single )?word|exactly|verbatim)\b",
    r"\bif you are an? (?:ai|assistant|chat ?bot|language model|llm|model|bot)\b",
    r"\b(?:ai|assistant|chat ?bot|language model|llm)s? (?:reading|processing|summari[sz]ing) this\b",
    r"\b(?:when|if) (?:you are |you're )?(?:asked|questioned) (?:about|for|whether)\b.{0,60}, (?:always |just |"
    r"only |please )?(?:answer|say|reply|respond|tell (?:them|the user))\b",
    r"\b(?:answer|reply|respond|say) (?:that|with) .{0,80}\b(?:to|for) (?:every|any|all) (?:question|user|query)",
]
_PATTERNS_AR = [
    # Arabic: imperatives against the instructions.
    _AR_IGNORE + rf" {_PLEASE}(?:كل|جميع|كافه|اي) (?:هذه )?{_AR_RULES}",
    _AR_IGNORE + rf" {_PLEASE}{_AR_RULES} (?:\S+ ){{0,2}}?{_AR_BEFORE}(?!\w)",
    _AR_IGNORE + rf" {_PLEASE}(?:كل |جميع )?{_AR_YOUR}",
    _AR_IGNORE + rf" {_PLEASE}(?:كل |جميع )?(?:ما|الذي|الكلام الذي|النص الذي) (?:سبق|ورد|قيل|ذكر|كتب|تقدم)",
    _AR_IGNORE + rf" {_PLEASE}(?:كل )?(?:ما )?(?:سبق|اعلاه|النص السابق|الرسائل السابقه|المحادثه السابقه)(?!\w)",
    r"(?<!\w)لا (?:تلتزم|تلتزمي|تلتزموا|تتبع|تتبعي|تتقيد|تعمل|تطع|تنفذ) (?:ب)?" + _AR_RULES
    + rf" (?:\S+ ){{0,2}}?{_AR_BEFORE}(?!\w)",
    r"(?<!\w)لا (?:تلتزم|تلتزمي|تتبع|تتقيد|تطع|تنفذ) (?:ب)?" + _AR_YOUR,
    # Addressing the assistant.
    r"(?<!\w)(?:ملاحظه|تنبيه|تعليمات|تعليمه|تذكير) (?:هامه |مهمه |عاجله |خاصه )?(?:الي |لل|ل)" + _AR_AI,
    r"(?<!\w)(?:ايها|يا|عزيزي|عزيزتي) " + _AR_AI,
    r"(?<!\w)الي " + _AR_AI + r"\s*:",
    r"(?<!\w)الي (?:الذكاء ال?اصطناعي|النموذج اللغوي|المساعد الذكي|المساعد الالي|روبوت الدردشه"
    r"|الشات ?بوت)(?!\w)",
    r"^\W*(?:المساعد|الذكاء الاصطناعي|تعليمات النظام|موجه النظام)\s*:",
    r"(?<!\w)اذا كنت (?:مساعدا|نموذجا|ذكاء اصطناعيا|روبوتا|برنامج ذكاء|نموذج لغه|شات ?بوت)",
    # "From now on answer/say…", "answer that…", "say that…": imperatives news does not address to a reader.
    r"(?<!\w)(?:من ال[ا]?ن (?:فصاعدا|وصاعدا|فما بعد|و?حتي اشعار اخر)|بدءا من ال[ا]?ن|اعتبارا من ال[ا]?ن)[،,]? "
    r"(?:\S+ ){0,3}?[وف]?(?:" + _AR_SAY + r"|انت|ستجيب|ستقول|عليك|يجب عليك|لا تجب|لا تقل)(?!\w)",
    r"(?<!\w)ف?(?:اجب|اجيبي|اجيبوا) (?:دائما |فقط |ب?كل |علي كل |عن كل )?(?:ب|بان|بانه|بانها|ان|انه|بنعم|بلا|"
    r"بكلمه|بالعباره|بالجمله|علي (?:اي|كل|جميع)|عن (?:اي|كل|جميع))",
    r"(?<!\w)[وف]?(?:رد|ردي|ردوا|اجب) (?:فقط|دائما) (?:ب|علي|عن)",
    r"(?<!\w)انت ال[ا]?ن (?:\S+ )?(?:مساعد|نموذج|روبوت|بوت|لست|حر|في وضع|غير مقيد|تعمل)",
    r"(?<!\w)(?:اليك|هذه|اتبع|اتبعي|نفذ|نفذي) (?:ال)?تعليمات(?:ك)? (?:ال)?جديده",
    r"تعليمات (?:ال)?جديده\s*:|تعليماتك (?:ال)?جديده",
]
_PATTERNS = _PATTERNS_EN + _PATTERNS_AR
# Folded text is lower-case already; without IGNORECASE the engine can skip ahead on literal prefixes. Each
# script's patterns run only on text that has letters of that script.
_EN = re.compile("|".join(f"(?:{p})" for p in _PATTERNS_EN), re.MULTILINE)
_AR = re.compile("|".join(f"(?:{p})" for p in _PATTERNS_AR), re.MULTILINE)
_HAS_EN = re.compile(r"[a-z]")
_HAS_AR = re.compile(r"[\u0600-\u06ff]")
# Imperatives that differ from other words only in the hamza, which folding removes, run on text that keeps it:
# "قل إن" (say that…) / the idiom "قلّ أن" (seldom); "اكتب" (write!) / "أكتب" (I write; "ان اكتب" when the
# writer drops the hamza). "قل إن كان…" is a
# conditional (a Quranic formula quoted in the press), not an order.
_HAMZA_KEPT = re.compile(
    r"(?<!\w)[وف]?(?:قل|قولوا) (?:دائما |فقط |للمستخدم |للسائل |لمن يسأل )?(?:إن|إنه|إنها|بأن)(?!\w)"
    r"(?! كان| كنت| كنتم)|"
    r"(?<!أن )(?<!ان )(?<!لن )(?<!لم )(?<!\w)[وف]?(?:اكتب|اكتبي|اكتبوا) (?:فقط|حرفيا|الكلمة|كلمة|العبارة|عبارة)(?!\w)"
)

@lru_cache(maxsize=50_000)
def is_instruction(sentence: str) -> bool:
    """True when the sentence reads as an instruction to an assistant rather than as news."""
    forms = folded(sentence)
    for f in forms:
        if (_HAS_EN.search(f) and _EN.search(f)) or (_HAS_AR.search(f) and _AR.search(f)):
            return True
    if any("قل" in f or "قولوا" in f or "اكتب" in f for f in forms):  # cheap pre-check for the hamza patterns
        return bool(_HAMZA_KEPT.search(_hamza_kept(sentence)))
    return False


def neutralise(text: str) -> str:
    """The text with each instruction-like sentence replaced by a visible placeholder (what an LLM is shown)."""
    out, pos = [], 0
    for s, e in sentence_spans(text):
        if is_instruction(text[s:e]):
            out.append(text[pos:s] + REMOVED)
            pos = e
    return "".join(out) + text[pos:] if out else text
