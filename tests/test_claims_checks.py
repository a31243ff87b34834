"""The strict checks behind verification, by hand: numbers and dates, names across scripts, negation. No model."""
from __future__ import annotations

import pytest

from rag.answering.support import (
    check,
    missing_arabic_names,
    missing_names,
    missing_numbers,
    numbers,
    says_opposite,
    skeleton,
)
from rag.evaluation.claims import load_claims, split_of

pytestmark = pytest.mark.fast

KERRY = ("انتهى الاتصال الهاتفي الذي جرى بين وزير الخارجية الروسي سيرغي لافروف ونظيره الامريكي جون كيري يوم 25 "
         "تشرين اول الفائت الى الاتفاق على ترك المبعوث الدولي الى سوريا ستيفان دي مستورا يتحرك ويعرض أفكارا.")


@pytest.mark.parametrize("text, expected", [
    ("تنقسم مصر إلى 27 محافظة", {"27"}),
    ("تنقسم مصر إلى ٢٧ محافظة", {"27"}),  # Arabic-Indic digits
    ("سبع وعشرين محافظة", {"27"}),
    ("between thirty and forty men", {"30", "40"}),
    ("بين ثلاثين وأربعين رجلاً", {"30", "40"}),  # two numbers, not 70
    ("more than two hundred countries", {"200"}),
    ("في أكثر من مائتي دولة", {"200"}),
    ("أكثر من مئة وعشرين مليون نسخة", {"120000000"}),
    ("120 مليون نسخة", {"120", "120000000"}),
    ("twenty-five times", {"25"}),
    ("يوم 25 تشرين اول", {"25", "m10"}),
    ("on 25 October", {"25", "m10"}),
    ("the seventh-largest country", {"7"}),
    ("more than two thirds", {"2/3"}),
    ("أكثر من ثلثي السكان", {"2/3"}),
    ("last Saturday", {"d5"}),
    ("أمس السبت", {"d5"}),
])
def test_numbers_are_read_from_digits_words_months_and_days(text, expected):
    assert numbers(text) == expected


@pytest.mark.parametrize("claim, missing", [
    ("Lavrov and Kerry spoke by phone on 25 October.", []),
    ("Lavrov and Kerry spoke by phone on 15 October.", ["15"]),
    ("Lavrov and Kerry spoke by phone on 25 November.", ["m11"]),
    ("اتفق لافروف وكيري يوم ٢٥ تشرين الأول", []),
    ("They spoke last Tuesday.", ["d1"]),
    ("They talked about two proposals.", []),  # "two" in words: Arabic says it with a dual noun
])
def test_every_number_in_a_claim_must_be_in_the_source(claim, missing):
    assert missing_numbers(claim, KERRY) == missing


def test_latin_names_match_their_arabic_spelling():
    assert skeleton("Kerry") == skeleton("كيري")
    assert skeleton("Lavrov") == skeleton("لافروف")
    assert missing_names("Sergei Lavrov and John Kerry agreed to let Staffan de Mistura keep going.", KERRY) == []
    assert missing_names("Russian and American ministers spoke about Syria.", KERRY) == []


@pytest.mark.parametrize("claim, name", [
    ("Lavrov and the French minister Laurent Fabius agreed.", "Fabius"),
    ("Lavrov said it; Bogdanov agreed.", "Bogdanov"),
    ("Kerry agreed with Lavrov in Egypt.", "Egypt"),  # an exonym: through the gazetteer, not the skeleton
])
def test_a_name_the_source_lacks_is_caught(claim, name):
    assert name in missing_names(claim, KERRY)


def test_arabic_places_peoples_and_given_names():
    assert missing_arabic_names("اتفق لافروف ووزير الخارجية الفرنسي", KERRY) == ["الفرنسي"]
    assert missing_arabic_names("اتفق الوزيران الروسي والأمريكي", KERRY) == []
    assert missing_arabic_names("رفضت دمشق ذلك", "لكن سوريا رفضت كليا") == []  # a capital stands for its state
    assert missing_arabic_names("تزوجت من الملحن عمرو مصطفى", "تزوجت شيرين من الملحن محمد مصطفى") == ["عمرو"]


def test_negation_flips_are_caught_and_paraphrased_negation_is_not():
    src = "قال ريابكوف إن موسكو مستعدة لدراسة مقترح أميركي ولكنها لم تتبلغ رسميا ذلك."
    assert check("قال ريابكوف إن موسكو ترفض دراسة المقترح الأميركي", src) == ["negation"]
    assert check("Moscow has not officially received the US proposal, Ryabkov said.", src) == []
    assert check("Syria agreed to include Aleppo.", "لكن سوريا رفضت كليا وضع ملف معركة حلب") == ["negation"]
    assert check("The UN envoy refused the plan.", "فأجاب المبعوث الدولي انه موافق على التعاون") == ["negation"]


