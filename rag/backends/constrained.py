"""`llamacpp`: the local 1.5B model doing a job it can do. It never writes freely: retrieval's sentence ranking
(the extractive backend's) shortlists CANDIDATES sentences across languages; a grammar lets the model only name
one of them and copy a run of its words (rag/llm/constrained.py). The choice combines the model's own
probabilities of the candidate numbers with retrieval's ranking. The answer's words in the chosen sentence are
the span reader's (READ_SPAN), the model's copy only where no reader reads. For an English question over an Arabic
source, a second constrained step translates only those words; the translation is checked (its figures must be the
span's) and shown beside the Arabic it came from. The whole short answer is decided and checked before any of
it is streamed, so nothing shown is taken back.
"""
from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from rag.answering import answerable, extractive, prompts, rendering
from rag.answering import span as spans
from rag.answering import support
from rag.answering.evidence import Sentence
from rag.backends.base import Draft, Resources
from rag.backends.chat import LlamaCppBackend
from rag.backends.extractive import reading
from rag.llm import constrained as cd
from rag.text import arabic, exonyms
from rag.types import Citation, Hit

CANDIDATES = 4  # sentences shown to the model (the trial: 4 numbered sentences, ~300 prompt tokens)
# Weight of retrieval's ranking (z units, rag/answering/extractive.rank) against the model's log-probability of
# each candidate number: cross-lingual questions are where the model alone picked wrong (issue 10's trial).
W_RANK = 1.0
# The model picks the sentence; the span reader (rag/answering/reader.py) picks its words, where SANAD_READER lets
# it read the question. 40 questions of ARCD's held-out articles, a reader fitted on the others (`python
# bench/llm_bench.py --arcd 40 --split heldout`): short F1 0.347 with the model's own span, 0.538 with the reader's;
# first line holds the gold 0.175 → 0.650. Not for a span the model then translates: 50 English ARCD questions
# (`scripts/audit_answers.py … --ar 0 --en 50`) were answered in English 0.66 with the model's spans, 0.44 with the
# reader's, 0.48 with the reader's likeliest words (no cover); clause-long translations fail the checks or read badly.
READ_SPAN = True
SPAN_TOKENS = 40  # the copied words: at most MAX_WORDS words; the grammar ends them, this bounds the worst case
# Enough for a 15-word span with its figures: at 32 the audit's "Jamal … (13 October 1958, Medina - 2 October 2018)"
# was cut at "20" and refused for a figure it lacked. Only a long span uses them; the model stops where it ends.
TRANSLATION_TOKENS = 56
_EDGE = spans._OPEN + spans._CLOSE
_NUMBER = re.compile(r"\d(?:[\d,.]*\d)?")


@dataclass
class Decision:
    """What the backend decided for one question, for benchmarks and debugging (never shown as an answer)."""

    candidates: list[str] = field(default_factory=list)
    probs: tuple[float, ...] = ()  # the model's distribution over the candidate numbers
    chosen: int = 0  # 1-based
    raw: str = ""  # the constrained output
    fallback: str = ""  # why the extractive span was used instead of the model's, if it was
    span_by: str = "model"  # who chose the answer's words in the chosen sentence: "model" or "reader"
    translation: str = ""
    translation_rejected: str = ""
    translated_by: str = ""  # "table" (rag/answering/rendering.py) or "model"
    prompt_tokens: int = 0  # the pick prompt, system prefix included (llama.cpp re-reads only what follows it)
    seconds: dict[str, float] = field(default_factory=dict)


_CLAUSE_MARK = re.compile(r"[،,؛;:]")
_LABEL = re.compile(r"^\s*(?:arabic|english|translation)\s*:\s*", re.IGNORECASE)


def trim_span(sentence: str, start: int, end: int) -> tuple[int, int]:
    """The span without surrounding punctuation or quote marks (a name copied with its comma)."""
    while start < end and (sentence[start] in _EDGE or sentence[start].isspace()):
        start += 1
    while end > start and (sentence[end - 1] in _EDGE or sentence[end - 1].isspace()):
        end -= 1
    return start, end


