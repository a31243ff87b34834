"""Index safety without the embedding model: corrupt and outdated indexes, index names, the sweep, fsync,
empty builds, readers racing a committing process, and builds killed with SIGKILL.

The real store code runs on real files, in real processes; only the embedder is a cheap deterministic stand-in
(`HashEmbedder`), so hundreds of commits fit in a test.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import HashEmbedder, loaded, make_article

from rag.errors import IndexProblem
from rag.ingest.corpus import LoadResult
from rag.settings import Settings, check_index_name
from rag.storage import index as store
from rag.storage.index import NoArticles, build_index, index_state, load_index

pytestmark = pytest.mark.fast

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=120)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ")
    return last


@pytest.fixture
def built(tmp_path) -> Path:
    path = tmp_path / "idx"
    emb = HashEmbedder()
    build_index(path, loaded(1, 2, 3), emb)
    build_index(path, loaded(4), emb)
    return path


# ---------------------------------------------------------------- corrupt and outdated indexes (item 1)

def _garbage(path):
    (path / "manifest.json").write_text("{not json", encoding="utf-8")


def _list_manifest(path):
    (path / "manifest.json").write_text("[1, 2, 3]", encoding="utf-8")


def _missing_faiss(path):
    (path / json.loads((path / "manifest.json").read_text())["files"]["faiss"]).unlink()


def _missing_manifest(path):
    (path / "manifest.json").unlink()


@pytest.mark.parametrize("damage", [_garbage, _list_manifest, _missing_faiss, _missing_manifest])
def test_damaged_index_is_reported_with_a_working_repair_and_nothing_deleted(built, damage):
    damage(built)
    before = snapshot(built)
    with pytest.raises(IndexProblem) as exc:
        load_index(built, HashEmbedder.model_id)
    msg = str(exc.value)
    assert str(built) in msg and "\n" not in msg
    assert "4 stored articles" in msg and "sanad index build --name idx --rebuild" in msg
    # Adding to it is refused the same way, and nothing at all is removed or changed.
    with pytest.raises(IndexProblem):
        build_index(built, loaded(5), HashEmbedder())
    assert index_state(built) != "empty"  # never seeded over
    assert snapshot(built) == before
    # The hinted repair (build --rebuild without files = restore from the stored articles) brings all back.
    build_index(built, LoadResult(), HashEmbedder(), restore=True)
    index = load_index(built, HashEmbedder.model_id)
    assert sorted(a.id for a in index.articles) == [f"art{i:05d}" for i in (1, 2, 3, 4)]


def test_unreadable_articles_hint_says_to_re_add_files(built):
    for p in built.glob("articles-*.jsonl"):
        p.write_text("{broken\n", encoding="utf-8")
    _garbage(built)
    with pytest.raises(IndexProblem, match=r"re-add your files with: sanad index build --name idx --rebuild FILES"):
        load_index(built)
    build_index(built, loaded(7), HashEmbedder(), rebuild=True)  # exactly what the hint says
    assert [a.id for a in load_index(built).articles] == ["art00007"]


def test_outdated_format_migrates_the_stored_articles(built):
    manifest = json.loads((built / "manifest.json").read_text())
    manifest["format_version"] = store.FORMAT_VERSION - 1
    (built / "manifest.json").write_text(json.dumps(manifest))
    assert index_state(built) == "outdated"
    with pytest.raises(IndexProblem, match=r"has format 3.*4 stored articles.*--rebuild"):
        load_index(built)
    report = build_index(built, loaded(9), HashEmbedder())  # adding to it upgrades it first
    index = load_index(built, HashEmbedder.model_id)
    assert index.manifest["format_version"] == store.FORMAT_VERSION
    assert sorted(a.id for a in index.articles) == [f"art{i:05d}" for i in (1, 2, 3, 4, 9)]
    assert report.added_articles == 1 and report.total_articles == 5


def test_seeds_only_go_into_a_folder_that_holds_nothing(tmp_path):
    folder = tmp_path / "default"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    assert index_state(folder) == "empty"
    (folder / "articles-18f0000000a.jsonl").write_text(json.dumps(make_article(1).__dict__) + "\n")
    assert index_state(folder) == "unusable"  # no manifest, but the store's files: never seeded over
    with pytest.raises(IndexProblem, match=r"no index at .*1 stored articles.*--rebuild"):
        load_index(folder)


def test_engine_never_replaces_a_corrupt_default_index(tmp_path):
    from rag.storage import lifecycle

    settings = Settings(index_dir=tmp_path)
    build_index(settings.index_path, loaded(1, 2), HashEmbedder())
    _list_manifest(settings.index_path)
    before = snapshot(settings.index_path)
    assert lifecycle.ensure_default_index(settings) is None  # returns before any embedder is loaded
    assert snapshot(settings.index_path) == before


# ---------------------------------------------------------------- index names (item 2)

@pytest.mark.parametrize("name", ["default", "news-2024", "v1.2_x", "أخبار"])
def test_plain_index_names_are_accepted(name, tmp_path):
    assert check_index_name(name) == name
    assert Settings(index_dir=tmp_path, index_name=name).index_path.parent == tmp_path


@pytest.mark.parametrize("name", ["", ".", "..", "../x", "/some/dir", "a/b", ".hidden", "x\\y", "a b", "x" * 101])
def test_path_like_index_names_are_refused(name, tmp_path):
    with pytest.raises(IndexProblem, match="not a plain name"):
        Settings(index_dir=tmp_path, index_name=name).index_path


@pytest.mark.process
def test_cli_refuses_path_index_names_in_one_line(tmp_path):
    assert "not a plain name" in one_line_error(cli("index", "info", "--name", str(tmp_path)))
    env = {"SANAD_INDEX_DIR": str(tmp_path / "index"), "SANAD_INDEX_NAME": "../x"}
    assert "not a plain name" in one_line_error(cli("index", "build", str(tmp_path), env=env))
    assert not (tmp_path / "x").exists() and not (tmp_path / "index").exists()


# ---------------------------------------------------------------- the sweep (item 2)

def test_sweep_removes_only_the_stores_own_files(tmp_path):
    path = tmp_path / "idx"
    emb = HashEmbedder()
    build_index(path, loaded(0), emb)
    mine = {"notes.txt": b"notes", "passages-mine.txt": b"p", "passages-abc.jsonl": b"short hex",
            "faiss-0123456789abcdef.index.bak": b"b", "eval-query-cache.npz": b"c", "bm25-photos/cat.jpg": b"jpg",
            "bm25-00000000abc/photo.jpg": b"not bm25s files"}
    for name, data in mine.items():
        (path / name).parent.mkdir(exist_ok=True)
        (path / name).write_bytes(data)
    (path / "articles-0123456789a.jsonl").write_text("{torn")  # a dead build's leftover: the store's own name
    for i in range(1, 4):
        build_index(path, loaded(i), emb)
    assert {k: v for k, v in snapshot(path).items() if k in mine} == mine
    assert not (path / "articles-0123456789a.jsonl").exists()
    versions = {store.store_version(p.name) for p in path.iterdir()
                if store.store_version(p.name) and p.name != "bm25-00000000abc"}
    current = store.store_version(json.loads((path / "manifest.json").read_text())["files"]["faiss"])
    assert len(versions) == 2 and current == max(versions, key=lambda v: int(v, 16))  # current + previous


# ---------------------------------------------------------------- durability (item 3)

def test_commit_fsyncs_every_data_file_and_the_folder_around_the_manifest_swap(tmp_path, monkeypatch):
    path = tmp_path / "idx"
    build_index(path, loaded(1), HashEmbedder())
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    build_index(path, loaded(2), HashEmbedder())
    files = json.loads((path / "manifest.json").read_text())["files"]
    swap = events.index(("replace", str(path / "manifest.json")))
    before = {p for kind, p in events[:swap] if kind == "fsync"}
    for key, name in files.items():
        target = path / name
        wanted = [target] if target.is_file() else [*target.iterdir(), target]
        for f in wanted:
            assert str(f) in before, f"{f.name} not fsynced before the commit"
    assert str(path) in before  # the new names are durable before the manifest points at them
    assert any(p.startswith(str(path / ".manifest-")) for p in before)
    assert ("fsync", str(path)) in events[swap + 1:]  # and the rename itself afterwards


def test_model_folder_and_llm_sidecar_use_the_one_helper():
    from rag.embedding import e5 as models
    from rag.llm import gguf
    from rag.storage import fsutil

    assert gguf._write_atomic_text is fsutil.write_atomic and gguf._fsync_dir is fsutil.fsync_dir
    assert models.fsync_tree is fsutil.fsync_tree


# ---------------------------------------------------------------- empty builds (item 4) and index info (item 8)

@pytest.mark.process
def test_zero_articles_is_a_one_line_error_and_leaves_nothing(tmp_path):
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    (tmp_path / "short.txt").write_text("كلمة", encoding="utf-8")
    from rag.ingest import corpus

    with pytest.raises(NoArticles, match=r"no articles to index: 2 file\(s\) skipped \(empty.txt: .*short.txt"):
        build_index(tmp_path / "x", corpus.load([tmp_path / "empty.txt", tmp_path / "short.txt"]), HashEmbedder())
    assert not (tmp_path / "x").exists()
    env = {"SANAD_INDEX_DIR": str(tmp_path / "index")}
    proc = cli("index", "build", str(tmp_path / "empty.txt"), "--name", "x", env=env)
    assert "no articles to index" in one_line_error(proc)
    assert "skipped empty.txt" in proc.stderr
    assert not (tmp_path / "index" / "x").exists()


@pytest.mark.parametrize("damage", [_garbage, _list_manifest])
def test_index_info_on_a_bad_manifest_is_one_line(built, damage):
    damage(built)
    line = one_line_error(cli("index", "info", "--name", built.name, env={"SANAD_INDEX_DIR": str(built.parent)}))
    assert "corrupt" in line and "sanad index build --name idx --rebuild" in line


# ---------------------------------------------------------------- readers vs. a committing process (item 9)

COMMITTER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from helpers import HashEmbedder, loaded
    from rag.storage.index import build_index
    path, until, emb, i = Path({path!r}), time.monotonic() + {seconds}, HashEmbedder(), 1000
    while time.monotonic() < until:
        i += 1
        build_index(path, loaded(i), emb, rebuild=(i % 7 == 0))  # grow, and now and then start over
        print(i, flush=True)
""")


