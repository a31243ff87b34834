"""The LLM layer against real parts: the assembled GGUF, llama.cpp in-process, and a real OpenAI-compatible
server (`python -m llama_cpp.server`) on loopback; broken servers are real sockets too. No mocks.

Generation is slow here (2 cores, ~11 tokens/s at best), so every call asks for at most 16 tokens.
"""
from __future__ import annotations

import hashlib
import http.server
import threading
import time
from dataclasses import replace

import pytest
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from rag import llm
from rag.errors import LLMError
from rag.llm import gguf as llm_gguf_mod
from rag.llm.llamacpp import _load_llama

MAX_TOKENS = 16
MESSAGES = [
    SystemMessage("You answer in one short sentence."),
    HumanMessage("What is the capital of France?"),
]
COUNTING = [HumanMessage("Count from 1 to 20, separated by commas.")]


def _one_line(err: LLMError) -> str:
    msg = str(err)
    assert msg and "\n" not in msg and len(msg) < 400, msg
    return msg


# ------------------------------------------------------------------------------------------ the GGUF
def test_assembled_gguf_is_verified(settings, llm_gguf):
    if settings.llm_gguf:
        pytest.skip("SANAD_LLM_GGUF is set: the user's own model is not ours to verify")
    assert llm_gguf == llm_gguf_mod.default_gguf(settings)
    assert llm_gguf.stat().st_size == llm_gguf_mod.EXPECTED_SIZE
    sidecar = llm_gguf.with_name(llm_gguf.name + ".sha256")
    assert sidecar.read_text().split()[0] == llm_gguf_mod.EXPECTED_SHA256
    with open(llm_gguf, "rb") as fh:
        assert fh.read(4) == b"GGUF"
    # A second install is a cheap no-op that reports the same path.
    messages: list[str] = []
    t0 = time.perf_counter()
    assert llm.install_llm(settings, log=messages.append) == llm_gguf
    assert time.perf_counter() - t0 < 2.0
    assert any("already installed" in m for m in messages)


def test_whole_file_sha256(settings, llm_gguf):
    if settings.llm_gguf:
        pytest.skip("SANAD_LLM_GGUF is set")
    with open(llm_gguf, "rb") as fh:
        assert hashlib.file_digest(fh, "sha256").hexdigest() == llm_gguf_mod.EXPECTED_SHA256


def test_gguf_override_missing_names_the_command(settings, tmp_path):
    missing = tmp_path / "nope.gguf"
    with pytest.raises(LLMError) as exc:
        llm.gguf_path(replace(settings, llm_gguf=str(missing)))
    msg = _one_line(exc.value)
    assert "sanad models install-llm" in msg and str(missing) in msg
    with pytest.raises(LLMError):
        llm.install_llm(replace(settings, llm_gguf=str(missing)), log=lambda m: None)


def test_gguf_default_missing_names_the_command(settings, tmp_path):
    with pytest.raises(LLMError) as exc:
        llm.gguf_path(replace(settings, home=tmp_path, llm_gguf=""))
    assert "sanad models install-llm" in _one_line(exc.value)


def test_gguf_override_is_used(settings, llm_gguf):
    assert llm.gguf_path(replace(settings, llm_gguf=str(llm_gguf))) == llm_gguf


def test_available_backends(settings, llm_gguf, tmp_path):
    from rag.backends import build_registry

    registry = build_registry(settings)
    with_model = replace(settings, llm_gguf=str(llm_gguf), llm_base_url="")
    assert registry.available(with_model) == ["extractive", "llamacpp"]
    without = replace(settings, home=tmp_path, llm_gguf="", llm_base_url="")
    assert registry.available(without) == ["extractive"]
    served = replace(without, llm_base_url="http://127.0.0.1:9/v1")
    assert registry.available(served) == ["extractive", "openai"]


def test_chat_model_refuses_what_it_cannot_make(settings, tmp_path):
    with pytest.raises(LLMError) as exc:
        llm.openai_chat(replace(settings, llm_base_url=""))
    assert "SANAD_LLM_BASE_URL" in _one_line(exc.value)
    with pytest.raises(LLMError, match="install-llm"):
        llm.llamacpp_chat(replace(settings, home=tmp_path, llm_gguf=""))


# ------------------------------------------------------------------------------- real generation
@pytest.fixture(scope="module")
def llamacpp_model(settings, llm_gguf):
    return llm.llamacpp_chat(replace(settings, llm_gguf=str(llm_gguf), llm_max_tokens=MAX_TOKENS))


@pytest.fixture(scope="module")
def openai_model(settings, llm_server):
    return llm.openai_chat(replace(settings, llm_base_url=llm_server, llm_max_tokens=MAX_TOKENS, llm_timeout=120))