def first_clause(sentence: str, start: int, end: int) -> tuple[int, int]:
    """A run-on span cut at its first clause mark: a small model that copies on past the answer
    ("ستيفان دي ميستورا، أمس، إنه يسعى ...") starts with it."""
    m = _CLAUSE_MARK.search(sentence, start, end)
    return trim_span(sentence, start, m.start()) if m else (start, end)


def span_within(span_text: str, sentence: str) -> bool:
    """The answer is a part of its sentence, compared after Arabic normalisation (the hard rule of this backend)."""
    a = " ".join(arabic.normalize(span_text).split())
    return bool(a) and a in " ".join(arabic.normalize(sentence).split())


def numbers(text: str) -> list[str]:
    """The figures in a text, digits only (Arabic-Indic digits read as 0-9, thousands separators dropped)."""
    return sorted(m.group().replace(",", "").rstrip(".") for m in _NUMBER.finditer(text.translate(arabic.DIGITS)))


def translation_problem(source: str, english: str) -> str:
    """Why a translation of `source` cannot be shown ('' when it can): it must be Latin text stating exactly the
    source's figures, and not much longer than the source (a small model that rambles has added something)."""
    english = english.strip()
    if not english or not re.search(r"[A-Za-z0-9]", english):
        return "empty translation"
    if numbers(source) != numbers(english):
        return f"figures differ: {numbers(source)} vs {numbers(english)}"
    # Numbers written as words too: "أحد عشر قرنًا" is not "ten years and nine months".
    if counted(source) != counted(english):
        return f"numbers differ: {sorted(counted(source))} vs {sorted(counted(english))}"
    if calendar(source) != calendar(english):  # months and weekdays are not names: they are checked here
        return f"months or weekdays differ: {sorted(calendar(source))} vs {sorted(calendar(english))}"
    if len(english.split()) > 2 * len(source.split()) + 4:
        return "translation much longer than the source"
    if _META.search(english):  # the model talked about translating (once, in French) instead of translating
        return "not a translation: it comments on the text"
    if support.says_opposite(english, source):  # "the revolts died down" for "ارتفعت حدة الثورات"
        return "not a translation: it says the opposite of the source"
    if re.search(r"[()\[\]]", english) and not re.search(r"[()\[\]]", source):
        return "not a translation: it adds a bracket the source does not have"  # "ialis (ali)" for عيسى
    return ""


def checked_translation(source: str, english: str, question: str, translate: Callable[[str], list[str]],
                        known: list[str]) -> str:
    """Every check a translation of a short span must pass, in order; the first problem found ('' if none).
    `translate` and `known` as in `unrendered_names`."""
    problem = translation_problem(source, english)
    if not problem and (looks_like_name(english) or _unknown_word(english, translate)) \
            and not means(english, source, translate) and not is_known(english, known):
        problem = name_problem(source, english)
    return (problem or unrendered_names(source, english, question, translate, known)
            or dropped_names(source, english))


def _unknown_word(english: str, translate: Callable[[str], list[str]]) -> bool:
    """A one-word rendering the lexicon does not know is a name, whatever its case: the audit accepted a lower-case
    "ialias" for عيسى, which the capitalised-name check did not look at."""
    return bool(re.fullmatch(r"[A-Za-z'’-]+", english.strip())) and not translate(english.strip())


def counted(text: str) -> set[str]:
    """The numbers a text states in figures or in words, in either language ("one" left out: "أحد أهم" is "one of
    the most", which an English rendering may or may not write)."""
    return {x for x in support.numbers(text) if x[:1].isdigit()} - {"1"}


def calendar(text: str) -> set[str]:
    """The months ("m7") and weekdays ("d4") a text names, in either language."""
    return {x for x in support.numbers(text) if x[:1] in "md" and x[1:].isdigit()}


def _calendar_word(word: str) -> bool:
    return bool(calendar(word))


