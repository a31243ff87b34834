"""Names in English questions matched to their Arabic spelling (`rag.search.transliterate`); no model."""
from __future__ import annotations

import pytest

from rag.search import transliterate as tr

pytestmark = pytest.mark.fast

# Words an archive holds, most frequent first (the lexicon's order): names, and common words that share their
# consonants.
WORDS = ["السعودية", "قوات", "الكويت", "جدا", "جدة", "الاتحاد", "يتعهد", "الأسد", "إسعاد", "الرياض", "رائدا",
         "آرسنال", "كبلر", "مونتاري", "عبدالرحمن", "برشلونة", "جيد", "وزارة"]


@pytest.fixture(scope="module")
def index():
    return tr.consonant_index(WORDS)


def _spelled(name, index):
    return [WORDS[i] for i in tr.matches(name, WORDS, index)]


def test_both_scripts_reduce_to_the_same_consonants():
    assert tr.arabic_reading("الاتحاد").consonants == "THD"  # article off, ا a vowel
    assert [r.consonants for r in tr.english_readings("Ittihad")] == ["THD"]
    assert tr.arabic_reading("جدة").consonants == "JD"  # ة a vowel, not a consonant
    assert [r.consonants for r in tr.english_readings("Jeddah")] == ["JD"]  # dd folded, final h dropped
    assert tr.arabic_reading("برشلونة").consonants == "BRXLN"
    assert "BRXLN" in [r.consonants for r in tr.english_readings("Barcelona")]  # soft c may be ش
    assert [r.consonants for r in tr.english_readings("Giroud")] == ["JRD", "GRD", "KRD"]  # g: ج, غ or ق


@pytest.mark.parametrize("name, arabic", [
    ("Ittihad", "الاتحاد"), ("Kepler", "كبلر"), ("Arsenal", "آرسنال"), ("Muntari", "مونتاري"),
    ("Riyadh", "الرياض"), ("Jeddah", "جدة"), ("Kuwait", "الكويت"), ("Assad", "الأسد"),
    ("Abdulrahman", "عبدالرحمن"), ("Barcelona", "برشلونة"),
])
def test_a_name_finds_its_arabic_spelling(name, arabic, index):
    assert arabic in _spelled(name, index)


def test_a_long_vowel_the_name_does_not_write_rules_a_word_out(index):
    # يتعهد has THD too, but its ي is no vowel of Ittihad's; رائدا ends in ا where Riyadh ends in a consonant.
    assert "يتعهد" not in _spelled("Ittihad", index)
    assert "رائدا" not in _spelled("Riyadh", index)
    assert "جيد" not in _spelled("Jeddah", index)  # a lone e is short: no ي


def test_the_index_reads_a_whole_word_list_as_each_word_alone():
    words = WORDS + ["المستشفى", "وبالرياض", "comللتواصل", "عَبْدُالله", "ة", ""]
    assert tr.consonant_keys(words) == [tr.arabic_reading(w).consonants for w in words]


def test_words_that_are_not_names_and_too_short_names_match_nothing(index):
    assert _spelled("Ministry", index) == []  # وزارة is its translation, not its spelling
    assert _spelled("Al", index) == []  # one consonant says nothing
    assert tr.is_name("Jeddah") and tr.is_name("NASA")
    assert not tr.is_name("envoy") and not tr.is_name("Côte") and not tr.is_name("F1")
