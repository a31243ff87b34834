"""The evaluation suite: metrics against hand-computed values, the gold validator, the SQuAD loader, and real
eval runs over the bundled seeds (retrieval, and cited answers with the extractive backend)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.evaluation.gold import (
    GoldQuestion,
    check_gold,
    contains_quote,
    is_relevant,
    load_gold,
)
from rag.evaluation.metrics import (
    best_f1,
    contains_answer,
    ranked_run,
    ranx_evaluate,
    token_f1,
)
from rag.evaluation.runner import score_answer, summarise_answers, summarise_retrieval
from rag.evaluation.squad import load_arcd, load_squad
from rag.evaluation.tuning import suggest_threshold
from rag.types import Answer, Citation, Hit, Passage

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEEDS_GOLD = ROOT / "eval" / "gold" / "seeds.jsonl"


def _passage(pid: str, text: str, article: str = "a1") -> Passage:
    return Passage(id=pid, article_id=article, title="t", text=text, ordinal=0, start=0, end=len(text))


# ---------------------------------------------------------------- metrics (hand-computed)

def test_ranking_metrics_match_hand_computed_values():
    qrels = {"q1": {"d1": 1}, "q2": {"d3": 1, "d4": 1}, "q3": {"d9": 1}}
    run = {"q1": ranked_run(["d2", "d1", "d3"]), "q2": ranked_run(["d3", "d5", "d4"]), "q3": ranked_run(["d1", "d2"])}
    res = ranx_evaluate(qrels, run, ["hit_rate@1", "hit_rate@5", "mrr@10", "ndcg@10"])
    # q1: first relevant at rank 2; q2: ranks 1 and 3 (2 relevant); q3: never.
    ndcg_q1 = 1 / math.log2(3)
    ndcg_q2 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert res["hit_rate@1"] == pytest.approx(1 / 3)
    assert res["hit_rate@5"] == pytest.approx(2 / 3)
    assert res["mrr@10"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert res["ndcg@10"] == pytest.approx((ndcg_q1 + ndcg_q2 + 0) / 3)


def test_summary_groups_by_language_and_skips_unanswerable():
    qs = [GoldQuestion("q1", "x", "ar"), GoldQuestion("q2", "y", "en"), GoldQuestion("q3", "z", "en", answerable=False)]
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 1}}
    runs = {"dense": {"q1": ranked_run(["d1", "d2"]), "q2": ranked_run(["d1", "d3", "d2"]), "q3": ranked_run(["d1"])}}
    s = summarise_retrieval(qs, qrels, runs, ["dense"])
    assert s["summary"]["dense"]["all"]["n"] == 2
    assert s["summary"]["dense"]["ar"]["MRR@10"] == pytest.approx(1.0)
    assert s["summary"]["dense"]["en"]["MRR@10"] == pytest.approx(1 / 3, abs=1e-4)  # summaries are rounded to 4 places
    assert s["summary"]["dense"]["en"]["R@1"] == 0 and s["summary"]["dense"]["en"]["R@5"] == 1
    assert s["curves"]["dense"]["all"][:3] == [0.5, 0.5, 1.0]


def test_ranked_run_keeps_order_and_first_occurrence():
    r = ranked_run(["a", "b", "a", "c"])
    assert list(r) == ["a", "b", "c"] and r["a"] > r["b"] > r["c"]


def test_token_f1_and_containment_after_normalisation():
    # prediction 4 words, truth 2 words, 2 shared: P=2/4, R=1, F1=2/3
    assert token_f1("وصل الوفد إلى جنيف", "إلى جنيف") == pytest.approx(2 / 3)
    assert token_f1("abc", "xyz") == 0.0
    assert best_f1("Staffan de Mistura", ["x", "Staffan de Mistura"]) == 1.0
    # alef/hamza/ta-marbuta and diacritics folded; punctuation ignored
    assert contains_answer("قال: إنَّ المدينةَ آمنة.", ["ان المدينه امنه"])
    assert not contains_answer("قال شيئا آخر", ["المدينة"])
    assert not contains_answer("lavrovsky", ["lavrov"])  # whole words only


def test_relevance_by_evidence_including_a_straddling_quote():
    quote = "وعارضت موسكو انخراط حلف الناتو في سوريا مشيرة الى انها البلد الوحيد الذي يعمل في سوريا كقوة عسكرية"
    whole = _passage("p1", "مقدمة. " + quote.replace("انها", "أنها") + ". خاتمة")
    tail = _passage("p2", "الى انها البلد الوحيد الذي يعمل في سوريا كقوة عسكرية بناء على موافقة الحكومة")  # 11/19 words
    head = _passage("p3", "كلام آخر ثم وعارضت موسكو انخراط حلف")  # 5/19 words
    g = GoldQuestion("g", "?", "ar", evidence=[quote])
    assert is_relevant(whole, g) and is_relevant(tail, g) and not is_relevant(head, g)
    # short quotes (under 8 words) count only when whole
    assert contains_quote("قال الوزيرُ كلاما", "الوزير") and not contains_quote("قال الوزير امس", "الوزير كلاما")
    by_article = GoldQuestion("s", "?", "ar", relevant_articles={"a1"})
    assert is_relevant(whole, by_article) and not is_relevant(_passage("x", "t", article="a2"), by_article)


def approx(x):
    return pytest.approx(x, abs=1e-4)  # summaries are rounded to 4 places


def test_answer_metrics_on_hand_made_answers():
    ev = "اتفق الوزيران على ترك المبعوث الدولي يتحرك"
    gold_p = _passage("p1", "مقدمة الخبر. " + ev + ".")
    other_p = _passage("p2", "خبر آخر عن الطقس اليوم.")
    hits = [Hit(gold_p, 1.0, dense=0.9, rank=1), Hit(other_p, 0.5, dense=0.8, rank=2)]
    q = GoldQuestion("q1", "على ماذا اتفق الوزيران؟", "ar", answers=["ترك المبعوث الدولي يتحرك"], evidence=[ev])
    a = Answer(text="اتفقا على ترك المبعوث الدولي يتحرك [1]، والطقس معتدل [2] [3].", language="ar", passages=hits,
               citations=[Citation(1, "p1", "t", ev, 13, 13 + len(ev)),
                          Citation(2, "p2", "t", "خبر آخر عن الطقس اليوم", 0, 20),
                          Citation(3, "p9", "t", "غير موجود", 0, 9)])  # p9 was never shown: invalid
    r = score_answer(q, a, 0.2)
    assert [c["valid"] for c in r["citations"]] == [True, True, False]
    assert [c["gold_evidence"] for c in r["citations"]] == [True, False, False]
    assert r["correct"] and r["evidence_hit"] and r["first_relevant_shown"] == 1
    una = GoldQuestion("q2", "كم عدد الضحايا؟", "ar", answerable=False)
    refused = score_answer(una, Answer(text="لا أجد", language="ar", refused=True), 0.1)
    not_refused = score_answer(una, Answer(text="عشرة", language="ar", passages=hits), 0.3)
    wrong_refusal = score_answer(q, Answer(text="لا أجد", language="ar", refused=True), 0.4)
    s = summarise_answers([r, refused, not_refused, wrong_refusal])["all"]
    assert s["citation_validity"] == approx(2 / 3)
    assert s["citation_precision"] == approx(1 / 3)
    assert s["evidence_recall"] == approx(1 / 2)
    assert s["answer_contains_gold"] == approx(1 / 2)
    assert s["refusal_precision"] == approx(1 / 2)  # 2 refusals, 1 of them on an unanswerable question
    assert s["refusal_recall"] == approx(1 / 2)  # 2 unanswerable, 1 refused
    assert s["false_refusals"] == 1
    assert s["latency_p50_s"] == approx(0.25)


def test_threshold_suggestion_separates_scores():
    rows = [{"answerable": True, "top_dense": v} for v in (0.85, 0.88, 0.9)] + \
           [{"answerable": False, "top_dense": v} for v in (0.78, 0.80, 0.86)]
    best = suggest_threshold(rows)
    assert best["threshold"] == pytest.approx(0.825)  # between 0.80 and 0.85: 3/3 kept, 2/3 refused
    assert best["balanced_accuracy"] == approx((1 + 2 / 3) / 2)


# ---------------------------------------------------------------- gold files

def test_seed_gold_is_valid():
    count, problems = check_gold(SEEDS_GOLD)
    assert problems == [] and count >= 90
    qs = load_gold(SEEDS_GOLD)
    assert sum(q.lang == "ar" for q in qs) >= 45 and sum(q.lang == "en" for q in qs) >= 35
    assert sum(not q.answerable for q in qs) >= 10


def test_gold_validator_catches_a_broken_quote_and_a_missing_field(tmp_path):
    rows = [json.loads(line) for line in SEEDS_GOLD.read_text(encoding="utf-8").splitlines()[:5]]
    target = next(r for r in rows if r["answerable"])
    target["evidence"][0] = target["evidence"][0].replace(target["evidence"][0].split()[1], "كلمةغريبة", 1)
    del rows[-1]["article"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    count, problems = check_gold(bad)
    assert count == 5 and len(problems) == 2
    assert f"bad.jsonl:1 ({target['id']})" in problems[0] and "evidence quote not found" in problems[0]
    assert f"({rows[-1]['id']})" in problems[1] and "missing field 'article'" in problems[1]

    from rag.cli import app

    res = CliRunner().invoke(app, ["eval", "check-gold", str(bad)])
    assert res.exit_code == 1 and target["id"] in res.output
    ok = CliRunner().invoke(app, ["eval", "check-gold", str(SEEDS_GOLD)])
    assert ok.exit_code == 0, ok.output


def test_validator_compares_after_normalisation(tmp_path):
    row = json.loads(SEEDS_GOLD.read_text(encoding="utf-8").splitlines()[0])
    quote = row["evidence"][0]
    row["evidence"] = ["  " + quote.replace("ا", "أ", 1).replace(" ", "\n  ", 1)]  # spelling + whitespace only
    f = tmp_path / "g.jsonl"
    f.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    assert check_gold(f)[1] == []


# ---------------------------------------------------------------- SQuAD / ARCD loaders

def test_squad_loader_round_trips_the_fixture():
    ds = load_squad(FIXTURES / "squad_small.json", FIXTURES / "squad_small_en.json")
    assert [a.title for a in ds.articles] == ["نهر النيل", "قهوة"]
    src = json.loads((FIXTURES / "squad_small.json").read_text(encoding="utf-8"))
    assert [a.text for a in ds.articles] == [p["context"] for d in src["data"] for p in d["paragraphs"]]
    ar = [q for q in ds.questions if q.lang == "ar"]
    en = [q for q in ds.questions if q.lang == "en"]
    assert [q.id for q in ar] == ["nile-1", "nile-2", "coffee-1"]
    assert [q.id for q in en] == ["nile-1:en", "nile-2:en", "coffee-1:en"]
    assert ar[1].question == "من أين ينبع نهر النيل؟"  # leading "- " dropped
    assert ar[0].relevant_articles == {ds.articles[0].id} == en[0].relevant_articles
    assert ar[2].relevant_articles == {ds.articles[1].id}
    for q in ar:  # every gold answer is inside its context
        ctx = next(a.text for a in ds.articles if a.id in q.relevant_articles)
        assert all(ans in ctx for ans in q.answers)
    assert en[0].answers == ar[0].answers  # aligned questions keep the gold answers
    again = load_squad(FIXTURES / "squad_small.json")
    assert [a.id for a in again.articles] == [a.id for a in ds.articles]  # stable context ids


def test_squad_eval_builds_a_dataset_index_and_finds_the_contexts(fresh_settings):
    from rag.evaluation.runner import evaluate_retrieval
    from rag.evaluation.squad import dataset_index

    ds = load_squad(FIXTURES / "squad_small.json", FIXTURES / "squad_small_en.json", name="squad-small")
    retriever, missing = dataset_index(ds, fresh_settings)
    assert missing == [] and (fresh_settings.index_dir / "squad-small" / "manifest.json").exists()
    res = evaluate_retrieval(ds.questions, retriever, ["bm25", "dense", "fused"], k=2)
    assert res["summary"]["dense"]["all"]["n"] == 6
    assert res["summary"]["fused"]["ar"]["R@1"] == 1.0
    assert res["summary"]["dense"]["en"]["R@1"] == 1.0
    again, _ = dataset_index(ds, fresh_settings)  # reused, not rebuilt
    assert again.index.manifest["updated"] == retriever.index.manifest["updated"]


def test_arcd_loader_reads_the_shared_split():
    from helpers import shared_data

    folder = shared_data("arcd-train")
    ds = load_arcd(folder, ROOT / "eval" / "gold" / "arcd_en20.jsonl")
    assert len(ds.articles) == 231 and len([q for q in ds.questions if q.lang == "ar"]) == 693
    en = [q for q in ds.questions if q.lang == "en"]
    assert len(en) == 20 and all(q.id.endswith(":en") for q in en)
    assert not any(q.question.startswith("-") for q in ds.questions)


# ---------------------------------------------------------------- real runs on the seeds

def _outputs_ok(out: Path) -> dict:
    assert (out / "results.json").exists() and (out / "summary.md").exists()
    assert list(out.glob("*.png")), "no plot written"
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def test_retrieval_eval_on_the_seeds_writes_the_report_and_compare_works(retriever, tmp_path):
    from rag.cli import app

    out = tmp_path / "run-a"
    res = CliRunner().invoke(app, ["eval", "retrieval", "--methods", "bm25,dense,fused", "--cache-queries",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    data = _outputs_ok(out)
    assert len(data["questions"]) == len(load_gold(SEEDS_GOLD))
    fused = data["summary"]["fused"]
    assert fused["ar"]["R@5"] >= 0.9 and fused["en"]["R@10"] >= 0.75
    # the fused ranking never loses to dense alone for English questions (BM25 gets no cross-language vote)
    assert fused["en"]["MRR@10"] >= data["summary"]["dense"]["en"]["MRR@10"] - 1e-9
    assert "| fused | ar |" in (out / "summary.md").read_text(encoding="utf-8")

    # compare against a copy where one question got worse
    worse = json.loads((out / "results.json").read_text(encoding="utf-8"))
    q = next(q for q in worse["questions"] if q["answerable"] and q["methods"]["fused"]["rank"] == 1)
    q["methods"]["fused"]["rank"] = None
    (tmp_path / "run-b").mkdir()
    (tmp_path / "run-b" / "results.json").write_text(json.dumps(worse, ensure_ascii=False), encoding="utf-8")
    cmp = CliRunner().invoke(app, ["eval", "compare", str(out), str(tmp_path / "run-b")])
    assert cmp.exit_code == 0, cmp.output
    assert "0 better, 1 worse" in cmp.output and q["id"] in cmp.output


def test_answers_eval_with_the_extractive_backend(retriever, tmp_path):
    from rag.cli import app

    rows = [json.loads(line) for line in SEEDS_GOLD.read_text(encoding="utf-8").splitlines()]
    pick = [r for r in rows if r["lang"] == "ar" and r["answerable"]][:6] + \
           [r for r in rows if r["lang"] == "en" and r["answerable"]][:6] + [r for r in rows if not r["answerable"]][:4]
    gold = tmp_path / "subset.jsonl"
    gold.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in pick) + "\n", encoding="utf-8")
    out = tmp_path / "answers"
    res = CliRunner().invoke(app, ["eval", "answers", "--backend", "extractive", "--gold", str(gold), "--out", str(out)])
    assert res.exit_code == 0, res.output
    data = _outputs_ok(out)
    s = data["summary"]["all"]
    assert s["n"] == 16 and s["errors"] == 0, [q.get("error") for q in data["questions"]]
    assert s["citation_validity"] >= 0.9  # the extractive backend quotes the passages it cites
    assert s["evidence_recall"] >= 0.5
