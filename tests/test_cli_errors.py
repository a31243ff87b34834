"""Bad settings and options: one line on stderr starting "error:", exit code 2, never a traceback.

The real CLI runs in subprocesses (`python -m rag.cli`); every case fails before any model loads. The pure
pieces behind them (settings parsing, the password list, the loopback test, the LLM gate) are checked
directly too.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parents[1]


def sanad(*args: str, env: dict[str, str] | None = None, tmp: Path) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SANAD_") or k == "SANAD_HOME"}
    base.update({"PYTHONPATH": str(ROOT), "SANAD_INDEX_DIR": str(tmp / "index"), "COLUMNS": "200"})
    base.update(env or {})
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], env=base, cwd=tmp, capture_output=True,
                          text=True, timeout=120)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-1500:])
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


Q = "من هو وزير الخارجية الروسي؟"


@pytest.mark.process
@pytest.mark.parametrize("var, value, needles", [
    ("SANAD_TOP_K", "abc", ["SANAD_TOP_K", "integer"]),
    ("SANAD_TOP_K", "0", ["SANAD_TOP_K", "range"]),
    ("SANAD_DENSE_WEIGHT", "heavy", ["SANAD_DENSE_WEIGHT", "number"]),
    ("SANAD_DENSE_WEIGHT", "nan", ["SANAD_DENSE_WEIGHT", "finite"]),
    ("SANAD_LLM_TIMEOUT", "-1", ["SANAD_LLM_TIMEOUT", "range"]),
    ("SANAD_UPLOADS", "maybe", ["SANAD_UPLOADS", "boolean"]),
    ("SANAD_BACKEND", "gpt5", ["SANAD_BACKEND", "extractive, llamacpp, openai"]),
    ("SANAD_EMBED_MODEL", "/no/such/folder", ["SANAD_EMBED_MODEL", "sentence-transformers folder"]),
    ("SANAD_EMBED_MODEL", "labse", ["SANAD_EMBED_MODEL", "e5-small"]),
])
def test_bad_setting_is_one_line(tmp_path, var, value, needles):
    assert_one_line_error(sanad("search", Q, env={var: value}, tmp=tmp_path), *needles)


@pytest.mark.process
@pytest.mark.parametrize("args, needles", [
    (["search", Q, "--method", "foo"], ["--method 'foo'", "dense, bm25, fused"]),
    (["search", Q, "-k", "0"], ["-k", "between 1 and 100", "got 0"]),
    (["search", Q, "-k", "10000"], ["got 10000"]),
    (["search", Q, "-k", "abc"], ["-k", "valid integer"]),
    (["ask", Q, "-k", "0"], ["got 0"]),
    (["search"], ["Missing argument"]),
    (["nosuchcommand"], ["No such command"]),
    (["serve", "--port", "0"], ["--port"]),
])
def test_bad_option_is_one_line(tmp_path, args, needles):
    assert_one_line_error(sanad(*args, tmp=tmp_path), *needles)


@pytest.mark.process
def test_bad_setting_stops_serve_too(tmp_path):
    assert_one_line_error(sanad("serve", env={"SANAD_LLM_QUEUE": "lots"}, tmp=tmp_path), "SANAD_LLM_QUEUE")


@pytest.mark.process
@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "example.org"])
def test_serve_beyond_loopback_needs_a_password(tmp_path, host):
    line = assert_one_line_error(sanad("serve", "--host", host, tmp=tmp_path), "SANAD_AUTH", "--insecure-no-auth")
    assert host in line


@pytest.mark.process
def test_malformed_password_list_is_one_line(tmp_path):
    line = assert_one_line_error(sanad("serve", "--host", "0.0.0.0", env={"SANAD_AUTH": "alice:pw,bob"},
                                       tmp=tmp_path), "SANAD_AUTH", "entry 2")
    assert "pw" not in line.replace("password", "")  # no password echoed


# ------------------------------------------------------------------------------- the pure pieces

def test_from_env_parses_types():
    from rag.settings import from_env

    s = from_env({"SANAD_UPLOADS": "yes", "SANAD_ALLOW_NO_AUTH": "0", "SANAD_LLM_QUEUE": " 3 ",
                  "SANAD_LLM_CONCURRENCY": "2", "SANAD_AUTH": "a:b"})
    assert (s.uploads, s.allow_no_auth, s.llm_queue, s.llm_concurrency, s.auth) == (True, False, 3, 2, "a:b")
    d = from_env({})
    assert (d.uploads, d.allow_no_auth, d.llm_concurrency, d.llm_queue, d.auth) == (False, False, 1, 8, "")


def test_loopback_hosts():
    from ui.access import is_loopback

    assert all(map(is_loopback, ["127.0.0.1", "127.5.6.7", "::1", "[::1]", "localhost", "LOCALHOST"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "10.0.0.1", "192.168.1.2", "example.org", ""]))


def test_password_list_inline_and_file(tmp_path):
    from rag.errors import ConfigError
    from ui.access import check_exposure, parse_auth

    assert parse_auth("alice:s3:cret, bob:pw") == [("alice", "s3:cret"), ("bob", "pw")]
    f = tmp_path / "users"
    f.write_text("# users\nalice:one\n\ncarol:two/three\n", encoding="utf-8")
    assert parse_auth(str(f)) == [("alice", "one"), ("carol", "two/three")]
    assert parse_auth("") == []
    for bad in ["alice", ":pw", "alice:", str(tmp_path / "missing"), str(tmp_path)]:
        with pytest.raises(ConfigError):
            parse_auth(bad)
    check_exposure("127.0.0.1", [], False)
    check_exposure("0.0.0.0", [("a", "b")], False)
    check_exposure("0.0.0.0", [], True)
    with pytest.raises(ConfigError):
        check_exposure("0.0.0.0", [], False)


def test_gate_admits_in_order_and_turns_away_beyond_the_line():
    from ui.gate import LLMBusy, LLMGate

    gate = LLMGate(capacity=1, queue=2)
    first = gate.join()
    assert first.admitted
    second, third = gate.join(), gate.join()
    assert (gate.position(second), gate.position(third)) == (1, 2)
    with pytest.raises(LLMBusy, match="busy"):
        gate.join()
    assert not gate.wait(second, 0.05)
    gate.leave(second)  # a waiting client that went away
    assert gate.position(third) == 1
    woke = threading.Event()
    t = threading.Thread(target=lambda: gate.wait(third, 5) and woke.set())
    t.start()
    gate.leave(first)
    t.join(5)
    assert woke.is_set() and gate.stats() == (1, 0)
    gate.leave(third)
    gate.leave(third)  # twice is harmless
    assert gate.stats() == (0, 0)
