"""The on-disk index: incremental builds, atomic writes, clear errors for missing/corrupt/mismatched indexes."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rag.errors import IndexProblem
from rag.ingest import corpus
from rag.settings import SEEDS_DIR
from rag.storage.index import build_index, load_index


class CountingEmbedder:
    """The real embedder, counting how many passages it is asked to embed (and able to fail midway)."""

    def __init__(self, real, fail_after: int | None = None):
        self.real, self.fail_after, self.embedded = real, fail_after, 0
        self.model_id, self.dim = real.model_id, real.dim

    def embed_passages(self, texts, batch_size=32, progress=None):
        if self.fail_after is not None and self.embedded + len(texts) > self.fail_after:
            raise KeyboardInterrupt("simulated Ctrl-C during the build")
        self.embedded += len(texts)
        return self.real.embed_passages(texts, batch_size, progress)

    def embed_queries(self, texts):
        return self.real.embed_queries(texts)

    def count_tokens(self, text):
        return self.real.count_tokens(text)


NEW_ARTICLE = ("قمة المناخ في الرياض\n"
               "افتتحت في الرياض صباح اليوم قمة إقليمية للمناخ بمشاركة وزراء البيئة من اثنتي عشرة دولة عربية. "
               "وقال رئيس القمة إن الدول المشاركة ستعلن خطة مشتركة لخفض الانبعاثات بنسبة ثلاثين في المئة بحلول عام 2035.")


def test_incremental_build_embeds_only_new_passages(tmp_path, embedder):
    path = tmp_path / "idx"
    first = CountingEmbedder(embedder)
    report = build_index(path, corpus.load(SEEDS_DIR), first)
    sentences = len(load_index(path, embedder.model_id).sentence_rows)
    assert report.added_articles == 5 and first.embedded == report.total_passages + sentences
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "climate.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    second = CountingEmbedder(embedder)
    report2 = build_index(path, corpus.load([SEEDS_DIR, tmp_path / "new"]), second)
    assert report2.added_articles == 1 and report2.duplicates == 5
    index = load_index(path, embedder.model_id)
    new_sentences = len(index.sentence_rows) - sentences
    assert report2.added_passages == report2.total_passages - report.total_passages
    assert second.embedded == report2.added_passages + new_sentences
    assert index.sentence_rows[-1][0] == len(index.passages) - 1 and len(index.sentence_vectors) == len(index.sentence_rows)
    assert index.manifest["articles"] == 6 and index.faiss_index.ntotal == len(index.passages)
    assert any("قمة إقليمية للمناخ" in p.text for p in index.passages)


def test_crash_mid_build_leaves_previous_index_usable(tmp_path, embedder):
    path = tmp_path / "idx"
    build_index(path, corpus.load(SEEDS_DIR), embedder)
    before = json.loads((path / "manifest.json").read_text())
    (tmp_path / "new").mkdir()
    for i in range(3):
        (tmp_path / "new" / f"{i}.txt").write_text(NEW_ARTICLE.replace("الرياض", f"مدينة {i} "), encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        build_index(path, corpus.load(tmp_path / "new"), CountingEmbedder(embedder, fail_after=1))
    index = load_index(path, embedder.model_id)
    assert json.loads((path / "manifest.json").read_text()) == before
    assert len(index.passages) == before["passages"]


def test_process_killed_before_commit_keeps_old_index(tmp_path, embedder, settings):
    # A real process dies (os._exit) right before the manifest is replaced: the old index must still load.
    path = tmp_path / "idx"
    build_index(path, corpus.load(SEEDS_DIR), embedder)
    before = (path / "manifest.json").read_text()
    (tmp_path / "c.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    script = f"""
import os, rag.storage.index as store
from rag.ingest import corpus
from rag.embedding.embedders import get_embedder
real_replace = os.replace
def dying_replace(src, dst):
    if str(dst).endswith("manifest.json"):
        os._exit(9)
    return real_replace(src, dst)
store.os.replace = dying_replace
store.build_index(__import__("pathlib").Path({str(path)!r}), corpus.load(__import__("pathlib").Path({str(tmp_path / 'c.txt')!r})), get_embedder())
"""
    proc = subprocess.run([sys.executable, "-c", script], env={**__import__("os").environ,
                                                                 "SANAD_HOME": str(settings.home)})
    assert proc.returncode == 9
    assert (path / "manifest.json").read_text() == before
    assert len(load_index(path, embedder.model_id).passages) == json.loads(before)["passages"]
    # The next build sweeps the dead build's files and succeeds.
    build_index(path, corpus.load(tmp_path / "c.txt"), embedder)
    files = {p.name for p in path.iterdir()}
    # the new version and the previous one (kept for readers); the dead build's files are gone
    assert len([f for f in files if f.startswith("faiss-")]) == 2


def test_missing_corrupt_and_mismatched_index_errors(tmp_path, embedder):
    with pytest.raises(IndexProblem, match=r"no index at .*sanad index build"):
        load_index(tmp_path / "nothing", embedder.model_id)
    path = tmp_path / "idx"
    build_index(path, corpus.load(SEEDS_DIR), embedder)
    with pytest.raises(IndexProblem, match="built with model"):
        load_index(path, "some-other-model")
    manifest = json.loads((path / "manifest.json").read_text())
    (path / manifest["files"]["faiss"]).write_bytes(b"garbage")
    with pytest.raises(IndexProblem, match=rf"corrupt.*{path.name}"):
        load_index(path, embedder.model_id)


def test_cli_reports_user_errors_in_one_line(tmp_path, settings):
    env = {**__import__("os").environ, "SANAD_HOME": str(settings.home), "SANAD_INDEX_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "rag.cli", "search", "سؤال", "--name", "missing"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "sanad index build" in out.stderr and len(out.stderr.strip().splitlines()) <= 2


def test_cli_build_and_search(tmp_path, settings):
    env = {**__import__("os").environ, "SANAD_HOME": str(settings.home), "SANAD_INDEX_DIR": str(tmp_path)}
    build = subprocess.run([sys.executable, "-m", "rag.cli", "index", "build", "--name", "cli"],
                           capture_output=True, text=True, env=env)
    assert build.returncode == 0, build.stderr
    assert "+5 articles" in build.stdout
    out = subprocess.run([sys.executable, "-m", "rag.cli", "search", "ماذا قال بوتين عن الهجوم الكيماوي؟",
                          "--name", "cli", "-k", "2"], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and "خان شيخون" in out.stdout
    info = subprocess.run([sys.executable, "-m", "rag.cli", "index", "info", "--name", "cli"],
                          capture_output=True, text=True, env=env)
    assert "articles: 5" in info.stdout
