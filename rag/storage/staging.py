"""Resumable builds: embedding proceeds in batches, each checkpointed durably in a staging folder of the index.

`index/<name>/.staging-<fingerprint>/` holds `plan.json` (which articles each batch covers) and one
`batch-NNNNN.npz` per finished batch (its passages, passage vectors, sentence vectors and sentence rows). Each
file is written under a temporary name, fsynced, renamed and the folder fsynced: a kill at any moment leaves
whole checkpoints only, and loses at most the batch in flight. The fingerprint covers everything a checkpoint
depends on (the articles' ids and content, model, chunk spec, batch size and the index version built upon), so
a run with other inputs never reuses another run's batches. Only names this module writes are ever removed.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rag.ingest.chunking import ChunkSpec
from rag.storage.fsutil import fsync_dir, write_atomic
from rag.types import Article, Passage

DEFAULT_BATCH = 2000  # passages per checkpoint: ~5 min of embedding on two cores, so a kill loses little
_DIR = re.compile(r"\.staging-([0-9a-f]{16})")
_FILE = re.compile(r"plan\.json|\.plan\.json\.tmp|batch-\d{5}\.npz|\.batch-\d{5}\.tmp|sentvecs\.npy")


@dataclass(frozen=True)
class Batch:
    """Articles [start, end) of the build's list, with the passages and sentences they chunk into."""

    start: int
    end: int
    passages: int
    sentences: int


def fingerprint(articles: Sequence[Article], model_id: str, spec: ChunkSpec, batch_size: int, base: str) -> str:
    """What the checkpoints depend on, hashed: every article's id and content in order, the model, the chunk
    spec, the batch size and `base` (the index version the build extends, or how it starts)."""
    h = hashlib.sha256()
    h.update(json.dumps([model_id, asdict(spec), batch_size, base], sort_keys=True).encode())
    for a in articles:
        body = hashlib.sha256(json.dumps(asdict(a), ensure_ascii=False, sort_keys=True).encode()).digest()
        h.update(a.id.encode() + b"\0" + body)
    return h.hexdigest()[:16]


def plan_batches(counts: Sequence[tuple[int, int]], batch_size: int) -> list[Batch]:
    """Cut the articles, whose (passages, sentences) are `counts`, into consecutive batches of at least
    `batch_size` passages (the last may be smaller). An article is never split across batches."""
    batches, start, passages, sentences = [], 0, 0, 0
    for i, (p, s) in enumerate(counts):
        passages, sentences = passages + p, sentences + s
        if passages >= batch_size:
            batches.append(Batch(start, i + 1, passages, sentences))
            start, passages, sentences = i + 1, 0, 0
    if start < len(counts):
        batches.append(Batch(start, len(counts), passages, sentences))
    return batches


@dataclass
class Checkpoint:
    passages: list[Passage]
    vectors: np.ndarray  # (passages, dim) float32
    sentence_vectors: np.ndarray  # (sentences, dim) float32
    sentence_rows: np.ndarray  # (sentences, 3) int32: passage index within the batch, start, end


