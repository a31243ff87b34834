"""The short answer, without a model: answer-type cues, span picking on hand-made sentences, the span check in
`check_quotes`, the answer's layout, and the metrics that score it."""
from __future__ import annotations

import pytest

from rag.answering import extractive, span
from rag.answering.evidence import Sentence
from rag.answering.verify import check_quotes
from rag.evaluation.metrics import exact_match, f1_score, first_line, short_answer
from rag.types import Citation, Hit, Passage

pytestmark = pytest.mark.fast


@pytest.mark.parametrize("question,kind", [
    ("من هو المبعوث الأممي إلى سوريا؟", "person"),
    ("لمن كتب الصحفي مقالاته؟", "person"),
    ("Who is the UN envoy to Syria?", "person"),
    ("متى دخلت الهدنة حيز التنفيذ؟", "date"),
    ("في أي عام تأسست المدينة؟", "date"),
    ("When did the ceasefire start?", "date"),
    ("What year was he born?", "date"),
    ("كم عدد سكان مصر؟", "number"),
    ("ما هي مساحة السعودية؟", "number"),
    ("How many people were killed?", "number"),
    ("أين تقع شبه جزيرة سيناء؟", "place"),
    ("في أي مدينة ولد؟", "place"),
    ("Where did the talks take place?", "place"),
    ("ماذا قال بوتين عن الهجوم؟", "other"),
    ("Why did the talks fail?", "other"),
])
def test_answer_type_from_question_words(question, kind):
    assert span.answer_type(question) == kind


@pytest.mark.parametrize("question,sentence,expected", [
    ("متى ولد جمال خاشقجي؟", "ولد جمال خاشقجي في 13 أكتوبر 1958 في المدينة المنورة.", "13 أكتوبر 1958"),
    ("كم يبلغ عدد سكان المدينة؟", "يبلغ عدد سكان المدينة نحو 104 ملايين نسمة، وفق آخر تعداد.", "104 ملايين"),
    ("من هو المبعوث الأممي إلى سورية؟",
     "قال المبعوث الأممي إلى سورية ستيفان دي ميستورا، أمس، إنه يسعى لعقد جولة ثالثة.", "ستيفان دي ميستورا"),
    ("When did the ceasefire come into force?", "دخل اتفاق وقف إطلاق النار حيز التنفيذ في 27 شباط الماضي.",
     "27 شباط"),
])
def test_pick_finds_the_answering_words_verbatim(question, sentence, expected):
    sp = span.pick(question, sentence)
    assert sp is not None and sentence[sp.start:sp.end] == sp.text
    assert expected in sp.text, sp
    assert len(sp.text.split()) <= span.MAX_WORDS
    assert len(sp.text.split()) < len(sentence.split()) - 2  # an answer, not the sentence again


def test_a_sentence_of_the_asked_kind_wins_over_a_slightly_better_ranked_one():
    s1 = Sentence(0, "ناقش الرئيس الفرنسي الأوضاع في حلب مع نظيره الروسي.", 0, 50)
    s2 = Sentence(1, "دخلت الهدنة في حلب حيز التنفيذ يوم 27 شباط الماضي.", 0, 50)
    short = extractive.short_answer("متى دخلت الهدنة في حلب حيز التنفيذ؟", "ar", [(s1, 1.0), (s2, 0.8)])
    assert short.sentence is s2 and "27 شباط" in short.span.text


def _passage(text: str, lang: str = "ar") -> Passage:
    return Passage("p1", "a1", "عنوان", text, 0, 0, len(text), lang=lang)


def _answer(question: str, text: str, lang: str):
    p = _passage(text)
    hits = [Hit(p, 1.0)]
    ranked = [(Sentence(0, text, 0, len(text)), 1.0)]
    short = extractive.short_answer(question, lang, ranked)
    pieces, cits = extractive.compose_short(short, extractive.choose(ranked, lang), hits, lang)
    return "".join(pieces), cits, hits


def test_arabic_answer_leads_with_the_span_then_its_sentence():
    text, cits, hits = _answer("متى ولد جمال خاشقجي؟", "ولد جمال خاشقجي في 13 أكتوبر 1958 في المدينة المنورة.", "ar")
    head = first_line(text)
    assert "13 أكتوبر 1958" in head and head.endswith("[1]") and len(head.split()) <= span.MAX_WORDS + 1
    assert "ولد جمال خاشقجي في 13 أكتوبر 1958" in text.split("\n", 1)[1]
    assert check_quotes(text, cits, hits).citations == cits


