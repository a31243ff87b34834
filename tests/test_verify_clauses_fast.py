"""Verification rules added for the labelled claim set (issue 10): the invented-name rule spares inflections,
number words and title words but still catches names; a claim is also matched against a sentence's clauses,
and one that matches a negated clause without negating is rejected. No model: a toy embedder stands in."""
from __future__ import annotations

import numpy as np
import pytest

from rag.answering import support, verify as verify_mod
from rag.answering.evidence import SentenceVectors
from rag.answering.verify import clause_support, invented_name, verify
from rag.text import arabic
from rag.types import Hit, Passage

pytestmark = pytest.mark.fast


def _pieces(word: str) -> int:  # a long word the vocabulary splits finely
    return 4 if len(word) >= 6 else 2


def test_invented_name_spares_inflections_number_words_and_listed_names():
    src = "وتقسم مصر إداريا إلى 27 محافظة بسبب أزمة ثقة تمنع تعاون عسكري حقيقي"
    known = set(arabic.analyze(src))
    assert invented_name("تتكون مصر من سبع وعشرين محافظة", known, lambda w: 2, src) == []  # number words
    assert invented_name("أزمة ثقة تمنع تعاونا عسكريا", known, lambda w: 2, src) == []  # inflections
    # Without the sources the old rule flagged them: the refinement is what keeps these paraphrases.
    assert invented_name("أزمة ثقة تمنع تعاونا عسكريا", known, lambda w: 2) != []


def test_invented_name_still_catches_a_substituted_name():
    src = "أعلن غينادي غاتيلوف نائب وزير الخارجية الروسي أن دي ميستورا سيزور موسكو"
    known = set(arabic.analyze(src))
    assert invented_name("أعلن ريكس تيلرسن أن دي ميستورا سيزور موسكو", known, lambda w: 2, src) == ["ريكس", "تيلرسن"]
    # One long foreign word without the article, split finely by the vocabulary, is a name too.
    src = "وعرض المسلسل لأول مرة على HBO في الولايات المتحدة"
    known = set(arabic.analyze(src))
    assert invented_name("عرض المسلسل لأول مرة على نتفليكس", known, _pieces, src) == ["نتفليكس"]
    assert verify_mod.RARE_PIECES == 4


def test_clauses_split_at_turns_and_however_is_no_negation():
    s = ("ويرى الجانب الفرنسي أن إدارة ترامب مهتمة فقط بمكافحة الإرهاب في سورية "
         "وليست مهتمة بالحل للوضع الداخلي في سورية")
    assert support.clauses(s) == ["ويرى الجانب الفرنسي أن إدارة ترامب مهتمة فقط بمكافحة الإرهاب في سورية",
                                  "وليست مهتمة بالحل للوضع الداخلي في سورية"]
    assert not support.negated("غير أنها انفصلت عنه بعد خمس سنوات")
    assert support.negated("غير مهتمة بالحل")


class ToyEmbedder:
    """Vectors by keyword: a text about the settlement points one way, one about terrorism another."""
    model_id, dim = "toy", 3

    def _vec(self, t: str) -> np.ndarray:
        v = np.array([("بالحل" in t or "settlement" in t) * 1.0, ("الإرهاب" in t or "terrorism" in t) * 1.0, 0.6])
        return v / np.linalg.norm(v)

    def embed_queries(self, texts):
        return np.stack([self._vec(t) for t in texts])

    def embed_passages(self, texts, batch_size=32, progress=None):
        return np.stack([self._vec(t) for t in texts]) * 0.999

    def count_tokens(self, text):
        return 2


SOURCE = ("ويرى الجانب الفرنسي أن إدارة ترامب مهتمة فقط بمكافحة الإرهاب في سورية "
          "وليست مهتمة بالحل للوضع الداخلي في سورية.")


def test_a_claim_matching_a_negated_clause_without_negating_is_rejected():
    emb = ToyEmbedder()
    sents = [type("S", (), {"text": SOURCE})()]
    q = emb.embed_queries(["The Trump administration is interested in a settlement in Syria."])[0]
    _, passes = clause_support("The Trump administration is interested in a settlement in Syria.", q, sents,
                               np.array([0.9]), np.array([True]), np.array([0.0]), False, emb)
    assert not passes[0]
    q = emb.embed_queries(["The Trump administration is interested only in fighting terrorism."])[0]
    _, passes = clause_support("The Trump administration is interested only in fighting terrorism.", q, sents,
                               np.array([0.9]), np.array([True]), np.array([0.0]), False, emb)
    assert passes[0]


def test_verify_drops_the_flipped_claim_and_keeps_the_faithful_one():
    p = Passage(id="p", article_id="a", title="خبر", text=SOURCE, ordinal=0, start=0, end=len(SOURCE))
    vecs = SentenceVectors(ToyEmbedder())
    assert verify("The Trump administration is interested only in fighting terrorism [1].", [Hit(p, 1.0)],
                  vecs).citations
    assert not verify("The Trump administration is interested in a settlement in Syria [1].", [Hit(p, 1.0)],
                      vecs).citations
