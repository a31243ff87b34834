"""Names English and Arabic write differently (`rag.text.exonyms`), read both ways; and their use in the local
model's translation step (its prompt and its check). No model."""
from __future__ import annotations

import pytest

from rag.answering import prompts
from rag.backends import constrained as cb
from rag.text import exonyms

pytestmark = pytest.mark.fast


def test_an_arabic_span_gives_the_english_of_its_exonyms_longest_first():
    assert exonyms.glossary("ولد في المدينة المنورة عام 1958") == [("المدينة المنورة", "Medina")]
    assert exonyms.glossary("فازت سويسرا في كرة القدم.") == [("سويسرا", "Switzerland"), ("كرة القدم", "football")]
    # prefixes and the article do not hide a name; a digit before a word is not part of it
    assert exonyms.glossary("زار الرئيس والأردن وبالسعودية") == [("الأردن", "Jordan"), ("السعودية", "Saudi Arabia")]
    assert exonyms.glossary("قبل الميلاد") == [("قبل الميلاد", "BC")]
    assert exonyms.glossary("1406 ميلادي") == [("ميلادي", "AD")]
    assert exonyms.glossary("المدينة الجامعية") == []  # المدينة alone is "the city", not Medina


def test_an_english_name_gives_what_the_articles_write():
    assert exonyms.arabic_forms("Jordan") == ("الأردن",)
    assert exonyms.arabic_forms("saudi arabia")[0] == "المملكة العربية السعودية"
    assert exonyms.arabic_forms("Muntari") == ()


def test_the_translation_prompt_names_the_exonyms_and_the_check_accepts_them():
    prompt = prompts.translate_user("ولد في المدينة المنورة", exonyms.glossary("ولد في المدينة المنورة"))
    assert "Name: المدينة المنورة = Medina" in prompt and prompt.endswith("Arabic: ولد في المدينة المنورة\nEnglish:")
    assert prompts.translate_user("نص") == "Task TRANSLATE.\nArabic: نص\nEnglish:"  # no names, no hint
    # Switzerland does not sound like سويسرا; the table says it is its English. Sweden stays refused.
    span = "فازت سويسرا بالمباراة"
    known = [en for _, en in exonyms.glossary(span)]
    assert "Switzerland" in cb.unrendered_names(span, "the match was won by Switzerland")
    assert cb.unrendered_names(span, "the match was won by Switzerland", known=known) == ""
    assert "Sweden" in cb.unrendered_names(span, "the match was won by Sweden", known=known)
    # a translation that is the name alone (checked by sound, name_problem) may be the table's English too
    assert cb.is_known("Switzerland", known) and cb.is_known("Saudi Arabia", ["Saudi Arabia"])
    assert not cb.is_known("Sweden", known) and not cb.is_known("", known)
