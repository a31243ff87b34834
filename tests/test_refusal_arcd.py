"""The refusal gate on real retrieval (real embedding model, real FAISS): an ARCD train question is answered over
its article, and refused once its own paragraph is masked out (same article, same topic, answer gone)."""
from __future__ import annotations

from dataclasses import replace

from helpers import shared_data

from rag.evaluation.metrics import contains_answer
from rag.evaluation.squad import Dataset, dataset_index, load_arcd
from rag.evaluation.unanswerable import article_group, excluding

# A held-out ARCD train question (its article was not used to fit the gate; scripts/fit_answerable.py).
QUESTION_ID = "713879275286"  # "لمن يعود اصل تسمية الموناليزا بهذا الاسم؟" → جورجيو فاساري


def test_own_paragraph_removed_question_is_refused_and_its_answerable_twin_answered(fresh_settings):
    from rag.sanad import Sanad

    full = load_arcd(shared_data("arcd-train"))
    q = next(x for x in full.questions if x.id == QUESTION_ID)
    group = article_group(q.article)
    # The question's whole article (every paragraph: the topic stays when its own one is masked) and a few others.
    keep = [a for a in full.articles if article_group(a.id) == group] + \
        [a for a in full.articles if article_group(a.id) != group][:12]
    ds = Dataset("arcd-mini", keep, [q])
    dataset_index(ds, fresh_settings)
    sanad = Sanad(replace(fresh_settings, index_name="arcd-mini"))

    a = sanad.answer(q.question)
    assert not a.refused, a.refusal_reason
    assert contains_answer(a.text, q.answers), a.text

    with excluding(sanad.retriever, {q.article}):
        removed = sanad.answer(q.question)
    assert removed.refused, removed.text
    assert q.article not in {h.passage.article_id for h in removed.passages}