_META = re.compile(r"[\"“”«»]|\b(?:translat\w*|english|anglais|arabic|arabe|means|signifie|expression)\b", re.IGNORECASE)


# A name's consonants, as Latin classes, so a transliteration can be compared with the Arabic it renders
# ("ستيفان دي مستورا" → stfndmstr ← "Staffan de Mistura"). Vowels, and letters that are often vowels (و ي ا h),
# are left out; letters English spells alike fall together (p/b, v/f, z/s, g/j, q/c/k).
_AR_SKELETON = str.maketrans({**{ch: "" for ch in "اأإآىءئؤةويعه"}, "ب": "b", "ت": "t", "ث": "t", "ج": "j",
                              "ح": "", "خ": "k", "د": "d", "ذ": "d", "ر": "r", "ز": "s", "س": "s", "ش": "s",
                              "ص": "s", "ض": "d", "ط": "t", "ظ": "s", "غ": "j", "ف": "f", "ق": "k", "ك": "k",
                              "ل": "l", "م": "m", "ن": "n"})
_LATIN_PAIRS = (("sh", "s"), ("ch", "s"), ("th", "t"), ("kh", "k"), ("gh", "j"), ("ph", "f"), ("x", "ks"))
_LATIN_SKELETON = str.maketrans({**{ch: "" for ch in "aeiouywh"}, "p": "b", "v": "f", "z": "s", "g": "j",
                                 "q": "k", "c": "k"})
NAME_MATCH = 0.7  # difflib ratio of the two skeletons a transliterated name must reach


def skeleton(text: str) -> str:
    """The consonant skeleton of Arabic or Latin text (repeated letters once)."""
    t = text.lower()
    for a, b in _LATIN_PAIRS:
        t = t.replace(a, b)
    t = t.translate(_AR_SKELETON).translate(_LATIN_SKELETON)
    t = re.sub(r"[^a-z]", "", t)
    return re.sub(r"(.)\1+", r"\1", t)


_PARTICLES = {"de", "di", "da", "al", "el", "bin", "ibn", "bint", "abu", "van", "von", "la", "le", "of", "the"}


def looks_like_name(english: str) -> bool:
    """Every word capitalised (name particles aside): a transliterated name, whose sound can be checked."""
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z'-]*", english)  # "28 July 1914", "1299 CE": dates, not names
             if w.lower() not in _PARTICLES and not _calendar_word(w) and w not in _ERAS]
    return bool(words) and all(w[0].isupper() for w in words)


def name_problem(source: str, english: str) -> str:
    """A transliterated name must sound like the Arabic it renders (checked on consonant skeletons)."""
    from difflib import SequenceMatcher

    a, b = skeleton(source), skeleton(english)
    ratio = SequenceMatcher(None, a, b).ratio() if a and b else 0.0
    return "" if ratio >= NAME_MATCH else f"the name does not render the Arabic ({b!r} vs {a!r}, {ratio:.2f})"


# A run of capitalised words ("al-x" words too: "Bashar al-Assad"), a lower-case particle allowed between them.
_NAME_RUN = re.compile(r"(?:\b(?:[ae]l[-‑][A-Za-z]|[A-Z])[A-Za-z'’-]+"
                       r"(?:\s+(?:de|di|da|al|el|bin|ibn|abu|van|von|la|le)(?=\s))?\s*)+")
_FUNCTION_WORDS = {"The", "A", "An", "In", "On", "At", "Of", "And", "He", "She", "It", "They", "This", "That",
                   "These", "Those", "His", "Her", "Its", "Their", "There", "What", "Who", "When", "Where", "Which",
                   "How", "Why", "I", "We", "You", "From", "To", "For", "By", "With", "As", "After", "Before",
                   "According", "Yes", "No", "Arabic", "English", "Source", "Sources", "Translated"}