class Staging:
    """The staging folder of one build fingerprint inside the index folder (the caller holds the build lock)."""

    def __init__(self, index_path: Path, fp: str) -> None:
        self.index_path, self.fp = index_path, fp
        self.folder = index_path / f".staging-{fp}"

    def open(self) -> None:
        """Create the folder, after clearing the staging of any other fingerprint (stale: other inputs)."""
        sweep_staging(self.index_path, keep=self.folder.name)
        if not self.folder.is_dir():
            self.folder.mkdir()
            fsync_dir(self.index_path)

    def read_plan(self) -> list[Batch] | None:
        try:
            data = json.loads((self.folder / "plan.json").read_text(encoding="utf-8"))
            if data.get("fingerprint") != self.fp:
                return None
            return [Batch(*b) for b in data["batches"]]
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def write_plan(self, batches: list[Batch]) -> None:
        data = {"fingerprint": self.fp, "batches": [[b.start, b.end, b.passages, b.sentences] for b in batches]}
        write_atomic(self.folder / "plan.json", json.dumps(data), tmp_name=".plan.json.tmp")

    def _name(self, i: int) -> Path:
        return self.folder / f"batch-{i:05d}.npz"

    def has(self, i: int, batch: Batch) -> bool:
        """A whole checkpoint of this batch exists (a damaged one counts as missing: it is embedded again)."""
        try:
            with np.load(self._name(i)) as z:
                return (str(z["fingerprint"]) == self.fp and int(z["index"]) == i
                        and z["counts"].tolist() == [batch.passages, batch.sentences])
        except (OSError, ValueError, KeyError, EOFError):
            return False

    def write(self, i: int, cp: Checkpoint) -> None:
        body = "\n".join(json.dumps(p.to_dict(), ensure_ascii=False) for p in cp.passages).encode("utf-8")
        tmp = self.folder / f".batch-{i:05d}.tmp"
        try:
            with open(tmp, "wb") as f:
                np.savez(f, fingerprint=np.array(self.fp), index=np.array(i),
                         counts=np.array([len(cp.passages), len(cp.sentence_rows)]),
                         passages=np.frombuffer(body, dtype=np.uint8),
                         vectors=np.ascontiguousarray(cp.vectors, dtype=np.float32),
                         sentvecs=np.ascontiguousarray(cp.sentence_vectors, dtype=np.float32),
                         rows=np.ascontiguousarray(cp.sentence_rows, dtype=np.int32).reshape(-1, 3))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._name(i))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(self.folder)

    def read(self, i: int, *, what: tuple[str, ...] = ("passages", "vectors", "sentvecs", "rows")) -> Checkpoint:
        with np.load(self._name(i)) as z:
            passages = ([Passage.from_dict(json.loads(line)) for line in
                         io.StringIO(z["passages"].tobytes().decode("utf-8")) if line.strip()]
                        if "passages" in what else [])
            empty = np.zeros((0, 0), np.float32)
            return Checkpoint(passages, z["vectors"] if "vectors" in what else empty,
                              z["sentvecs"] if "sentvecs" in what else empty,
                              z["rows"] if "rows" in what else np.zeros((0, 3), np.int32))

    def sentence_buffer(self, rows: int, dim: int) -> np.ndarray:
        """A float32 (rows, dim) array backed by a file here: the final sentence vectors are gathered in it
        from the checkpoints without holding them all in memory."""
        if rows == 0:
            return np.zeros((0, dim), np.float32)  # nothing to map
        return np.lib.format.open_memmap(self.folder / "sentvecs.npy", mode="w+", dtype=np.float32,
                                         shape=(rows, dim))

    def remove(self) -> None:
        _remove_folder(self.folder)
        fsync_dir(self.index_path)


class StagedPassages(Sequence[Passage]):
    """The passages of the index being built, read batch by batch from the checkpoints when iterated (a commit
    streams them into its files), after the passages the index already holds."""

    def __init__(self, before: list[Passage], staging: Staging, batches: list[Batch]) -> None:
        self.before, self.staging, self.batches = before, staging, batches
        self._len = len(before) + sum(b.passages for b in batches)
        self._cached: tuple[int, list[Passage]] | None = None

    def __len__(self) -> int:
        return self._len

    def _batch(self, i: int) -> list[Passage]:
        if self._cached is None or self._cached[0] != i:
            self._cached = (i, self.staging.read(i, what=("passages",)).passages)
        return self._cached[1]

    def __iter__(self) -> Iterator[Passage]:
        yield from self.before
        for i in range(len(self.batches)):
            yield from self._batch(i)

    def __getitem__(self, k):  # type: ignore[override]
        if isinstance(k, slice):
            return [self[j] for j in range(*k.indices(self._len))]
        if k < 0:
            k += self._len
        if not 0 <= k < self._len:
            raise IndexError(k)
        if k < len(self.before):
            return self.before[k]
        k -= len(self.before)
        for i, b in enumerate(self.batches):
            if k < b.passages:
                return self._batch(i)[k]
            k -= b.passages
        raise IndexError(k)


def _remove_folder(folder: Path) -> None:
    """Remove the files this module writes in a staging folder, then the folder if nothing else is left."""
    try:
        children = list(folder.iterdir())
    except OSError:
        return
    for child in children:
        if _FILE.fullmatch(child.name) and child.is_file() and not child.is_symlink():
            child.unlink(missing_ok=True)
    try:
        folder.rmdir()  # fails, keeping it, when it holds anything the store did not write
    except OSError:
        pass


def staging_folders(index_path: Path) -> list[Path]:
    try:
        return [c for c in index_path.iterdir() if _DIR.fullmatch(c.name) and c.is_dir() and not c.is_symlink()]
    except OSError:
        return []


def sweep_staging(index_path: Path, keep: str | None = None) -> None:
    """Remove the staging of every build fingerprint but `keep`."""
    for folder in staging_folders(index_path):
        if folder.name != keep:
            _remove_folder(folder)
    fsync_dir(index_path)