@pytest.mark.slow
@pytest.mark.parametrize("which", ["llamacpp_model", "openai_model"])
def test_invoke_answers(which, request):
    model = request.getfixturevalue(which)
    assert isinstance(model, BaseChatModel)
    text = llm.invoke_text(model, MESSAGES)
    assert text.strip()
    assert "paris" in text.lower()


@pytest.mark.slow
@pytest.mark.parametrize("which", ["llamacpp_model", "openai_model"])
def test_stream_yields_several_chunks(which, request):
    model = request.getfixturevalue(which)
    chunks = list(llm.stream_text(model, COUNTING))
    assert len(chunks) > 1
    assert all(isinstance(c, str) for c in chunks)
    assert "".join(chunks).strip()


@pytest.mark.slow
def test_openai_backend_respects_max_tokens(openai_model):
    # llama.cpp's server ignores `max_completion_tokens`; without the classic field it would run to n_ctx.
    chunks = list(llm.stream_text(openai_model, [HumanMessage("Count from 1 to 500, separated by commas.")]))
    assert 1 < len(chunks) <= MAX_TOKENS + 1


@pytest.mark.slow
def test_llamacpp_stream_closed_early_releases_the_model(llamacpp_model):
    stream = llm.stream_text(llamacpp_model, COUNTING)
    assert next(stream)
    stream.close()
    _, lock = _load_llama(llamacpp_model.model_path, llamacpp_model.n_ctx)
    assert lock.acquire(timeout=5), "the llama.cpp lock is still held after the stream was closed"
    lock.release()


@pytest.mark.slow
def test_llamacpp_is_safe_from_two_threads(llamacpp_model):
    results: list[object] = [None, None]

    def run(i):
        try:
            results[i] = llm.invoke_text(llamacpp_model, [HumanMessage("Say yes.")])
        except Exception as exc:  # collected and asserted below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(isinstance(r, str) and r.strip() for r in results), results


def test_llamacpp_prompt_too_long_is_an_llm_error(settings, llm_gguf):
    model = llm.llamacpp_chat(replace(settings, llm_gguf=str(llm_gguf), llm_context=128, llm_max_tokens=8))
    with pytest.raises(LLMError) as exc:
        llm.invoke_text(model, [HumanMessage("news " * 400)])
    assert "too long" in _one_line(exc.value)


# ------------------------------------------------------------------------------------ broken servers
def test_unreachable_server_is_an_llm_error(settings):
    model = llm.openai_chat(replace(settings, llm_base_url="http://127.0.0.1:9/v1", llm_timeout=3))
    t0 = time.perf_counter()
    with pytest.raises(LLMError) as exc:
        llm.invoke_text(model, MESSAGES)
    msg = _one_line(exc.value)
    assert "http://127.0.0.1:9/v1" in msg and "refused" in msg.lower()
    with pytest.raises(LLMError) as exc:
        list(llm.stream_text(model, MESSAGES))
    assert "127.0.0.1:9" in _one_line(exc.value)
    assert time.perf_counter() - t0 < 10


class _BadHandler(http.server.BaseHTTPRequestHandler):
    behaviour = "500"

    def log_message(self, *args):
        pass

    def _reply(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        kind = self.server.behaviour  # type: ignore[attr-defined]
        if kind == "500":
            self._reply(500, b'{"error": {"message": "model crashed", "type": "server_error"}}', "application/json")
        elif kind == "500-html":
            self._reply(500, b"<html><body>Internal Server Error</body></html>", "text/html")
        elif kind == "not-json":
            self._reply(200, b"this is not json at all \x00\xff", "application/json")
        elif kind == "wrong-json":
            self._reply(200, b'{"hello": "world"}', "application/json")
        elif kind == "bad-sse":
            self._reply(200, b"data: {not json}\n\n", "text/event-stream")
        elif kind == "slow":
            time.sleep(4)
            self._reply(200, b"{}", "application/json")


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # the client hung up on "slow": expected
        pass


@pytest.fixture
def bad_server(request):
    server = _QuietServer(("127.0.0.1", 0), _BadHandler)
    server.daemon_threads = True
    server.behaviour = request.param  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "bad_server", ["500", "500-html", "not-json", "wrong-json", "bad-sse", "slow"], indirect=True
)
def test_broken_server_is_an_llm_error(settings, bad_server, request):
    kind = request.node.callspec.params["bad_server"]
    model = llm.openai_chat(replace(settings, llm_base_url=bad_server, llm_timeout=1.5))
    for call in (llm.invoke_text, lambda m, msgs: "".join(llm.stream_text(m, msgs))):
        with pytest.raises(LLMError) as exc:
            call(model, MESSAGES)
        msg = _one_line(exc.value)
        assert bad_server in msg
        if kind.startswith("500"):
            assert "HTTP 500" in msg
        if kind in ("not-json", "wrong-json", "bad-sse"):
            assert "chat completion" in msg
        if kind == "slow":
            assert "did not answer within 1.5 s" in msg