def latin_names(text: str) -> list[str]:
    """Runs of capitalised Latin words, function words left out. A lone capitalised word opening a sentence is
    just a sentence's first word ("About 15 ..."), not a name."""
    out = []
    for m in _NAME_RUN.finditer(text):
        words = [w for w in m.group().split() if w not in _FUNCTION_WORDS and not _calendar_word(w)]
        before = text[:m.start()].rstrip()
        opens = not before or before[-1] in ".!?:\n“\"(-"
        if words and not (opens and len(m.group().split()) == 1):
            out.append(" ".join(words))
    return out


def renders(name: str, sources: list[str], max_words: int = 4) -> bool:
    """The name's consonant skeleton matches that of some run of 1..max_words words of a source (or the source
    holds it as written)."""
    from difflib import SequenceMatcher

    target = skeleton(name)
    if not target:
        return True
    for src in sources:
        if name.lower() in src.lower():
            return True
        words = src.split()
        for i in range(len(words)):
            for j in range(i + 1, min(len(words), i + max_words) + 1):
                cand = skeleton(" ".join(words[i:j]))
                if cand and SequenceMatcher(None, cand, target).ratio() >= NAME_MATCH:
                    return True
    return False


# A year's era: 1406م is "1406 AD" or "1406 CE", 632 هـ "632 AH"; the audit refused "(1332-1406 CE)" as a name.
_ERAS = {"AD", "CE", "BC", "BCE", "AH"}
_ERA_MARK = re.compile(r"\d\s*(?:م|هـ|ه)(?![\w])|ميلاد|هجر")


def unrendered_names(source: str, english: str, question: str = "",
                     translate: Callable[[str], list[str]] | None = None, known: list[str] = ()) -> str:
    """A translation may name only what its Arabic writes (by sound) or the question already names: the audit
    caught "the capital of the United Arab Emirates" offered for المدينة المنورة. `translate` (a name's words
    → the index lexicon's Arabic stems for them) also lets an exonym through when every word of it translates
    to a word the source writes ("Arabian Peninsula" ← شبه الجزيرة العربية, "German" ← الألمانية). `known`: the
    English of the source's exonyms (rag/text/exonyms.py), which a name may be part of ("Switzerland" ←
    سويسرا, which no sound or lexicon word gives)."""
    era = _ERA_MARK.search(source)

    def written(n: str, max_words: int = 4) -> bool:
        return (renders(n, [source, question], max_words) or bool(translate and means(n, source, translate))
                or is_known(n, known) or bool(era and n in _ERAS))

    bad = []
    for n in latin_names(english):
        words = name_words(n)
        if not written(" ".join(w for w in n.split() if w not in _TITLES)):
            bad.append(n)
        elif len(words) > 1:  # a long name can sound like the Arabic as a whole with one word invented: "Omar bin
            # Malik bin Omar al-Munafi" for عمر بن مختار بن عمر المنفي. Each word must render a word or two of its own.
            bad += [w for w in words if not written(w, max_words=2)]
    return f"names the source does not write: {', '.join(bad)}" if bad else ""


def name_words(name: str) -> list[str]:
    """A name's words, particles ("bin", "al-") and titles left out."""
    words = []
    for w in name.split():
        w = re.sub(r"^(?:al|el)[-‑]", "", w, flags=re.IGNORECASE)
        if w.lower() not in _PARTICLES and w not in _TITLES and len(w) > 1:
            words.append(w)
    return words


# Titles the model writes before a name: checked with the sentence's words, not as a name's sounds.
_TITLES = {"President", "King", "Prince", "Princess", "Sheikh", "Shaikh", "Emir", "Sultan", "Imam", "Caliph",
           "Minister", "Prime", "General", "Dr", "Dr.", "Mr", "Mr.", "Mrs", "Pope", "Saint", "St", "St.", "Queen"}


def dropped_names(source: str, english: str) -> str:
    """A translation must keep the people its Arabic names: with the hint "المدينة المنورة = Medina" the model
    once rendered "جمال أحمد حمزة خاشقجي (13 أكتوبر 1958، المدينة المنورة …)، صحفي" as "Medina (13 October 1958
    …), journalist". Checked for the given names the lists know (جمال, أحمد…), by sound."""
    words = [skeleton(w) for w in english.split()]
    lost = [n for n in support.arabic_given_names(source)
            if arabic.normalize(n) not in _NAME_PARTS and not renders(n, [english], max_words=1)
            and not any(skeleton(n) in w for w in words)]  # "Abdulrahman" holds عبد's and رحمن's sounds
    return f"drops the name{'s' if len(lost) > 1 else ''} {', '.join(lost)}" if lost else ""