def test_english_question_over_arabic_source_marks_the_span_as_arabic():
    text, cits, hits = _answer("Who is the UN envoy to Syria?",
                               "وقال المبعوث الدولي إلى سوريا ستيفان دي ميستورا إن المحادثات ستستأنف.", "en")
    assert text.startswith("Arabic source span: “") and "ميستورا" in first_line(text) and not cits[0].translation
    assert check_quotes(text, cits, hits).citations == cits
    assert "ميستورا" in short_answer(text) and "Arabic" not in short_answer(text)


def test_a_date_span_for_an_english_question_is_rendered_by_table_beside_its_arabic():
    text, cits, hits = _answer("When was Jamal Khashoggi born?", "ولد جمال خاشقجي في 13 أكتوبر 1958 في المدينة المنورة.",
                               "en")
    head = first_line(text)
    assert head.startswith("On 13 October 1958 in Medina (translated from the Arabic: “في 13 أكتوبر 1958"), head
    assert cits[0].translation == "On 13 October 1958 in Medina"
    assert check_quotes(text, cits, hits).citations == cits


def test_check_quotes_rejects_a_span_outside_its_sentence_or_not_in_the_lead():
    sentence = "ولد جمال خاشقجي في 13 أكتوبر 1958 في المدينة المنورة."
    p = _passage("مقدمة قصيرة. " + sentence)
    s0 = p.text.index(sentence)
    hits = [Hit(p, 1.0)]
    good = Citation(1, "p1", "t", sentence, s0, s0 + len(sentence), 1.0, span=(s0 + 19, s0 + 33))
    lead = p.text[s0 + 19:s0 + 33] + " [1]\nبحسب المقالات: " + sentence + " [1]"
    assert check_quotes(lead, [good], hits).citations == [good]
    outside = Citation(1, "p1", "t", sentence, s0, s0 + len(sentence), 1.0, span=(0, 10))
    assert check_quotes(lead, [outside], hits).citations == []
    assert check_quotes("شيء آخر [1]\n" + sentence, [good], hits).citations == []  # the lead is not the span


def test_short_answer_metrics():
    assert short_answer("Arabic source span: “ستيفان دي ميستورا” [1]\n\nFrom the source:") == "ستيفان دي ميستورا"
    assert short_answer("13 أكتوبر 1958 [2]\nبحسب المقالات: …") == "13 أكتوبر 1958"
    # a translated lead is scored by the source words it shows (the gold spans are in the source language)
    assert short_answer("28 July 1914 (translated from the Arabic: “28 يوليو 1914”) [1]\n\nFrom") == "28 يوليو 1914"
    assert short_answer("1354 CE (from the Arabic: “بعد سنة 1354م”) [1]") == "بعد سنة 1354م"
    assert exact_match("في 13 أكتوبر 1958", ["13 أكتوبر 1958", "في 13 أكتوبر 1958،"])
    assert not exact_match("13 أكتوبر", ["13 أكتوبر 1958"])
    assert f1_score(1.0, 0.0) == 0.0 and f1_score(float("nan"), 0.0) == 0.0
    assert f1_score(0.5, 1.0) == pytest.approx(2 / 3)


def test_a_who_question_prefers_a_sentence_that_names_someone():
    assert span.names_person("قال المبعوث الأممي الخاص إلى سورية ستيفان دي ميستورا، أمس")  # title + name
    assert span.names_person("وصل محمد بن سلمان إلى الرياض")  # given name, kinship particle
    assert not span.names_person("أكّد المبعوث الأممي تحقيق تقدم بشأن اللقاء الثلاثي")  # a title, no name
    assert span.fits("person", "التقى الرئيس بوتين نظيره") and not span.fits("person", "تقدم في المحادثات")
    press = Sentence(0, "أكّد المبعوث الأممي في مؤتمر صحفي تحقيق تقدم في المحادثات.", 0, 55)
    named = Sentence(1, "قال المبعوث الأممي ستيفان دي ميستورا إنه يسعى لعقد جولة ثالثة.", 0, 60)
    short = extractive.short_answer("Who is the UN envoy to Syria?", "en", [(press, 2.0), (named, 1.35)])
    assert short.sentence is named  # the example: the press conference outranked the name by 0.65
