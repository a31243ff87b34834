"""One typed settings object, read from `SANAD_*` environment variables."""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path

import platformdirs

from rag.errors import ConfigError

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
    # How e5-small runs: "onnx" (ONNX Runtime fp32: torch's vectors, a cold start of ~3 s instead of ~10 s),
    # "torch" (sentence-transformers) or "onnx-int8" (per-channel int8 weights, VNNI: 3× faster builds, its own
    # model_id). Other models always run on torch.
    embed_engine: str = "onnx"
    # ONNX engines: sentence vectors "pooled" from the passage pass's token states (no second pass), or embedded
    # "separate"ly. Pooled measured worse on ARCD train (int8: fused MRR@10 Arabic 0.838 vs 0.857), so separate.
    embed_sentences: str = "separate"
    backend: str = "extractive"  # extractive | llamacpp | openai
    # Which questions the span reader (rag/answering/reader.py, its own adapted e5 on ONNX) reads: "all", "cross"
    # (only those over sources in another language) or "off" (the span cues alone). ARCD train's held-out
    # articles, short-answer F1 Arabic: off 0.312, all 0.485 (English 0.264 → 0.408 either way).
    reader: str = "all"
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
    # LLM answers run at most `llm_concurrency` at once with `llm_queue` more waiting; beyond that a request
    # is told "busy" at once, so generating answers can never take the workers extractive answers need.
    llm_concurrency: int = 1
    llm_queue: int = 8
    auth: str = ""  # "user:password[,user2:password2]" or the path of a file with one user:password a line
    allow_no_auth: bool = False  # serve beyond loopback without auth (explicit opt-in)
    uploads: bool = False  # the UI's "add articles" box; off unless asked for
    plugins: str = ""  # comma-separated modules with `register_backends(register)` (rag/backends/registry.py)
    # `sanad index build --ray`: the Ray cluster to embed on ("" or "local": a private Ray on this machine;
    # "auto", "ray://host:10001", "host:6379": a cluster) and how many embedding actors (one model each).
    ray_address: str = ""
    ray_workers: int = 1
    # Where the index lives: "faiss" (files in index_dir, the default) or "milvus" (rag/storage/milvus.py, the
    # `milvus` extra): `milvus_uri` a local milvus-lite `*.db` file (default <home>/milvus.db) or http://host:19530.
    store: str = "faiss"
    # Passages embedded per checkpoint of a build: a killed build resumes from its last whole batch.
    build_batch: int = 2000
    # Above this many passages an index is served approximately (HNSW passages, IVF-PQ sentence candidates,
    # fp16 sentence vectors memory-mapped) with its recall@10 against exact search measured at build time;
    # at or below it search stays exact (flat FAISS, a full fp32 sentence scan), as it always was.
    exact_max: int = 20_000
    milvus_uri: str = ""
    milvus_token: str = ""  # "user:password" or an API key, for a Milvus server with authentication

    @property
    def milvus_target(self) -> str:
        return self.milvus_uri or str(self.home / "milvus.db")

    @property
    def index_path(self) -> Path:
        return self.index_dir / check_index_name(self.index_name)

    @property
    def models_dir(self) -> Path:
        return self.home / "models"


_INDEX_NAME = re.compile(r"[\w-][\w.-]{0,99}")  # \w: Unicode letters, digits and _


def check_index_name(name: str) -> str:
    """An index name is one plain folder name inside the index folder: no paths, no leading dot, no `..`."""
    if not isinstance(name, str) or not _INDEX_NAME.fullmatch(name):
        from rag.errors import IndexProblem

        raise IndexProblem(f"index name {name!r} is not a plain name: use letters, digits, '.', '_' and '-' "
                           "(at most 100, not starting with '.')")
    return name