# Parts of compound names, written joined or otherwise in English (عبد الله: Abdullah, Abd Allah, Abdalla).
_NAME_PARTS = {arabic.normalize(w) for w in ("عبد", "الله")}


def is_known(name: str, known: list[str]) -> bool:
    """Every word of the name is a word of the English the exonym table gives for the source (`known`)."""
    known_words = {w.lower() for k in known for w in k.split()}
    words = {w.lower() for w in re.findall(r"[A-Za-z]+", name)}
    return bool(words) and words <= known_words


def means(name: str, source: str, translate: Callable[[str], list[str]]) -> bool:
    """Every word of the name translates (through the lexicon) to a word of the source."""
    have = set(arabic.analyze(source))
    words = [w for w in name.split() if w.lower() not in _PARTICLES]
    return bool(words) and all(set(translate(w)) & have for w in words)


def decide(probs: np.ndarray, rank_scores: np.ndarray, w_rank: float = W_RANK) -> int:
    """The candidate (0-based) to copy from: the model's log-probability plus retrieval's ranking."""
    return int(np.argmax(np.log(np.maximum(probs, 1e-12)) + w_rank * rank_scores))


def refusal_hook(query, hits: list[Hit], q_vec: np.ndarray, res: Resources) -> str | None:
    """Answerability, decided before the model runs and before anything is shown: a reason to refuse, or None.

    The extractive backend's refusal gate (rag/answering/answerable.py over `extractive.analyse`), so both
    backends refuse the same questions; its signals (passage and sentence cosines, coverage, answer-type fit,
    span confidence) are retrieval's, not the model's. A "none" option the model could choose is not trusted
    (issue 10's trial: it picked a sentence for an out-of-scope question anyway). The model's probabilities of the
    candidate numbers (`Decision.probs`) are recorded to join the gate's signals once there is data to fit them."""
    signals = extractive.analyse(query.search_text, query.lang, q_vec, hits, res.sentences,
                                 res.translated_terms(query.search_text)).signals  # the reader never moves them
    if answerable.answerable(signals, passages=res.index_size()):
        return None
    return "the articles do not answer this (answerability gate)"


