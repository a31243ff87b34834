"""The `--ray` option's pure parts: addresses, the optional value, settings; and the CLI's one-line errors for
them, which come before any model or Ray starts (no ray needed)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.cli import _optional_ray_address
from rag.embedding.ray_embedder import LOCAL, RayEmbedder, check_address
from rag.errors import ConfigError
from rag.settings import Settings, from_env

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("address", ["local", "auto", "ray://head:10001", "ray://10.0.0.5:10001",
                                     "head.example.org:6379", "10.0.0.5:6379"])
def test_cluster_addresses_are_accepted(address):
    assert check_address(address) == address


@pytest.mark.parametrize("address", ["", "articles/", "articles", "data.jsonl", "http://head:8265", "ray://"])
def test_anything_else_is_one_clear_error(address):
    with pytest.raises(ConfigError, match="put the files first"):
        check_address(address)


@pytest.mark.parametrize("args, expected", [
    (["index", "build", "a", "--ray"], ["index", "build", "a", "--ray="]),
    (["index", "build", "a", "--ray", "--ray-workers", "2"], ["index", "build", "a", "--ray=", "--ray-workers", "2"]),
    (["index", "build", "a", "--ray", "auto"], ["index", "build", "a", "--ray", "auto"]),
    (["index", "build", "--ray=ray://h:10001", "a"], ["index", "build", "--ray=ray://h:10001", "a"]),
])
def test_ray_takes_an_optional_address(args, expected):
    assert _optional_ray_address(args) == expected


def test_address_and_workers_come_from_settings():
    class Local:
        model_id, dim = "m", 4

    s = Settings(ray_address="ray://head:10001", ray_workers=3)
    r = RayEmbedder.for_settings(s, Local())
    assert (r.address, r.workers, r.models_dir, r.model_id) == ("ray://head:10001", 3, None, "m")
    r = RayEmbedder.for_settings(Settings(), lambda: Local(), workers=2)  # a local Ray uses the driver's models
    assert (r.address, r.workers, r.models_dir, r.dim) == (LOCAL, 2, Settings().models_dir, 4)
    with pytest.raises(ConfigError, match="at least 1"):
        RayEmbedder(Local(), "e5-small", None, workers=0)


@pytest.mark.parametrize("env, needle", [({"SANAD_RAY_ADDRESS": "head"}, "SANAD_RAY_ADDRESS"),
                                         ({"SANAD_RAY_WORKERS": "0"}, "SANAD_RAY_WORKERS")])
def test_bad_ray_settings_are_named(env, needle):
    with pytest.raises(ConfigError, match=needle):
        from_env(env)


def test_cli_files_after_ray_are_a_one_line_error(tmp_path):
    """`sanad index build --ray FILES` takes the first file for the address: say so, before any model loads."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANAD_") or k == "SANAD_HOME"}
    env.update({"PYTHONPATH": str(ROOT), "SANAD_INDEX_DIR": str(tmp_path / "index"), "COLUMNS": "200"})
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "index", "build", "--ray", "articles/"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "put the files first" in lines[0], proc.stderr
