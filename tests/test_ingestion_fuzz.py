"""Fuzzing ingestion with a deterministic folder of good, damaged and hostile files (issue #8).

Every file must either yield articles or be listed in `skipped` with a reason, and nothing may raise. The same
folder also goes once through the real `sanad index build` in a subprocess (real model and index).
"""
from __future__ import annotations

import codecs
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rag.ingest import corpus
from rag.settings import SEEDS_DIR

ROOT = Path(__file__).resolve().parents[1]

# Every codec Python has that can write Arabic (latin-1 and ascii only through character references).
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "utf-7",
             "cp1256", "iso8859-6", "cp864", "cp720", "mac-arabic", "latin-1", "ascii"]
# Decodable as they should be: UTF-8 (BOM optional) and UTF-16/32 with a BOM.
READABLE = {"utf-8", "utf-8-sig", "utf-16", "utf-32"}


def _sentences() -> list[str]:
    text = " ".join(f.read_text(encoding="utf-8") for f in sorted(SEEDS_DIR.glob("*.txt")))
    text = re.sub(r'[\s"]+', " ", text)  # one-line sentences without quotes: the fixtures place them exactly
    return [s.strip() + "." for s in re.split(r"[.!؟]\s", text) if 8 <= len(s.split()) <= 60 and "&" not in s]


def _encode(text: str, codec: str) -> bytes:
    if codec in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        return text.encode(codec)  # no BOM: must be refused, not indexed as noise
    # Legacy Arabic code pages lack a few marks (», ً ...): those become "?", the letters are encoded.
    errors = "xmlcharrefreplace" if codec in ("latin-1", "ascii") else "strict" if codec.startswith("utf") else "replace"
    return text.encode(codec, errors=errors)


