"""A real `sanad index build` process killed with SIGKILL mid-embedding resumes from its checkpoints and commits
the index an uninterrupted build writes: the real embedding model, a slice of SaudiNewsNet as gzip JSONL.

Batches are tiny (SANAD_BUILD_BATCH) so that a slice of eight short articles makes several checkpoints. Other
inputs never reusing checkpoints, extending an index and the batch plan are tested without a model in
test_build_staging_fast.py."""
from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import shared_data

from rag.ingest import corpus
from rag.storage import staging
from rag.storage.index import build_index, load_index

pytestmark = pytest.mark.process
ROOT = Path(__file__).resolve().parents[1]
ARTICLES = 8
BATCH = 3


def write_slice(dest: Path, start: int, n: int) -> Path:
    """Short articles (60–150 words) of the archive, `start` to `start + n`: a few passages each, cheap."""
    short = []
    with gzip.open(shared_data("saudinewsnet", "articles.jsonl.gz"), "rt", encoding="utf-8") as f:
        for line in f:
            if 60 <= len(json.loads(line)["text"].split()) <= 150:
                short.append(line)
            if len(short) == start + n:
                break
    lines = short[start:]
    with gzip.open(dest, "wt", encoding="utf-8") as out:
        out.writelines(lines)
    return dest


def cli(index_dir: Path, *args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "SANAD_INDEX_DIR": str(index_dir), "SANAD_BUILD_BATCH": str(BATCH), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "rag.cli", "index", "build", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def snapshot(path: Path) -> dict:
    idx = load_index(path)
    return {"passages": [p.to_dict() for p in idx.passages], "articles": [a.__dict__ for a in idx.articles],
            "vectors": idx.faiss_index.reconstruct_n(0, idx.faiss_index.ntotal),
            "sentvecs": np.asarray(idx.sentence_vectors), "rows": np.asarray(idx.sentence_rows)}


def test_a_killed_build_resumes_to_the_index_of_an_uninterrupted_one(tmp_path, settings, embedder):
    data = write_slice(tmp_path / "slice.jsonl.gz", 0, ARTICLES)
    index_dir = tmp_path / "index"
    path = index_dir / "snn"
    path.mkdir(parents=True)
    (path / "my-notes.txt").write_text("a user's file")

    killed = cli(index_dir, str(data), "--name", "snn")
    deadline = time.monotonic() + 300
    while not any(any(f.glob("batch-*.npz")) for f in staging.staging_folders(path)):
        assert killed.poll() is None, killed.communicate()
        assert time.monotonic() < deadline, "no checkpoint written in 300 s"
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.communicate()
    [folder] = staging.staging_folders(path)
    plan = json.loads((folder / "plan.json").read_text())["batches"]
    done_before = len(list(folder.glob("batch-*.npz")))
    assert not (path / "manifest.json").exists() and len(plan) >= 2 and done_before < len(plan)

    resumed = cli(index_dir, str(data), "--name", "snn")
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    assert f"resuming: {done_before} of {len(plan)} batches already embedded" in err, err
    assert "embedding (passages + sentences):" in err and "writing index, BM25, FAISS: 1/1" in err, err
    assert f"+{len(corpus.load([data]).articles)} articles" in " ".join(out.split())
    assert not staging.staging_folders(path)  # staging removed after the commit, by its own names only
    assert (path / "my-notes.txt").read_text() == "a user's file"

    # The same slice built uninterrupted (in this process, the same model and batch size).
    whole = tmp_path / "whole"
    build_index(whole, corpus.load([data]), embedder, batch_size=BATCH)
    got, want = snapshot(path), snapshot(whole)
    assert got["passages"] == want["passages"] and got["articles"] == want["articles"]
    np.testing.assert_array_equal(got["rows"], want["rows"])
    np.testing.assert_allclose(got["vectors"], want["vectors"], atol=1e-6)
    np.testing.assert_allclose(got["sentvecs"], want["sentvecs"], atol=1e-6)
    assert got["articles"][0]["url"] and got["articles"][0]["date"]  # the news metadata is kept