class ConstrainedLlamaBackend(LlamaCppBackend):
    """The local GGUF picking and copying under a grammar (rewrite of follow-ups: the chat model, as before)."""

    name = "llamacpp"
    heavy = True

    def __init__(self, candidates: int = CANDIDATES, w_rank: float = W_RANK) -> None:
        self.candidates = candidates
        self.w_rank = w_rank
        self.last: Decision | None = None  # the latest decision (benchmarks read it)
        self._warm: set[str] = set()
        self._warm_lock = threading.Lock()

    # ------------------------------------------------------------------ the model
    def llama(self, settings):
        from rag.llm.gguf import gguf_path
        from rag.llm.llamacpp import _load_llama

        path = str(gguf_path(settings))
        llama, lock = _load_llama(path, settings.llm_context)
        with self._warm_lock:
            if path not in self._warm:  # read the fixed system prefix once, so the first question pays only its own part
                with lock:
                    cd.complete(llama, cd.chatml(prompts.PICK_SYSTEM, prompts.pick_user("?", ["."])),
                                cd.choice_grammar(["."]), 1)
                self._warm.add(path)
        return llama, lock

    # ------------------------------------------------------------------ answering
    def generate(self, query, hits: list[Hit], res: Resources) -> Draft:
        d = Decision()
        self.last = d
        t0 = time.perf_counter()
        q_vec = res.embed_query(query.search_text)[0]
        translated = res.translated_terms(query.search_text)
        ranked = extractive.rank(query.search_text, query.lang, q_vec, hits, res.sentences, translated)
        cands: list[tuple[Sentence, str, float]] = []  # sentence, its text as shown (clipped), rank score
        for s, rel in ranked:
            shown = prompts.one_line_text(prompts.clip_sentence(s.text))
            if shown and shown.split():
                cands.append((s, shown, rel))
            if len(cands) == self.candidates:
                break
        if not cands:
            return Draft(hits, iter(()), quoted=[], refusal="no sentence answers the question")
        d.candidates = [c[1] for c in cands]
        d.seconds["rank"] = time.perf_counter() - t0

        why = refusal_hook(query, hits, q_vec, res)
        if why:
            return Draft(hits, iter(()), quoted=[], refusal=why)
        llama, lock = self.llama(res.settings)
        # the extractive short answer's preference too: a sentence with a name for "who", a date for "when"
        kind = spans.answer_type(query.search_text, query.lang)
        rank_scores = np.array([c[2] + extractive.kind_bonus(kind, c[0].text) for c in cands])
        # A span to be translated stays the model's own copy: it translates its few words well, the reader's
        # longer spans less often (see READ_SPAN). When no candidate would be translated, the model names only the
        # sentence: the reader picks the words, so the model's copy would be thrown away (about a second's writing).
        def translated_from(s: Sentence) -> bool:
            return query.answer_lang == "en" and hits[s.passage_index].passage.lang != "en"

        read = reading(query.search_text, query.lang, hits, res) if READ_SPAN else None  # None: SANAD_READER says no
        reader_only = read is not None and not any(translated_from(c[0]) for c in cands)
        t = time.perf_counter()
        with lock:
            step = cd.FirstStep(cd.digit_token_ids(llama, len(cands)),
                                lambda p: decide(p, rank_scores, self.w_rank))
            prompt = cd.chatml(prompts.PICK_SYSTEM, prompts.pick_user(query.search_text, d.candidates))
            d.prompt_tokens = len(llama.tokenize(prompt.encode(), special=True))
            d.raw = cd.complete(llama, prompt, cd.choice_grammar(d.candidates), 1 if reader_only else SPAN_TOKENS,
                                logits_processor=step)
        d.seconds["pick"] = time.perf_counter() - t
        d.probs = tuple(float(x) for x in (step.probs if step.probs is not None else ()))
        choice = cd.parse_choice(d.raw, d.candidates)
        idx = (choice.number - 1) if choice else (step.chosen if step.chosen is not None else 0)
        d.chosen = idx + 1
        sentence, rel = cands[idx][0], cands[idx][2]

        read = None if translated_from(sentence) else read
        cues = extractive.short_answer(query.search_text, query.lang, [(sentence, rel)], translated) if read else None
        short = extractive.reread(query.search_text, query.lang, cues, translated, read) if cues else None
        if short is not None and short.read:  # the span reader's words of the model's sentence (see READ_SPAN)
            lead = extractive.lead_span(short)
            start, end = lead.start, lead.end
            d.span_by = "reader"
        else:
            if reader_only:  # the reader had no words after all: the model copies them now (its prompt is cached)
                with lock:
                    d.raw = cd.complete(llama, prompt, cd.choice_grammar(d.candidates), SPAN_TOKENS,
                                        logits_processor=cd.FirstStep(step.digit_ids, lambda p: idx))
                choice = cd.parse_choice(d.raw, d.candidates)
            start, end = self.model_span(d, choice, sentence)
            if d.fallback:  # the extractive span of the same sentence: verbatim by construction
                sp = spans.pick(query.search_text, sentence.text, query.lang, translated=translated)
                if sp is None:
                    return Draft(hits, iter(()), quoted=[], refusal="no span of the chosen sentence answers")
                start, end = sp.start, sp.end
        text = sentence.text[start:end]

        p = hits[sentence.passage_index].passage
        translation, whole = "", True  # whole: the translation renders the whole span, not a date inside it
        if query.answer_lang == "en" and p.lang != "en" and arabic.has_arabic(text):  # (a Latin span: as written)
            t = time.perf_counter()
            names = exonyms.glossary(text)
            known = [en for _, en in names]
            lead = rendering.english_lead(text, kind)  # a date, figure or known name: exact, and no model call
            if lead and not checked_translation(text[lead[0]:lead[1]], lead[2], query.search_text,
                                                res.translated_terms, known):
                english, whole, problem = lead[2], lead[:2] == (0, len(text)), ""
                d.translated_by = "table"
            else:
                with lock:
                    english = cd.complete(llama, cd.chatml(prompts.PICK_SYSTEM, prompts.translate_user(text, names)),
                                          cd.TRANSLATION_GRAMMAR, TRANSLATION_TOKENS).strip()
                english = _LABEL.sub("", english)  # the model sometimes echoes a label: "Arabic: Alexey ..."
                problem = checked_translation(text, english, query.search_text, res.translated_terms, known)
                d.translated_by = "model"
            d.seconds["translate"] = time.perf_counter() - t
            if problem:
                d.translation_rejected = f"{english!r}: {problem}"
            else:
                translation = d.translation = english
        pieces, citations = compose(sentence, rel, (start, end), translation, hits, query.answer_lang, whole)
        d.seconds["total"] = time.perf_counter() - t0
        return Draft(hits, iter(pieces), quoted=citations)

    @staticmethod
    def model_span(d: Decision, choice, sentence: Sentence) -> tuple[int, int]:
        """The span the model copied, trimmed; (0, 0) with `d.fallback` set when it is not a usable one."""
        start = end = 0
        if choice is not None:
            start, end = trim_span(sentence.text, choice.start, choice.end)
            if len(spans.tokenize(sentence.text[start:end])) > spans.MAX_WORDS:
                start, end = first_clause(sentence.text, start, end)
        text = sentence.text[start:end]
        if not text:
            d.fallback = "the model's output did not parse as a copied span"
        elif not span_within(text, sentence.text):
            d.fallback = "the model's span is not part of its sentence"
        elif len(spans.tokenize(text)) > spans.MAX_WORDS:
            d.fallback = f"the model's span is longer than {spans.MAX_WORDS} words"
        return start, end