EMBED_NAMES = ("e5-small", "use-multilingual")
READER_MODES = ("cross", "all", "off")
# Where `--ray` embeds: a private local Ray, the cluster this machine joined, a Ray client or a GCS address.
RAY_ADDRESS = re.compile(r"auto|local|ray://[\w.\-\[\]:]+|[\w.\-]+:\d{1,5}")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
# Lowest (and highest) value each number may take; anything else is a mistake caught at start-up.
_BOUNDS: dict[str, tuple[float, float]] = {
    "top_k": (1, 100), "dense_weight": (0.0, 1.0), "min_score": (-1.0, 1.0), "min_score_cross": (-1.0, 1.0),
    "llm_timeout": (0.1, 86400), "llm_max_tokens": (1, 1 << 20), "llm_context": (256, 1 << 21),
    "max_question_chars": (1, 1 << 20), "llm_concurrency": (1, 1024), "llm_queue": (0, 100_000),
    "ray_workers": (1, 100_000), "build_batch": (1, 10_000_000), "exact_max": (0, 1 << 40),
}


def _var(name: str) -> str:
    return f"SANAD_{name.upper()}"


def _coerce(value: str, typ, name: str = "value"):
    """`value` as the field's type; ConfigError naming the variable and the expected type otherwise."""
    typ = getattr(typ, "__name__", typ)
    var = _var(name)
    if typ == "Path":
        return Path(value).expanduser()
    if typ == "bool":
        low = value.strip().lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        raise ConfigError(f"{var}={value!r} is not a boolean; use 1/0, true/false, yes/no or on/off")
    if typ in ("int", "float"):
        try:
            number = int(value) if typ == "int" else float(value)
        except ValueError:
            kind = "an integer" if typ == "int" else "a number"
            raise ConfigError(f"{var}={value!r} is not {kind}") from None
        if typ == "float" and not math.isfinite(number):
            raise ConfigError(f"{var}={value!r} is not a finite number")
        low, high = _BOUNDS.get(name, (-math.inf, math.inf))
        if not low <= number <= high:
            raise ConfigError(f"{var}={value!r} is out of range; expected {low:g} to {high:g}")
        return number
    return value


STORES = ("faiss", "milvus")
EMBED_ENGINES = ("torch", "onnx", "onnx-int8")
EMBED_SENTENCES = ("pooled", "separate")


def _check(s: Settings) -> Settings:
    """Values that parse but cannot work: name the variable and what it accepts."""
    if s.store not in STORES:
        raise ConfigError(f"SANAD_STORE={s.store!r} is not a store; use one of {', '.join(STORES)}")
    if s.embed_engine not in EMBED_ENGINES:
        raise ConfigError(f"SANAD_EMBED_ENGINE={s.embed_engine!r} is not an engine; use one of {', '.join(EMBED_ENGINES)}")
    if s.reader not in READER_MODES:
        raise ConfigError(f"SANAD_READER={s.reader!r}: use one of {', '.join(READER_MODES)}")
    if s.embed_sentences not in EMBED_SENTENCES:
        raise ConfigError(f"SANAD_EMBED_SENTENCES={s.embed_sentences!r}: use one of {', '.join(EMBED_SENTENCES)}")
    if s.embed_model not in EMBED_NAMES:
        folder = Path(s.embed_model).expanduser()
        if not ((folder / "modules.json").is_file() or (folder / "config.json").is_file()):
            raise ConfigError(f"SANAD_EMBED_MODEL={s.embed_model!r} is neither {' nor '.join(map(repr, EMBED_NAMES))}"
                                " nor a sentence-transformers folder (one with modules.json or config.json)")
    if s.ray_address and not RAY_ADDRESS.fullmatch(s.ray_address):
        raise ConfigError(f"SANAD_RAY_ADDRESS={s.ray_address!r} is not 'local', 'auto', 'ray://host:port' "
                          "or 'host:port'")
    return s


def from_env(env: dict[str, str] | None = None) -> Settings:
    """Settings with every `SANAD_<FIELD>` variable applied, e.g. SANAD_TOP_K=8, SANAD_HOME=/data/sanad.

    A value of the wrong type or range raises ConfigError (one line, naming the variable)."""
    env = os.environ if env is None else env
    overrides = {}
    for f in fields(Settings):
        raw = env.get(_var(f.name))
        if raw not in (None, ""):
            overrides[f.name] = _coerce(raw, f.type, f.name)
    return _check(replace(Settings(), **overrides))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return from_env()
