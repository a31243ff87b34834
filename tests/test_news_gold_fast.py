"""The news gold set (eval/gold/news.jsonl) and its judging, without a model or the archive."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from rag.evaluation.gold import GoldError, fold, words
from rag.evaluation.news import (
    ArchiveArticle,
    judge,
    load_news_gold,
    questions_for_index,
    read_rows,
    unanswerable_questions,
)

pytestmark = pytest.mark.fast

NEWS = Path(__file__).resolve().parents[1] / "eval" / "gold" / "news.jsonl"


def _row(i: int, evidence: str = "", answerable: bool = True, article: str = "a1", lang: str = "ar", **kw) -> dict:
    r = {"id": f"q{i}", "question": f"سؤال رقم {i} عن الخبر؟", "lang": lang, "article_id": article,
         "evidence": evidence, "answer": "جواب" if answerable else "", "answerable": answerable,
         "outlet": "okaz", "date": "2015-07-21"}
    return {**r, **kw}


# ---------------------------------------------------------------- the committed gold file

def test_gold_file_sizes_languages_and_unanswerables():
    rows = load_news_gold(NEWS)
    langs = Counter(r["lang"] for r in rows)
    assert len(rows) >= 150 and langs["ar"] >= 90 and langs["en"] >= 40
    assert sum(not r["answerable"] for r in rows) >= 20
    assert len({r["question"] for r in rows}) == len(rows), "a question is repeated"
    assert len({r["article_id"] for r in rows}) >= 100 and len({r["outlet"] for r in rows}) >= 12


def test_gold_rows_are_judged_and_hold_only_short_quotes():
    for r in load_news_gold(NEWS):
        if r["answerable"]:
            n = len(words(r["evidence"]))
            assert 4 <= n <= 40, (r["id"], n)  # a short quote, never article text
            assert r["answer"].strip()
            # its own article is among the relevant ones; ids and URLs are aligned
            assert r["article_id"] in r["relevant_article_ids"], r["id"]
            assert len(r["relevant_urls"]) == len(r["relevant_article_ids"])
            assert fold(r["answer"]) and r["evidence"] == r["evidence"].strip()
        else:
            assert r["evidence"] == "" and r["check_keys"], r["id"]
            # keyword hits in the archive were read by a person, who said why they do not answer the question
            assert not r["check_hits"] or r.get("check_note"), r["id"]
        assert set(r) <= {"id", "question", "lang", "article_id", "evidence", "answer", "answerable", "outlet",
                          "date", "relevant_article_ids", "relevant_urls", "check_keys", "check_hits",
                          "check_note"}, r["id"]


def test_english_questions_are_in_english():
    for r in load_news_gold(NEWS):
        has_arabic = any("\u0600" <= ch <= "\u06ff" for ch in r["question"])
        assert has_arabic == (r["lang"] == "ar"), r["id"]


# ---------------------------------------------------------------- schema errors

def test_malformed_rows_fail_loudly_naming_the_row(tmp_path):
    bad = tmp_path / "bad.jsonl"
    rows = [_row(1, "قال الوزير إن المشروع سينتهي قريبا"), _row(2, "ثلاث كلمات فقط"),
            _row(3, answerable=False), {**_row(4, "نص الدليل هنا من الخبر نفسه"), "lang": "fr"},
            _row(1, "قال الوزير إن المشروع سينتهي قريبا")]
    bad.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    with pytest.raises(GoldError) as exc:
        read_rows(bad)
    msg = str(exc.value)
    assert "(q2): answerable but the evidence quote has under 4 words" in msg
    assert "(q3): unanswerable without check_keys" in msg
    assert "(q4): lang must be" in msg and "(q1): duplicate id" in msg


def test_an_unjudged_file_is_refused_with_the_command_to_judge_it(tmp_path):
    f = tmp_path / "raw.jsonl"
    f.write_text(json.dumps(_row(1, "قال الوزير إن المشروع سينتهي قريبا"), ensure_ascii=False) + "\n",
                 encoding="utf-8")
    with pytest.raises(GoldError, match="judge_news_gold.py"):
        load_news_gold(f)


# ---------------------------------------------------------------- judging on a tiny archive

ARCHIVE = [
    ArchiveArticle("a1", "http://okaz/1", "أعلنت الهيئة أن المسح شمل 160 عينة من الزيوت. وأضافت أن النتائج سليمة."),
    # the same story in another outlet, spelled with hamza, diacritics and a line break
    ArchiveArticle("a2", "http://alyaum/9", "أَعلنت الهيئة أنّ المسح شمل\n160 عينة من الزيوت، وفق البيان."),
    ArchiveArticle("a3", "http://sabq/5", "خبر آخر عن الزيوت لا يذكر عدد العينات ولا المختبر."),
]


def test_judge_finds_every_article_holding_the_evidence_after_normalisation():
    rows = [_row(1, "إن المسح شمل 160 عينة"),  # note: إن vs أن, folded to the same form
            _row(2, article="a3", answerable=False, check_keys=["المختبر", "عدد العينات"],
                 check_note="the hit is the story itself"),
            _row(3, article="a3", answerable=False, check_keys=["مختبر التحاليل"])]
    rows[0]["evidence"] = "أن المسح شمل 160 عينة"
    out = {r["id"]: r for r in judge(rows, ARCHIVE)}
    assert out["q1"]["relevant_article_ids"] == ["a1", "a2"]
    assert out["q1"]["relevant_urls"] == ["http://okaz/1", "http://alyaum/9"]
    assert out["q2"]["check_hits"] == ["a3"] and out["q3"]["check_hits"] == []


def test_judge_fails_loudly_on_a_quote_missing_from_its_article_or_an_unexplained_keyword_hit():
    with pytest.raises(GoldError, match="q1: evidence not found in its article a3"):
        judge([_row(1, "أن المسح شمل 160 عينة", article="a3")], ARCHIVE)
    with pytest.raises(GoldError, match="q2: article zz is not in the archive"):
        judge([_row(2, "أن المسح شمل 160 عينة", article="zz")], ARCHIVE)
    with pytest.raises(GoldError, match="q3: unanswerable, but its check keys"):
        judge([_row(3, answerable=False, check_keys=["الزيوت"])], ARCHIVE)


# ---------------------------------------------------------------- matching an index

def test_questions_for_index_match_by_archive_id_or_url_and_count_what_is_missing():
    rows = judge([_row(1, "أن المسح شمل 160 عينة"), _row(2, "لا يذكر عدد العينات ولا المختبر", article="a3"),
                  _row(3, "وأضافت أن النتائج سليمة", lang="en"),
                  _row(4, article="a3", answerable=False, check_keys=["مختبر التحاليل"])], ARCHIVE)
    # an index that gave its articles ids of its own (content hashes) but kept the URLs, and lacks a3
    cov = questions_for_index(rows, [("h-111", "http://okaz/1"), ("h-222", "http://alyaum/9")])
    assert [q.id for q in cov.questions] == ["q1", "q3"] and cov.not_indexed == ["q2"]
    assert cov.questions[0].relevant_articles == {"h-111", "h-222"}
    assert cov.questions[1].relevant_articles == {"h-111"} and cov.questions[1].lang == "en"
    assert (cov.gold_articles, cov.gold_articles_missing, cov.unanswerable) == (2, 1, 1)
    # an index keeping the archive ids
    cov = questions_for_index(rows, [("a2", ""), ("a3", "")])
    assert cov.questions[0].relevant_articles == {"a2"} and cov.gold_articles_missing == 1  # a1 missing
    assert [q.id for q in unanswerable_questions(rows)] == ["q4"]