def make_folder(folder: Path, seed: int = 8, n_random: int = 40, big: int = 200_000) -> list[str]:
    """Write the fuzz corpus (`big`: words in each huge line); returns every file's path relative to `folder`."""
    rng = random.Random(seed)
    sents = _sentences()
    counter = iter(range(10**6))

    def article() -> tuple[str, str]:
        n = next(counter)
        return f"خبر رقم {n} عن المفاوضات", f"الخبر {n}: " + " ".join(rng.sample(sents, rng.randint(2, 4)))

    def as_format(fmt: str) -> str:
        title, body = article()
        if fmt in ("txt", "md"):
            return f"{title}\n\n{body}\n"
        if fmt == "html":
            return (f"<html><head><title>{title} | موقع</title><script>var a='<p>';</script></head><body>"
                    f"<nav>الرئيسية</nav><h1>{title}</h1><p>{body}</p><footer>حقوق</footer></body></html>")
        if fmt == "jsonl":
            rows = [{"title": title, "text": body}]
            for _ in range(rng.randint(0, 3)):
                t, b = article()
                rows.append({"title": t, "text": b, "url": "http://example.com/" + t[-3:]})
            return "\n".join(json.dumps(r, ensure_ascii=rng.random() < 0.2) for r in rows) + "\n"
        rows = [(title, body)] + [article() for _ in range(rng.randint(0, 3))]
        return "title,text\n" + "".join(f'"{t}","{b.replace(chr(34), chr(34) * 2)}"\n' for t, b in rows)

    files: dict[str, bytes] = {}
    formats = ["txt", "md", "html", "jsonl", "csv"]
    # Intact articles in every encoding and format.
    for codec in ENCODINGS:
        for fmt in formats:
            files[f"enc/{codec}.{fmt}"] = _encode(as_format(fmt), codec)
    # Damaged copies of good UTF-8 files.
    for i in range(n_random):
        fmt = rng.choice(formats)
        data = as_format(fmt).encode("utf-8")
        kind = rng.choice(["truncate", "flip", "nul", "crlf", "cr", "bom_mid", "drop_quote", "swap_lines"])
        if kind == "truncate":
            data = data[: rng.randint(0, len(data))]
        elif kind == "flip":
            b = bytearray(data)
            for _ in range(rng.randint(1, 20)):
                b[rng.randrange(len(b))] = rng.randrange(256)
            data = bytes(b)
        elif kind == "nul":
            pos = sorted(rng.sample(range(len(data)), rng.randint(1, 50)))
            data = b"".join(data[a:b] + b"\x00" for a, b in zip([0] + pos, pos + [len(data)]))
        elif kind == "crlf":
            data = data.replace(b"\n", b"\r\n")
        elif kind == "cr":
            data = data.replace(b"\n", b"\r")
        elif kind == "bom_mid":
            cut = data.find(b"\n") + 1
            data = data[:cut] + codecs.BOM_UTF8 + data[cut:]
        elif kind == "drop_quote":
            quotes = [m.start() for m in re.finditer(b'"', data)]
            if quotes:
                q = rng.choice(quotes)
                data = data[:q] + data[q + 1:]
        else:
            lines = data.split(b"\n")
            rng.shuffle(lines)
            data = b"\n".join(lines)
        files[f"damaged/{i:02d}_{kind}.{fmt}"] = data
    # Hostile and odd files.
    vocab = sorted({w for s in sents for w in s.split()})
    big_words, big_row, big_field = (" ".join(rng.choices(vocab, k=big)) for _ in range(3))  # 2 MB lines
    one_row = json.dumps({"title": "سطر طويل", "text": big_row}, ensure_ascii=False)
    odd = {
        "odd/random.txt": rng.randbytes(4096),
        "odd/random.jsonl": rng.randbytes(4096),
        "odd/random.csv": rng.randbytes(4096),
        "odd/random.html": rng.randbytes(4096),
        "odd/empty.txt": b"",
        "odd/empty.csv": b"",
        "odd/spaces.md": b" \n\t\n  \r\n",
        "odd/nul_only.txt": b"\x00" * 1000,
        "odd/huge_line.txt": big_words.encode(),
        "odd/huge_row.jsonl": one_row.encode(),
        "odd/huge_field.csv": f'title,text\nطويل,"{big_field}"\n'.encode(),
        "odd/array.jsonl": json.dumps([{"text": article()[1]}], ensure_ascii=False).encode(),
        "odd/pretty.jsonl": json.dumps({"text": article()[1]}, ensure_ascii=False, indent=2).encode(),
        "odd/scalars.jsonl": b'1\n"x"\nnull\ntrue\n[1,2]\n{"text": 5}\n{"text": null}\n{"text": [1]}\n{}\n',
        "odd/deep.jsonl": b"[" * 100_000 + b"]" * 100_000 + b"\n",
        "odd/bigint.jsonl": b'{"text": ' + b"9" * 10_000 + b"}\n",
        "odd/titles.jsonl": "\n".join(json.dumps({"title": t, "text": article()[1]}, ensure_ascii=False)
                                      for t in (["قائمة", "عنوان"], 7, None, {"a": 1}, [None, 3], True)).encode(),
        "odd/no_text_col.csv": "title,url\nعنوان,http://x\n".encode(),
        "odd/header_only.csv": b"title,text\n",
        "odd/ragged.csv": ("title,text\n" + "عنوان,نص, مع, فواصل\n" + f'عنوان,"{article()[1]}"\n').encode(),
        "odd/open_quote.csv": f'title,text\nأ,"{article()[1]}\nب,{article()[1]}\n'.encode(),
        "odd/script_only.html": b"<html><script>alert('x')</script><style>p{}</style></html>",
        "odd/broken.html": f"<html><body><p>{article()[1]}<div><<>>&&#0;&#xD800;<!--".encode(),
        "odd/short.txt": "خبر قصير".encode(),
        "odd/latin.txt": b"Caf\xe9 au lait, d\xe9j\xe0 vu " * 10,
        "odd/utf16_odd_bytes.txt": codecs.BOM_UTF16_LE + "خبر".encode("utf-16-le") + b"\x00",
        "odd/ANSI.TXT": ("\x1b[31m" + article()[1] + "\x1b[0m").encode(),
        "odd/paper.pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
        "odd/tool.exe": b"MZ\x90\x00\x03",
        "odd/data.json": b'{"text": "x"}',
        "odd/noext": b"text",
        ".hidden/secret.txt": as_format("txt").encode(),
    }
    files.update(odd)
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return sorted(files)


