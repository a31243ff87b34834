"""`sanad eval retrieval|answers --news` over a small real index (real model) built from a few gold articles."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from helpers import shared_data
from typer.testing import CliRunner

from rag.evaluation.gold import fold

NEWS = Path(__file__).resolve().parents[1] / "eval" / "gold" / "news.jsonl"


@pytest.fixture(scope="module")
def news_slice(tmp_path_factory):
    """A gold subset (4 Arabic, 3 English answerable questions, 2 unanswerable, 1 whose article stays out) and a
    .jsonl.gz slice of the archive holding the articles of all but that last one."""
    archive = shared_data("saudinewsnet", "articles.jsonl.gz")
    rows = [json.loads(line) for line in NEWS.read_text(encoding="utf-8").splitlines()]
    ans = [r for r in rows if r["answerable"] and len(r["relevant_article_ids"]) == 1]
    pick = [r for r in ans if r["lang"] == "ar"][:4] + [r for r in ans if r["lang"] == "en"][:3]
    pick += [r for r in rows if not r["answerable"]][:2]
    wanted = {r["article_id"] for r in pick}
    left_out = next(r for r in ans if r["lang"] == "ar" and r["article_id"] not in wanted)
    folder = tmp_path_factory.mktemp("news")
    with gzip.open(archive, "rt", encoding="utf-8") as f:
        arts = [a for a in map(json.loads, f) if a["id"] in wanted]
    with gzip.open(folder / "slice.jsonl.gz", "wt", encoding="utf-8") as f:
        for a in arts:
            f.write(json.dumps(a, ensure_ascii=False) + "\n")
    gold = folder / "news-subset.jsonl"
    gold.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in [*pick, left_out]), encoding="utf-8")
    return folder, gold, pick, left_out, {a["id"]: a for a in arts}


@pytest.fixture(scope="module")
def news_env(news_slice, settings, tmp_path_factory):
    """SANAD_INDEX_NAME/DIR pointing at the slice's own index, built once with the real model."""
    from dataclasses import replace

    from rag import settings as settings_mod
    from rag.sanad import Sanad

    folder, *_ = news_slice
    index_dir = tmp_path_factory.mktemp("news-index")
    Sanad(replace(settings, index_dir=index_dir, index_name="newsgold")).build([folder / "slice.jsonl.gz"])
    mp = pytest.MonkeyPatch()
    mp.setenv("SANAD_INDEX_DIR", str(index_dir))
    mp.setenv("SANAD_INDEX_NAME", "newsgold")
    settings_mod.get_settings.cache_clear()
    yield index_dir
    mp.undo()
    settings_mod.get_settings.cache_clear()


def test_evidence_quotes_are_in_their_archive_articles(news_slice):
    _, _, pick, _, arts = news_slice
    for r in pick:
        if r["answerable"]:
            assert fold(r["evidence"]) in fold(arts[r["article_id"]]["text"]), r["id"]


def test_retrieval_eval_over_the_current_index_judges_by_article(news_slice, news_env, tmp_path):
    from rag.cli import app

    _, gold, pick, left_out, _ = news_slice
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["eval", "retrieval", "--news", str(gold), "--methods", "dense,fused",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    # the missing article is counted and its question is not evaluated; unanswerables are not ranked
    n_articles = len({r["article_id"] for r in pick if r["answerable"]}) + 1
    assert f"1 of the {n_articles} gold articles are not in index 'newsgold'" in res.output
    assert "evaluating the 7 of 8 answerable questions" in res.output
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    ids = {q["id"] for q in data["questions"]}
    assert ids == {r["id"] for r in pick if r["answerable"]} and left_out["id"] not in ids
    fused = data["summary"]["fused"]
    assert fused["ar"]["n"] == 4 and fused["en"]["n"] == 3
    # 7 articles in the index: each question's own article should come first or nearly
    assert fused["ar"]["R@5"] == 1.0 and fused["en"]["R@5"] >= 2 / 3
    assert fused["all"]["MRR@10"] >= 0.6


def test_answers_eval_counts_refusals_on_the_unanswerable_news_questions(news_slice, news_env, tmp_path):
    from rag.cli import app

    _, gold, *_ = news_slice
    out = tmp_path / "answers"
    res = CliRunner().invoke(app, ["eval", "answers", "--backend", "extractive", "--news", str(gold),
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    s = data["summary"]["all"]
    assert s["errors"] == 0 and s["answerable"] == 7 and s["unanswerable"] == 2
    assert s["evidence_recall"] >= 0.5  # cited passages judged by article
