"""One typed settings object, read from `SANAD_*` environment variables."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path

import platformdirs

PACKAGE_DIR = Path(__file__).resolve().parent
SEEDS_DIR = PACKAGE_DIR / "data" / "seeds"
_CHECKOUT_INDEX = PACKAGE_DIR.parent / "index"


def _default_index_dir() -> Path:
    # In a source checkout built indexes live in the repo's `index/`; an installed package uses the cache.
    if (_CHECKOUT_INDEX / "README.md").exists():
        return _CHECKOUT_INDEX
    return Path(platformdirs.user_cache_dir("sanad")) / "index"


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=lambda: Path(platformdirs.user_cache_dir("sanad")))
    index_dir: Path = field(default_factory=_default_index_dir)
    index_name: str = "default"
    embed_model: str = "e5-small"  # "e5-small", "use-multilingual", or a sentence-transformers folder
    backend: str = "extractive"  # extractive | llamacpp | openai
    top_k: int = 5
    # Weight of the dense z-score in the fused score (BM25 gets the rest); tuned on ARCD train only
    # (`sanad eval fusion`: MRR@10 0.857 at 0.4 and 0.5, 0.854 at 0.6, 0.839 at 0.8).
    dense_weight: float = 0.5
    # Top dense score below which nothing is relevant enough to answer from (`sanad eval threshold`). On the seed
    # gold set answerable Arabic questions score ≥ 0.82 and off-topic ones 0.74–0.80; cross-lingual scores run
    # lower (answerable English ≥ 0.75, off-topic 0.72–0.745), hence two thresholds.
    min_score: float = 0.815
    min_score_cross: float = 0.75
    llm_gguf: str = ""  # path to a GGUF; empty = the assembled Qwen2.5 model in `home`
    llm_base_url: str = ""
    llm_model: str = "sanad"
    llm_api_key: str = "not-needed"
    llm_timeout: float = 120.0
    llm_max_tokens: int = 384
    llm_context: int = 4096
    max_question_chars: int = 2000
    plugins: str = ""  # comma-separated modules with `register_backends(register)` (rag/backends/registry.py)

    @property
    def index_path(self) -> Path:
        return self.index_dir / self.index_name

    @property
    def models_dir(self) -> Path:
        return self.home / "models"


def _coerce(value: str, typ):
    if typ in (Path, "Path"):
        return Path(value).expanduser()
    if typ in (int, "int"):
        return int(value)
    if typ in (float, "float"):
        return float(value)
    return value


def from_env(env: dict[str, str] | None = None) -> Settings:
    """Settings with every `SANAD_<FIELD>` variable applied, e.g. SANAD_TOP_K=8, SANAD_HOME=/data/sanad."""
    env = os.environ if env is None else env
    overrides = {}
    for f in fields(Settings):
        raw = env.get(f"SANAD_{f.name.upper()}")
        if raw not in (None, ""):
            overrides[f.name] = _coerce(raw, f.type)
    return replace(Settings(), **overrides)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return from_env()
