"""Recovery of the default index with the real embedding model: a format upgrade keeps the user's articles,
and a corrupt index is reported, left untouched, and repaired by exactly the command the error names."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.errors import IndexProblem
from rag.sanad import Sanad
from rag.storage import lifecycle
from rag.storage.index import FORMAT_VERSION, load_index

ROOT = Path(__file__).resolve().parents[1]
USER_ARTICLE = ("قمة المناخ في الرياض\n"
                "افتتحت في الرياض صباح اليوم قمة إقليمية للمناخ بمشاركة وزراء البيئة من اثنتي عشرة دولة عربية. "
                "وقال رئيس القمة إن الدول المشاركة ستعلن خطة مشتركة لخفض الانبعاثات بنسبة ثلاثين في المئة.")


@pytest.fixture
def user_index(fresh_settings, tmp_path, embedder):
    """The default index in a private folder: the seeds plus one article the user added."""
    (tmp_path / "mine.txt").write_text(USER_ARTICLE, encoding="utf-8")
    assert lifecycle.ensure_default_index(fresh_settings) is not None  # empty folder: seeded
    lifecycle.build([tmp_path / "mine.txt"], fresh_settings)
    index = load_index(fresh_settings.index_path, embedder.model_id)
    assert len(index.articles) == 6
    return fresh_settings


def _titles(settings, embedder) -> list[str]:
    return sorted(a.title for a in load_index(settings.index_path, embedder.model_id).articles)


def test_format_upgrade_migrates_the_users_articles_not_the_seeds(user_index, embedder):
    titles = _titles(user_index, embedder)
    manifest_path = user_index.index_path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = FORMAT_VERSION - 1
    manifest_path.write_text(json.dumps(manifest))
    report = lifecycle.ensure_default_index(user_index)
    assert report is not None and report.total_articles == 6
    assert _titles(user_index, embedder) == titles
    hits = Sanad(user_index, embedder=embedder).retriever.search("قمة المناخ في الرياض", 1)
    assert "قمة إقليمية للمناخ" in hits[0].passage.text


def test_corrupt_default_index_names_a_repair_that_works(user_index, embedder):
    titles = _titles(user_index, embedder)
    (user_index.index_path / "manifest.json").write_text("[1, 2, 3]")
    files = sorted(p.name for p in user_index.index_path.iterdir())
    with pytest.raises(IndexProblem) as exc:
        Sanad(user_index, embedder=embedder).retriever
    msg = str(exc.value)
    assert "corrupt" in msg and "6 stored articles" in msg
    assert sorted(p.name for p in user_index.index_path.iterdir()) == files  # nothing deleted, nothing seeded
    command = msg.split("with: ", 1)[1].split()
    assert command == ["sanad", "index", "build", "--name", "default", "--rebuild"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SANAD_HOME": str(user_index.home),
           "SANAD_INDEX_DIR": str(user_index.index_dir)}
    proc = subprocess.run([sys.executable, "-m", "rag.cli", *command[1:]], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert _titles(user_index, embedder) == titles