@pytest.mark.process
def test_readers_never_see_a_false_corrupt_index_while_another_process_commits(tmp_path):
    path = tmp_path / "idx"
    build_index(path, loaded(*range(20)), HashEmbedder())
    seconds = float(os.environ.get("SANAD_STRESS_SECONDS", "20"))
    proc = subprocess.Popen([sys.executable, "-c", COMMITTER.format(tests=str(TESTS), path=str(path),
                                                                    seconds=seconds)],
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    loads, failures, versions = 0, [], set()
    try:
        while proc.poll() is None:
            try:
                index = load_index(path, HashEmbedder.model_id)
            except IndexProblem as exc:
                failures.append(str(exc))
                continue
            loads += 1
            versions.add(index.manifest["files"]["faiss"])
            assert index.manifest["articles"] == len(index.articles)
    finally:
        proc.wait(timeout=60)
    commits = len(proc.stdout.read().split())
    assert proc.returncode == 0
    print(f"{loads} loads, {commits} commits, {len(versions)} versions seen, {len(failures)} failures")
    assert not failures, failures[:3]
    assert commits > 20 and len(versions) > 5


KILLED_BUILDER = textwrap.dedent("""
    import sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from helpers import HashEmbedder, loaded
    from rag.storage.index import build_index
    path, emb = Path({path!r}), HashEmbedder()
    print("ready", flush=True)
    for i in range({start}, {start} + 1000):
        build_index(path, loaded(*range(i * 10, i * 10 + 10)), emb)
""")


@pytest.mark.process
def test_sigkill_at_random_moments_leaves_the_previous_or_the_new_version(tmp_path):
    path = tmp_path / "idx"
    build_index(path, loaded(*range(10)), HashEmbedder())
    rng = random.Random(8)
    for round_ in range(8):
        before = {a.id for a in load_index(path).articles}
        proc = subprocess.Popen([sys.executable, "-c", KILLED_BUILDER.format(tests=str(TESTS), path=str(path),
                                                                             start=100 + round_ * 1000)],
                                stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.6))
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
        index = load_index(path, HashEmbedder.model_id)  # loadable after every kill
        after = {a.id for a in index.articles}
        assert before <= after and (len(after) - len(before)) % 10 == 0  # whole builds only
        assert index.manifest["articles"] == len(after) == len({p.article_id for p in index.passages})
    build_index(path, loaded(99999), HashEmbedder())  # the next build sweeps what the killed ones left
    versions = {store.store_version(p.name) for p in path.iterdir() if store.store_version(p.name)}
    assert len(versions) <= 2


@pytest.mark.process
def test_a_running_process_picks_up_a_version_committed_by_another(tmp_path):
    from rag.sanad import Sanad

    settings = Settings(index_dir=tmp_path, index_name="served")
    build_index(settings.index_path, loaded(1, 2), HashEmbedder())
    sanad = Sanad(settings, embedder=HashEmbedder())
    first = sanad.retriever
    assert sanad.retriever is first  # cached while nothing changes
    script = (f"import sys; sys.path.insert(0, {str(TESTS)!r}); from helpers import HashEmbedder, loaded;"
              f"from rag.storage.index import build_index; from pathlib import Path;"
              f"build_index(Path({str(settings.index_path)!r}), loaded(3), HashEmbedder())")
    subprocess.run([sys.executable, "-c", script], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    second = sanad.retriever
    assert second is not first and len(second.index.articles) == 3
