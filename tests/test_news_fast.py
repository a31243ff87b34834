"""News archive features without a model: gzip JSONL reading, dates, filters, recency, same-story folding,
and how source cards show outlet, date and link."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from rag.errors import QueryError
from rag.ingest import corpus
from rag.ingest.dates import iso_date, normalize_date
from rag.query import Filters, make_filters, wants_recent
from rag.search import fusion
from rag.storage.index import _article_from_dict
from rag.types import Answer, Hit, Passage
from ui import render

pytestmark = pytest.mark.fast

BODY = "أعلنت وزارة الصحة اليوم عن افتتاح مستشفى جديد في مدينة جدة بسعة خمسمائة سرير لخدمة المرضى."


def _row(i: int, **kw) -> dict:
    return {"id": f"snn-{i}", "title": f"خبر رقم {i}", "text": f"{BODY} الخبر رقم {i} " + "كلمة " * i,
            "source": "okaz", "url": f"http://okaz.com.sa/{i}", "date_extracted": "2015-07-21 02:51:32",
            "author": "جدة: محرر", **kw}


def _gz(path, rows) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------- dates and filters

@pytest.mark.parametrize("value, iso", [
    ("2015-07-21 02:51:32", "2015-07-21"), ("2015-07-21", "2015-07-21"), ("2015/7/1", "2015-07-01"),
    ("2015-08-03T10:00:00Z", "2015-08-03"), ("21/07/2015", "2015-07-21"), ("Tue, 21 Jul 2015 02:51:32 +0300",
                                                                            "2015-07-21"),
    ("2015-02-30", ""), ("yesterday", ""), ("", ""), ("12345", ""),
])
def test_iso_date(value, iso):
    assert iso_date(value) == iso


def test_unparseable_date_is_kept_as_given():
    assert normalize_date(" منتصف يوليو ") == "منتصف يوليو"
    assert normalize_date("2015-07-21 02:51:32") == "2015-07-21"


def test_make_filters_checks_and_normalises():
    f = make_filters("2015/7/1", "2015-07-31", ["Okaz", " aawsat ", "okaz", ""])
    assert f == Filters("2015-07-01", "2015-07-31", ("aawsat", "okaz"))
    assert make_filters(outlets="okaz، sabq").outlets == ("okaz", "sabq")  # Arabic comma from the UI box
    assert not make_filters(None, "", None)
    with pytest.raises(QueryError, match="not a date"):
        make_filters("last week")
    with pytest.raises(QueryError, match="ends"):
        make_filters("2015-08-01", "2015-07-01")


def test_filters_admit():
    f = Filters("2015-07-01", "2015-07-31", ("okaz",))
    assert f.admits("OKAZ", "2015-07-31")
    assert not f.admits("okaz", "2015-08-01")
    assert not f.admits("sabq", "2015-07-10")
    assert not f.admits("okaz", "")  # undated: fails a date limit
    assert Filters(outlets=("okaz",)).admits("okaz", "")


def test_recency_words():
    assert wants_recent("What is the latest news on Yemen?")
    assert wants_recent("ما آخر أخبار اليمن؟") and wants_recent("أحدث التطورات في سوق الأسهم")
    assert not wants_recent("Who won the match?") and not wants_recent("ما أخبار الطقس في الرياض")


# ---------------------------------------------------------------- fusion pieces

def test_candidates_mask():
    mask = np.array([True, False, True, False, True])
    assert fusion.candidates(np.array([3, 1]), np.array([4, 0, 1])).tolist() == [0, 1, 3, 4]
    assert fusion.candidates(np.array([3, 1]), np.array([4, 0, 1]), mask=mask).tolist() == [0, 4]


def test_recency_bonus_ranks_dates_and_ignores_undated():
    b = fusion.recency_bonus(np.array([100, 300, -1, 200, 300]), weight=0.5)
    assert b.tolist() == [0.0, 0.5, 0.0, 0.25, 0.5]
    assert fusion.recency_bonus(np.array([-1, -1])).tolist() == [0, 0]  # no dates: off
    assert fusion.recency_bonus(np.array([5, 5, -1])).tolist() == [0, 0, 0]  # one date: nothing to prefer


def test_fuse_bonus_reorders_close_scores_only():
    ids = np.array([0, 1, 2])
    dense = np.array([0.80, 0.79, 0.30], np.float32)
    bm = np.zeros(3, np.float32)
    elig = np.zeros(3, bool)
    assert [i for i, _ in fusion.fuse(ids, dense, bm, elig, 0.5)] == [0, 1, 2]
    bonus = fusion.recency_bonus(np.array([10, 20, 30]))
    assert [i for i, _ in fusion.fuse(ids, dense, bm, elig, 0.5, bonus)] == [1, 0, 2]


def test_fold_same_story():
    a = "وافق مجلس الأمن الدولي اليوم الاثنين على اتفاق يحد من برنامج إيران النووي مقابل رفع العقوبات تدريجيا"
    b = a + " في خطوة رحبت بها الدول الكبرى"
    c = "فاز الهلال على النصر بهدفين نظيفين في مباراة الديربي مساء أمس على ملعب الملك فهد الدولي"
    # b (another article) folds into a; c stays; a copy from the SAME article is not folded
    assert fusion.fold_same_story([a, c, b, a], ["x", "y", "z", "x"]) == [0, 1, 0, 3]
    assert fusion.jaccard(fusion.shingles(a), fusion.shingles(c)) < 0.1


# ---------------------------------------------------------------- gzip JSONL

def test_jsonl_gz_keeps_news_metadata(tmp_path):
    path = tmp_path / "archive.jsonl.gz"
    _gz(path, [_row(1), _row(2, source="aawsat", date_extracted=None, date="2015/8/2", author=["أ", "ب"])])
    res = corpus.load(path)
    assert res.skipped == []
    a, b = res.articles
    assert (a.source, a.date, a.url, a.author) == ("okaz", "2015-07-21", "http://okaz.com.sa/1", "جدة: محرر")
    assert (b.source, b.date, b.author) == ("aawsat", "2015-08-02", "أ ب")
    assert corpus.iter_files([tmp_path]) == [path]  # a folder walk picks .jsonl.gz up


def test_jsonl_gz_bad_rows_reported_with_line_numbers(tmp_path):
    path = tmp_path / "a.jsonl.gz"
    with gzip.open(path, "wb") as f:
        f.write(json.dumps(_row(1)).encode() + b"\n{broken\n" + b'{"title": "x"}\n' + b"\xff\xfe bad\n"
                + json.dumps(_row(5)).encode() + b"\n")
    res = corpus.load(path)
    assert len(res.articles) == 2
    where = [w for w, _ in res.skipped]
    assert where == ["a.jsonl.gz:2", "a.jsonl.gz:3", "a.jsonl.gz:4"], res.skipped


def test_corrupt_gzip_is_reported_not_raised(tmp_path):
    (tmp_path / "notgz.jsonl.gz").write_bytes(b"this is not gzip at all\n" * 10)
    good = gzip.compress("".join(json.dumps(_row(i)) + "\n" for i in range(1, 40)).encode())
    (tmp_path / "truncated.jsonl.gz").write_bytes(good[: len(good) // 2])
    damaged = bytearray(good)
    damaged[len(damaged) // 2: len(damaged) // 2 + 64] = b"\x00" * 64
    (tmp_path / "damaged.jsonl.gz").write_bytes(bytes(damaged))
    res = corpus.load([tmp_path])
    why = dict(res.skipped)
    assert why["notgz.jsonl.gz"] == "not gzip data"
    assert "truncated" in " ".join(v for k, v in res.skipped if k.startswith("truncated.jsonl.gz:"))
    assert any(k.startswith("damaged.jsonl.gz") for k in why)
    # the rows before the damage are kept
    assert sum(a.url.startswith("http://okaz") for a in res.articles) > 0


def test_gzip_limit_counts_decompressed_bytes(tmp_path, monkeypatch):
    path = tmp_path / "big.jsonl.gz"
    _gz(path, [_row(i) for i in range(1, 200)])
    assert path.stat().st_size < 20_000
    monkeypatch.setattr(corpus, "MAX_GZIP_BYTES", 20_000)
    res = corpus.load(path)
    assert 0 < len(res.articles) < 199
    assert any("more than" in why and "decompressed" in why for _, why in res.skipped), res.skipped


def test_old_article_records_still_load():
    a = _article_from_dict({"id": "x", "title": "t", "text": "body", "source": "s", "url": "", "date": ""})
    assert a.author == ""


# ---------------------------------------------------------------- source cards

def _answer(hit: Hit) -> Answer:
    return Answer(text="نص", language="ar", passages=[hit])


def _hit(**kw) -> Hit:
    p = Passage(id="p1", article_id="a1", title="عنوان", text=BODY, ordinal=0, start=0, end=len(BODY), source="okaz")
    return Hit(p, 1.0, dense=0.9, rank=1, **kw)


def test_card_shows_outlet_date_link_and_also_reported():
    html = render.render_answer(_answer(_hit(outlet="okaz", date="2015-07-21", url="https://okaz.com.sa/a?x=1&y=<2>",
                                             also=("aawsat", "sabq"))), "m1")
    assert "okaz" in html and "2015-07-21" in html
    assert 'href="https://okaz.com.sa/a?x=1&amp;y=&lt;2&gt;"' in html
    assert 'rel="noopener noreferrer"' in html
    assert "aawsat, sabq" in html


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JAVASCRIPT:alert(1)", " javascript:alert(1)",
                                 "data:text/html,<script>alert(1)</script>", "http://x.com/\"onmouseover=1",
                                 "//evil.example/x", "http://a b"])
def test_card_refuses_unsafe_links(url):
    html = render.render_answer(_answer(_hit(outlet="<b>okaz</b>", date="2015-07-21", url=url)), "m1")
    assert "href=\"javascript" not in html.lower() and "<script" not in html.lower() and "<b>okaz" not in html
    assert "sanad-src-link" not in html or url.startswith("http://x.com")
    if url.startswith("http://x.com"):
        assert '"onmouseover' not in html


def test_card_without_news_metadata_has_no_news_line():
    assert "sanad-src-news" not in render.render_answer(_answer(_hit()), "m1")