def test_names_written_in_several_words_are_entities():
    # Written-out bodies and countries no single word gives away.
    assert missing_arabic_names("تستضيف بلجيكا مقر الأمم المتحدة", "تستضيف بلجيكا مقر الاتحاد الأوروبي") == ["الامم المتحده"]
    assert missing_arabic_names("تستضيف بلجيكا مقر الاتحاد الأوروبي", "بلجيكا وتستضيف مقر الاتحاد الأوروبي") == []
    # Another form of the same name is no new name: the table's forms, a country's capital and adjective.
    assert missing_arabic_names("قالت الولايات المتحدة ذلك", "قالت واشنطن ذلك") == []
    assert missing_arabic_names("قالت أمريكا ذلك", "قال المسؤول الأمريكي في الولايات المتحدة") == []
    assert missing_arabic_names("قرار حلف شمال الأطلسي", "قرار الناتو") == []
    assert missing_arabic_names("زار أبو ظبي", "زار أبوظبي") == []
    assert missing_arabic_names("توجه إلى الأمم المتحدة", "رسالة للأمم المتحدة") == []  # ل + ال glued
    # A calendar term is no name: "قبل الميلاد" for "ق.م" is the number check's business.
    assert missing_arabic_names("ألفت قبل الميلاد", "ألفت سنة 140 ق.م") == []


@pytest.mark.parametrize("claim, source, flips", [
    ("The US proposal would allow the Syrian air force to attack the opposition.",
     "ومنع القوات الجوية السورية من مهاجمة جماعات المعارضة المعتدلة.", True),
    ("After his execution the revolts died down.", "فقد ارتفعت حدة الثورات، وطردت القوات الإيطالية.", True),
    ("Russia and the US fully trust each other.", "هناك أزمة ثقة روسية أميركية.", True),
    ("تراجعت أسعار النفط أمس.", "ارتفعت أسعار النفط أمس.", True),
    ("فشلت المفاوضات.", "نجحت المفاوضات في التوصل إلى اتفاق.", True),
    ("The driver survived the attack.", "قتل السائق في الهجوم.", True),
    # Same side, or both sides in the source, or a denial the negation check judges: no flip.
    ("Oil prices rose yesterday.", "ارتفعت أسعار النفط أمس.", False),
    ("The proposal would prevent the air force from attacking.", "ومنع القوات الجوية السورية من مهاجمة.", False),
    ("Prices rose.", "ارتفعت الأسعار ثم تراجعت.", False),
    ("Prices did not fall.", "ارتفعت الأسعار.", False),
    ("There is a crisis of trust between them.", "هناك أزمة ثقة روسية أميركية.", False),
    ("يمكن للطلاب التسجيل.", "منع الطلاب من التسجيل.", False),  # يمكن ("can") is no side
    # Whole words only: أهداف ("goals") is no هدأ ("calmed"), "successor" no "success", "authority" no "authorise".
    ("Prices fell.", "سجل الفريق أهدافا كثيرة وارتفعت معنوياته.", True),
    ("Goals rose.", "سجل الفريق أهدافا كثيرة.", False),
    ("His successor was killed.", "أعلن نجاح الخطة.", False),
    ("The authority banned it.", "سمحت السلطة بذلك.", True),
    ("The authorities met.", "منعت السلطة ذلك.", False),
])
def test_opposite_predicates_flip_a_claim(claim, source, flips):
    assert says_opposite(claim, source) is flips
    assert ("opposite" in check(claim, source)) is flips


def test_the_claim_set_is_well_formed_and_split_by_article():
    claims = load_claims(__import__("pathlib").Path("eval/gold/claims.jsonl"))
    assert len(claims) >= 240
    assert sum(c.supported for c in claims) == len(claims) // 2
    assert sum(c.origin == "seed" for c in claims) <= len(claims) / 3
    assert {c.claim_lang for c in claims} == {"ar", "en"}
    by_article: dict[str, set] = {}
    for c in claims:
        by_article.setdefault(c.source_ref.rsplit("-p", 1)[0].split("#")[0], set()).add(c.split)
    assert all(len(s) == 1 for s in by_article.values())
    assert split_of("arcd:arcd-a0000-p001#s1") == split_of("arcd:arcd-a0000-p000#s0")