def compose(sentence: Sentence, rel: float, span: tuple[int, int], translation: str, hits: list[Hit],
            language: str, whole: bool = True) -> tuple[list[str], list[Citation]]:
    """The short answer on its own first line with its citation, then its sentence as the supporting quote. A
    translated answer keeps the source's words beside it on the same line, marked as a translation."""
    n = sentence.passage_index + 1
    p = hits[sentence.passage_index].passage
    s0, s1 = span
    words = extractive.unmark(sentence.text[s0:s1])
    cite = Citation(n, p.id, p.title, sentence.text, sentence.start, sentence.end, rel,
                    span=(sentence.start + s0, sentence.start + s1), translation=translation)
    quote = extractive.unmark(sentence.text).rstrip(" .")
    if len(quote) > extractive.MAX_QUOTE_CHARS:
        quote = quote[:extractive.MAX_QUOTE_CHARS].rsplit(" ", 1)[0] + " …"
    source_lang = extractive.LANGUAGE_NAMES.get(p.lang, p.lang)
    if language == "en":
        if translation:
            head = extractive.translated_head(translation, words, p.lang, n, whole)
        elif p.lang != "en" and arabic.has_arabic(words):  # a name the source writes in Latin letters: as is
            head = f"{source_lang} source span: “{words}” [{n}]"
        else:
            head = f"{words} [{n}]"
        return [head, "\n\nFrom the source:", f"\n- “{quote}” [{n}]"], [cite]
    return [f"{words} [{n}]", "\n\nبحسب المقالات: ", f"{quote} [{n}]."], [cite]


def model_probability(d: Decision) -> float:
    """The model's probability of the number it was steered to (1.0 when it was not asked)."""
    return d.probs[d.chosen - 1] if d.probs and d.chosen else math.nan
