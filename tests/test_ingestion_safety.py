"""Ingestion of hostile and awkward input (issue #8, items 5-7): sizes checked before reading, streamed JSONL/CSV,
bounded duplicate detection with progress, and nothing dropped without a reported reason. Real files, no model."""
from __future__ import annotations

import codecs
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from rag.ingest import corpus
from rag.settings import SEEDS_DIR

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parents[1]
BODY = ("أعلن المتحدث باسم وزارة الخارجية أن الوفد سيصل إلى جنيف يوم الخميس لبحث الملف السوري مع المبعوث "
        "الأممي، وأكد أن المحادثات ستتناول وقف إطلاق النار وإدخال المساعدات.")


def body(n: int) -> str:
    """A distinct article body (different numbers change its shingles)."""
    return BODY.replace("الخميس", f"الخميس {n}").replace("جنيف", f"جنيف {n * 7} مرة")


def reasons(result: corpus.LoadResult) -> dict[str, str]:
    return dict(result.skipped)


def _vocab() -> list[str]:
    words = set()
    for f in SEEDS_DIR.glob("*.txt"):
        words.update(w for w in f.read_text(encoding="utf-8").split() if w.isalpha())
    return sorted(words)


def random_text(n_words: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choices(_vocab(), k=n_words))


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def _peak_rss_of(code: str) -> dict:
    """Run `code` in a fresh interpreter; it prints one JSON line. Adds the peak RSS (MiB) of that process."""
    script = ("import json, resource, sys\nfrom pathlib import Path\nfrom rag.ingest import corpus\n"
              "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n" + code +
              "\nout['rss_mib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024"
              "\nout['base_mib'] = base / 1024\nprint(json.dumps(out, ensure_ascii=False))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env=_env(), cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- item 5: size before reading, streaming

@pytest.mark.process
def test_sparse_3gb_files_are_refused_before_reading(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("huge.txt", "huge.jsonl", "huge.csv"):
        with open(folder / name, "wb") as f:
            f.truncate(3 * 2**30)  # sparse: 3 GiB on paper, no disk used
    (folder / "ok.txt").write_text("عنوان\n" + body(1), encoding="utf-8")
    out = _peak_rss_of(f"r = corpus.load(Path({str(folder)!r}))\n"
                       "out = {'skipped': r.skipped, 'n': len(r.articles)}")
    print(f"peak RSS {out['rss_mib']:.0f} MiB (after imports {out['base_mib']:.0f} MiB)")
    skipped = dict(map(tuple, out["skipped"]))
    for name in ("huge.txt", "huge.jsonl", "huge.csv"):
        assert "larger than 50 MiB (3.0 GiB)" in skipped[name]
    assert out["n"] == 1
    assert out["rss_mib"] < out["base_mib"] + 50


@pytest.mark.process
def test_jsonl_is_read_line_by_line(tmp_path):
    # 45 MB of rows that yield nothing: a streaming reader holds one row at a time, a whole-file one ~3x the file.
    path = tmp_path / "rows.jsonl"
    row = json.dumps({"title": "عنوان " * 150, "text": None}, ensure_ascii=False) + "\n"
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(45 * 2**20 // len(row.encode())):
            f.write(row)
    out = _peak_rss_of(f"t = __import__('time').perf_counter(); r = corpus.load(Path({str(path)!r}))\n"
                       "out = {'skipped': r.skipped[-2:], 'n': len(r.articles),"
                       " 's': __import__('time').perf_counter() - t}")
    grew = out["rss_mib"] - out["base_mib"]
    print(f"45 MB JSONL in {out['s']:.1f}s: peak RSS grew {grew:.0f} MiB")
    assert out["n"] == 0 and "more rows not loaded" in out["skipped"][0][1]
    assert grew < 30


def test_fifo_and_other_non_files_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    result = corpus.load([fifo])  # opening a FIFO would block forever
    assert reasons(result) == {"pipe.txt": "not a regular file"}
    result = corpus.load([tmp_path])  # os.walk lists it as a file too
    assert reasons(result)["pipe.txt"] == "not a regular file"


# ---------------------------------------------------------------- item 6: bounded dedupe, progress

@pytest.mark.process
def test_50mb_single_line_loads_in_bounded_time_and_memory(tmp_path):
    path = tmp_path / "one_line.txt"
    data = random_text(4_600_000, seed=1).encode("utf-8")[: corpus.MAX_FILE_BYTES - 1024]
    path.write_bytes(data[: data.rfind(b" ")])
    del data
    size = path.stat().st_size
    assert 45 * 2**20 < size < corpus.MAX_FILE_BYTES and b"\n" not in path.read_bytes()
    out = _peak_rss_of(f"import time\ncalls = []\nt0 = time.perf_counter()\n"
                       f"r = corpus.load(Path({str(path)!r}), progress=lambda *a: calls.append(a))\n"
                       "out = {'s': time.perf_counter() - t0, 'skipped': r.skipped, 'n': len(r.articles),"
                       " 'words': len(r.articles[0].text.split()) if r.articles else 0, 'calls': calls}")
    grew = out["rss_mib"] - out["base_mib"]
    print(f"{size / 2**20:.1f} MiB single-line file loaded in {out['s']:.1f}s, peak RSS grew {grew:.0f} MiB")
    assert not out["skipped"] and out["n"] == 1 and out["words"] > 4_000_000
    assert out["s"] < 60
    assert grew < 1024  # all-shingle MinHash wanted ~8 bytes x 64 permutations per word: several GiB
    calls = [tuple(c) for c in out["calls"]]
    assert {c[0] for c in calls} == {"reading", "duplicates"}
    assert calls[-1] == ("duplicates", 1, 1) and ("reading", size, size) in calls


def test_near_duplicates_of_long_articles_use_a_bounded_sketch():
    words = random_text(30_000, seed=2).split()
    rng = random.Random(3)
    edited = list(words)
    for i in rng.sample(range(len(words)), 150):  # 0.5% of the words changed: ~2.5% of 5-shingles differ
        edited[i] = "كلمة"
    dedupe = corpus.Deduper()
    assert dedupe.add(corpus.make_article(" ".join(words), title="أ", article_id="a"))
    assert not dedupe.add(corpus.make_article(" ".join(edited), title="ب", article_id="b"))
    assert not dedupe.add(corpus.make_article(" ".join(words[:-500]), title="ج", article_id="c"))  # truncated copy
    assert dedupe.add(corpus.make_article(random_text(30_000, seed=4), title="د", article_id="d"))
    # The second half of the story is not a duplicate of the whole (resemblance 0.5).
    assert dedupe.add(corpus.make_article(" ".join(words[15_000:]), title="هـ", article_id="e"))
    assert max(len(s) for s in dedupe.sketches) == corpus._SKETCH


def test_progress_reports_every_stage_to_its_total(tmp_path):
    for i in range(5):
        (tmp_path / f"{i}.txt").write_text(f"عنوان {i}\n" + body(i), encoding="utf-8")
    (tmp_path / "dup.txt").write_text("عنوان\n" + body(0), encoding="utf-8")
    calls = []
    result = corpus.load(tmp_path, progress=lambda *a: calls.append(a))
    total = sum(f.stat().st_size for f in tmp_path.iterdir())
    assert calls[0] == ("reading", 0, total) and ("reading", total, total) in calls
    assert calls[-1] == ("duplicates", 6, 6)
    assert len(result.articles) == 5 and result.duplicates == 1
    assert reasons(result) == {"dup.txt": "duplicate of an article already loaded"}


# ---------------------------------------------------------------- item 7: nothing dropped silently

def test_other_types_hidden_folders_and_empty_files_are_listed(tmp_path):
    (tmp_path / "ok.txt").write_text("عنوان\n" + body(1), encoding="utf-8")
    (tmp_path / "paper.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "setup.EXE").write_bytes(b"MZ\x90\x00")
    (tmp_path / "README").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "empty.md").write_bytes(b"")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.txt").write_text(body(2), encoding="utf-8")
    result = corpus.load(tmp_path)
    assert len(result.articles) == 1
    assert reasons(result) == {"paper.pdf": "unsupported type .pdf", "setup.EXE": "unsupported type .exe",
                               "README": "unsupported type (no extension)", "sub/empty.md": "empty file",
                               ".git": "hidden folder, not read"}


def test_bad_jsonl_rows_are_reported_by_line(tmp_path):
    rows = [
        {"title": "أول", "text": body(1)},                      # 1 ok
        {"title": "ثان", "text": None},                         # 2 null text
        {"title": "ثالث", "text": 42},                          # 3 number
        {"title": ["list", "title"], "text": body(4)},          # 4 ok, list title joined
        [1, 2],                                                 # 5 not an object
        "just a string",                                        # 6 not an object
        {"title": "سابع", "text": {"p": body(7)}},              # 7 object text
        {"title": "ثامن"},                                      # 8 no text
        {"title": "تاسع", "text": "قصير جدا"},                  # 9 too short
        {"title": {"ar": "x"}, "text": [body(10), "فقرة ثانية"], "url": ["http://a"], "date": 2024},  # 10 ok
        {"title": "حادي عشر", "text": True},                    # 11 boolean
    ]
    lines = [json.dumps(r, ensure_ascii=False) for r in rows] + ['{"text": "broken', "", "   "]
    path = tmp_path / "rows.jsonl"
    path.write_bytes(codecs.BOM_UTF8 + "\r\n".join(lines).encode("utf-8"))  # BOM and CRLF line ends
    result = corpus.load(path)
    first, fourth, tenth = result.articles
    assert (first.title, fourth.title) == ("أول", "list title")  # a list title: its strings joined
    # An object title is ignored (the title comes from the text); a list text is paragraphs.
    assert tenth.title.startswith("أعلن المتحدث") and "\nفقرة ثانية" in tenth.text
    assert tenth.url == "http://a" and tenth.date == "2024"
    skipped = reasons(result)
    assert skipped["rows.jsonl:2"] == "'text' is null, not text"
    assert skipped["rows.jsonl:3"] == "'text' is a number, not text"
    assert skipped["rows.jsonl:5"] == "a list, not a JSON object"
    assert skipped["rows.jsonl:6"] == "a string, not a JSON object"
    assert skipped["rows.jsonl:7"] == "'text' is an object, not text"
    assert skipped["rows.jsonl:8"].startswith("no 'text' field")
    assert skipped["rows.jsonl:9"].startswith("no article text after cleaning")
    assert skipped["rows.jsonl:11"] == "'text' is true/false, not text"
    assert skipped["rows.jsonl:12"].startswith("not valid JSON")
    assert len(skipped) == 9


def test_many_bad_rows_are_capped_with_a_count(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(['{"text": null}'] * 100 + [json.dumps({"text": body(1)}, ensure_ascii=False)]),
                    encoding="utf-8")
    result = corpus.load(path)
    assert len(result.articles) == 1
    assert len(result.skipped) == corpus.MAX_ROW_REPORTS + 1
    assert result.skipped[-1] == ("bad.jsonl", "80 more rows not loaded (100 in all; the first 20 are listed)")


def test_csv_broken_quotes_are_reported_not_swallowed(tmp_path):
    rows = [f'عنوان {i},"{body(i)}"' for i in range(1, 9)]
    rows[2] = f'عنوان 3,"{body(3)}'                 # line 4: a quote that is never closed on its line
    rows[5] = f'عنوان 6,{body(6)} ثم, انتهى'        # line 7: unquoted, its comma splits the text
    lines = ["title,text"] + rows
    path = tmp_path / "news.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = corpus.load(path)
    titles = sorted(a.title for a in result.articles)
    skipped = reasons(result)
    # The unclosed quote runs on into line 5 up to its quote, where strict parsing stops: rows 3 and 4 are lost
    # and said so; a lenient reader would have merged them into row 3's text without a word.
    assert titles == ["عنوان 1", "عنوان 2", "عنوان 5", "عنوان 7", "عنوان 8"], (titles, skipped)
    assert skipped["news.csv:4-5"] == "malformed CSV quoting (',' expected after '\"'); 2 lines not loaded"
    assert skipped["news.csv:7"] == "3 fields where the header has 2 (an unquoted comma?)"
    assert len(skipped) == 2


def test_csv_quote_open_to_the_end_of_the_file(tmp_path):
    path = tmp_path / "tail.csv"
    path.write_text(f'title,text\nأ,"{body(1)}"\nب,"{body(2)}\nج,{body(3).replace("،", "")}\nد,نص\n',
                    encoding="utf-8")
    result = corpus.load(path)
    assert [a.title for a in result.articles] == ["أ"]
    assert reasons(result) == {"tail.csv:3-5": "a quote opened on line 3 is never closed; 3 lines not loaded"}


def test_csv_multiline_fields_bom_and_crlf_load(tmp_path):
    path = tmp_path / "ok.csv"
    text = f'Title,Body,url\r\nأ,"{body(1)}\r\n\r\nفقرة ثانية ""مقتبسة"" هنا",http://a\r\nب,"{body(2)}",\r\n'
    path.write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    result = corpus.load(path)
    assert not result.skipped
    first = result.articles[0]
    assert first.title == "أ" and first.url == "http://a" and 'فقرة ثانية "مقتبسة" هنا' in first.text
    assert [a.title for a in result.articles] == ["أ", "ب"]


@pytest.mark.parametrize("suffix", [".txt", ".jsonl", ".csv"])
def test_utf16_with_a_bom_is_decoded(tmp_path, suffix):
    content = {".txt": "عنوان الخبر اليوم\n" + body(1),
               ".jsonl": json.dumps({"title": "عنوان الخبر اليوم", "text": body(1)}, ensure_ascii=False) + "\n",
               ".csv": f'title,text\r\nعنوان الخبر اليوم,"{body(1)}"\r\n'}[suffix]
    for codec in ("utf-16", "utf-16-be", "utf-32"):
        raw = content.encode(codec)
        if codec == "utf-16-be":
            raw = codecs.BOM_UTF16_BE + raw
        path = tmp_path / f"{codec}{suffix}"
        path.write_bytes(raw)
        result = corpus.load(path)
        assert [a.title for a in result.articles] == ["عنوان الخبر اليوم"], (codec, result.skipped)
        assert "الخميس 1" in result.articles[0].text


def test_wrong_encodings_binary_and_nul_bytes(tmp_path):
    text = "عنوان الخبر اليوم\n" + body(1)
    (tmp_path / "cp1256.txt").write_bytes(text.encode("cp1256"))
    (tmp_path / "cp1256.jsonl").write_bytes(json.dumps({"text": text}, ensure_ascii=False).encode("cp1256"))
    (tmp_path / "cp1256.csv").write_bytes(f"title,text\nأ,{body(1).replace('،', '')}\n".encode("cp1256"))
    (tmp_path / "utf16-no-bom.txt").write_bytes(text.encode("utf-16-le"))
    (tmp_path / "random.html").write_bytes(random.Random(5).randbytes(5000))
    (tmp_path / "stray-nul.txt").write_bytes(text.replace("الوفد", "الو\x00فد").encode("utf-8"))
    result = corpus.load(tmp_path)
    skipped = reasons(result)
    for name in ("cp1256.txt", "cp1256.jsonl", "cp1256.csv"):
        assert skipped[name].startswith("not UTF-8 (bad byte at offset"), name
    assert skipped["utf16-no-bom.txt"].startswith("binary data, not text")
    assert skipped["random.html"].startswith(("binary data", "not UTF-8"))
    assert [a.source for a in result.articles] == ["stray-nul.txt"]
    assert "\x00" not in result.articles[0].text and "الوفد" in result.articles[0].text


def test_damaged_row_in_a_utf8_file_costs_that_row_only(tmp_path):
    good = [json.dumps({"text": body(i)}, ensure_ascii=False).encode() for i in range(3)]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join([good[0], "{\"text\": \"خبر\"}".encode("cp1256"), good[1], good[2]]))
    result = corpus.load(path)
    assert len(result.articles) == 3
    assert list(reasons(result)) == ["mixed.jsonl:2"] and "not UTF-8" in reasons(result)["mixed.jsonl:2"]


def test_an_unexpected_failure_costs_one_file_and_is_reported(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text("عنوان\n" + body(1), encoding="utf-8")
    (tmp_path / "b.html").write_text(f"<p>{body(2)}</p>", encoding="utf-8")

    def broken(*_):
        raise ValueError("parser bug\nsecond line")

    monkeypatch.setattr(corpus, "_html_article", broken)
    result = corpus.load(tmp_path)
    assert [a.source for a in result.articles] == ["a.txt"]
    assert reasons(result) == {"b.html": "unexpected error while reading (ValueError: parser bug second line)"}
