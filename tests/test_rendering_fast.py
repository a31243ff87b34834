"""Dates, figures and known names rendered into English by table (rag/answering/rendering.py). No model."""
from __future__ import annotations

import pytest

from rag.answering.rendering import english_by_table, english_lead
from rag.backends.constrained import checked_translation

pytestmark = pytest.mark.fast

RENDERED = [
    ("28 يوليو 1914", "28 July 1914"), ("1299م", "1299 CE"), ("632 هـ", "632 AH"), ("300 ق.م", "300 BC"),
    ("في 3 تشرين الأول 1973", "On 3 October 1973"), ("يوم الجمعة", "Friday"), ("١٩٨٠", "1980"),
    ("نحو 370 مليون", "About 370 million"), ("50 عاما", "50 years"), ("في عام 1914", "In 1914"),
    ("أكثر من 200 شخص", "More than 200 people"), ("1332 - 1406م", "1332 – 1406 CE"),
    ("في 13 أكتوبر 1958 في المدينة المنورة", "On 13 October 1958 in Medina"), ("العراق", "Iraq"), ("بالقاهرة", "Cairo"),
    ("المدينة المنورة", "Medina"), ("بالتقويم الميلادي", "Gregorian calendar"), ("خمسِين وِلاية", "Fifty states"), ("ثلاثمائة", "Three hundred"),
    ("في غرب آسيا", "In West Asia"), ("بحوالي 37,547,686 نسمة", "About 37,547,686 people"),
]


@pytest.mark.parametrize("arabic,english", RENDERED)
def test_a_date_figure_or_known_name_renders_exactly(arabic, english):
    assert english_by_table(arabic) == english
    # and passes every check a model's translation must pass
    assert checked_translation(arabic, english, "", lambda word: [], [english]) == ""


@pytest.mark.parametrize("arabic", ["ستيفان دي ميستورا", "وادي النيل", "عمان", "309.500 كم²", "2017، وكتب بعد ذلك", "في عام", "حملات ومعارك"])
def test_any_word_the_tables_do_not_know_leaves_the_span_unrendered(arabic):
    assert english_by_table(arabic) == ""


def test_a_when_span_narrows_to_the_date_it_holds():
    span = "خلال زيارة الاخير لدمشق يوم 15 ايلول الماضي"
    s, e, english = english_lead(span, "date")
    assert span[s:e] == "يوم 15 ايلول" and english == "15 September"
    s, e, english = english_lead("حوالي 370 مليون نسمة من سكان العالم", "number")
    assert english == "About 370 million people"  # not "… from": a run does not end on a connector
    assert english_lead(span, "person") is None  # only a question asking when or how many narrows
    assert english_lead("العراق", "place") == (0, 6, "Iraq")  # a whole span the tables render, whatever was asked


def test_a_run_inside_brackets_leaves_the_brackets_in_the_sentence():
    # Seen in the audit: "(1332 – 1406 CE" with the bracket opened and never closed.
    span = "زيد، ولي الدين الحضرمي الإشبيلي (1332 - 1406م)، ولد"
    s, e, english = english_lead(span, "date")
    assert span[s:e] == "1332 - 1406م" and english == "1332 – 1406 CE"


def test_a_when_question_leads_with_a_date_not_any_figure():
    # Seen in the audit: "In what year was the world population about 370 million?" led with "About 370 million".
    span = "1350، إذ قارب عدد سكان العالم حوالي 370 مليون"
    s, e, english = english_lead(span, "date")
    assert english == "1350" and span[s:e] == "1350"
    assert english_lead("قارب عدد سكان العالم حوالي 370 مليون", "number")[2] == "About 370 million"


def test_a_span_with_two_dates_leads_with_the_first_and_no_place_joins_it():
    span = "أوروبا من 28 يوليو 1914 وانتهت في 11 نوفمبر 1918"
    assert english_lead(span, "date")[2] == "28 July 1914"  # not "Europe from 28 July 1914", nor the end date
    assert english_lead("الأول من سبتمبر من عام 1939 في أوروبا", "date")[2] == "1 September 1939 in Europe"
    assert english_lead("\u200f(14 مارس 1879 – 18 أبريل 1955", "date")[2] == "14 March 1879 – 18 April 1955"


def test_a_resolution_number_is_no_date():
    # Seen on the seeds: "When was resolution 2254 adopted?" led with "2254".
    assert english_lead("على أساس قرار مجلس الأمن الدولي رقم 2254 تحت إشراف الأمم المتحدة", "date") is None
    assert english_lead("صدر القرار 1973 في مارس 2011", "date")[2] == "In March 2011"