def _covered(rel: str, skipped: dict[str, str], produced: set[str]) -> bool:
    name = Path(rel).name
    return (name in produced or rel in skipped or any(k.startswith(rel + ":") for k in skipped)
            or any(rel.startswith(k + "/") for k in skipped))


@pytest.mark.fast
def test_fuzzed_folder_loads_without_exceptions_and_reports_every_bad_file(tmp_path):
    names = make_folder(tmp_path)
    assert len(names) > 150 and len(set(Path(n).name for n in names)) == len(names)  # names map back to files
    result = corpus.load(tmp_path)
    skipped: dict[str, str] = {}
    for where, why in result.skipped:
        assert isinstance(why, str) and why.strip() and "\n" not in why, (where, why)
        assert not why.startswith("unexpected error"), (where, why)  # the safety net is not the handling
        skipped[where] = why
    produced = {a.source for a in result.articles}
    silent = [n for n in names if not _covered(n, skipped, produced)]
    assert not silent, f"files neither loaded nor reported: {silent}"
    for art in result.articles:
        assert not re.search(r"[\x00-\x08\x0e-\x1f\x7f\ufeff]", art.text + art.title), art.source
        assert art.title and "[" not in art.title[:1] and len(art.text.split()) >= 5
    # Readable encodings load; the rest are refused with the reason, never indexed as noise.
    for codec in ENCODINGS:
        for fmt in ("txt", "md", "html", "jsonl", "csv"):
            name = f"{codec}.{fmt}"
            ascii_only = (tmp_path / "enc" / name).read_bytes().isascii()  # Arabic as &#1582; references
            if codec in READABLE or codec in ("ascii", "latin-1") and ascii_only:
                assert name in produced, (name, skipped.get(f"enc/{name}"))
            elif codec in ("cp1256", "iso8859-6", "cp864", "cp720", "mac-arabic", "latin-1"):
                # the whole file, or (latin-1: ASCII rows first) the rows with other bytes
                reason = skipped.get(f"enc/{name}") or next(v for k, v in skipped.items() if k.startswith(f"enc/{name}:"))
                assert reason.startswith("not UTF-8"), name
            elif codec.startswith(("utf-16-", "utf-32-")):
                assert skipped[f"enc/{name}"].startswith("binary data"), name
    assert skipped["odd/paper.pdf"] == "unsupported type .pdf" and skipped[".hidden"] == "hidden folder, not read"
    assert skipped["odd/open_quote.csv:2-3"] == "a quote opened on line 2 is never closed; 2 lines not loaded"
    assert skipped["odd/ragged.csv:2"] == "4 fields where the header has 2 (an unquoted comma?)"
    assert {"huge_line.txt", "huge_row.jsonl", "huge_field.csv"} <= produced
    print(f"{len(names)} files: {len(result.articles)} articles, {len(result.skipped)} skipped entries, "
          f"{result.duplicates} duplicates")


@pytest.mark.slow
def test_cli_index_build_on_the_fuzzed_folder(tmp_path):
    folder = tmp_path / "fuzz"
    make_folder(folder, seed=9, n_random=25, big=3000)  # huge lines would take long to embed on a CPU
    expected = corpus.load(folder)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "SANAD_INDEX_DIR": str(tmp_path / "index"), "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "index", "build", str(folder), "--name", "fuzz"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    print(proc.stdout[-1000:], proc.stderr[-1500:])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert f"+{len(expected.articles)} articles" in proc.stdout
    for where, _ in expected.skipped:
        assert f"skipped {where}:" in proc.stderr, where
    assert "reading files" in proc.stderr and "finding duplicates" in proc.stderr
