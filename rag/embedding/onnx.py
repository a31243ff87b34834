"""e5-small on ONNX Runtime: the same vectors as the torch pipeline, faster, with no torch at run time.

The converted sentence-transformers folder (`e5.py`) is exported once to ONNX (in a child process, so the
serving process never imports torch) and optionally quantised to int8 (VNNI). Both files are cached in
`<models>/<folder>-onnx/`, named by the source weights' sha and the precision, written aside and renamed in.

`OnnxEmbedder` needs only `onnxruntime`, `tokenizers` and numpy: tokenise, sort by length, pad per batch, run,
mean-pool over the attention mask and L2-normalise (what sentence-transformers' Pooling + Normalize do).
`embed_passages_and_sentences` pools each sentence's vector from the passage pass's token states, so sentence
vectors cost no second pass.
"""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.errors import ConfigError
from rag.storage.fsutil import fsync_dir, fsync_file

PRECISIONS = ("fp32", "int8")
MAX_TOKENS = 512  # the folder's max_seq_length, as sentence-transformers truncates
# int8: every weight MatMul gets int8 weights with a scale per output channel (dynamic uint8 activations; VNNI).
# Measured on 96 SaudiNewsNet passages, cosine to fp32 min/mean: per-tensor 0.978/0.983; per-channel 0.994/0.996;
# per-channel with the FFN output projections kept fp32 0.998/0.999 but ~25 % slower, so they are int8 too.
# Activation×activation attention products (no weights) stay fp32. Regexes over node names kept fp32:
INT8_KEEP_FP32: tuple[str, ...] = ()


def onnx_dir(folder: Path) -> Path:
    return folder.parent / f"{folder.name}-onnx"


def _source_sha(folder: Path) -> str:
    return json.loads((folder / "sanad_source.json").read_text())["sha256"][:12]


def onnx_path(folder: Path, precision: str) -> Path:
    return onnx_dir(folder) / f"e5-{_source_sha(folder)}-{precision}.onnx"


_lock = threading.Lock()


def ensure_onnx(folder: Path, precision: str = "fp32") -> Path:
    """The ONNX file for `folder` at `precision`, exported (and quantised) on first use."""
    if precision not in PRECISIONS:
        raise ConfigError(f"ONNX precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    dest = onnx_path(folder, precision)
    if dest.exists():
        return dest
    with _lock:
        if dest.exists():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        # torch is needed to export only; a child process keeps it out of this one (memory, cold start).
        cmd = [sys.executable, "-m", "rag.embedding.onnx", str(folder), precision]
        done = subprocess.run(cmd, check=False, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": _pythonpath()})
        if done.returncode != 0 or not dest.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ConfigError(f"could not export the embedding model to ONNX: {tail[0]}")
    return dest


def _pythonpath() -> str:
    here = str(Path(__file__).resolve().parents[2])  # so the child imports this same `rag`
    rest = os.environ.get("PYTHONPATH", "")
    return here + (os.pathsep + rest if rest else "")


def _publish(tmp: Path, dest: Path) -> None:
    fsync_file(tmp)
    os.replace(tmp, dest)
    fsync_dir(dest.parent)


def _export_fp32(folder: Path, dest: Path) -> None:
    import torch
    from transformers import BertModel

    model = BertModel.from_pretrained(str(folder), attn_implementation="eager").eval()

    class Hidden(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    ids = torch.ones(2, 16, dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".onnx", dir=dest.parent)
    os.close(fd)
    try:
        with torch.no_grad():
            torch.onnx.export(Hidden(model), (ids, torch.ones_like(ids)), tmp, dynamo=False, opset_version=17,
                              input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                              dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes})
        _publish(Path(tmp), dest)
    finally:
        Path(tmp).unlink(missing_ok=True)


def int8_excluded_nodes(fp32: Path, keep: tuple[str, ...] = INT8_KEEP_FP32) -> list[str]:
    """MatMul nodes a regex in `keep` finds in their name; the exporter names a MatMul after its module, e.g.
    '/m/encoder/layer.3/output/dense/MatMul'."""
    import re

    import onnx

    model = onnx.load(str(fp32), load_external_data=False)
    return [n.name for n in model.graph.node
            if n.op_type == "MatMul" and any(re.search(k, n.name) for k in keep)]


def quantize_int8(fp32: Path, dest: Path, *, per_channel: bool = True, reduce_range: bool = False,
                  keep: tuple[str, ...] = INT8_KEEP_FP32) -> None:
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fd, tmp = tempfile.mkstemp(prefix=".quant-", suffix=".onnx", dir=dest.parent)
    os.close(fd)
    try:
        quantize_dynamic(str(fp32), tmp, weight_type=QuantType.QInt8, per_channel=per_channel,
                         reduce_range=reduce_range, op_types_to_quantize=["MatMul", "Attention"],
                         nodes_to_exclude=int8_excluded_nodes(fp32, keep),
                         # fused contrib ops (Attention, SkipLayerNormalization) defeat ONNX shape inference
                         extra_options={"DefaultTensorType": TensorProto.FLOAT})
        _publish(Path(tmp), dest)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _build(folder: Path, precision: str) -> None:
    fp32 = onnx_path(folder, "fp32")
    if not fp32.exists():
        _export_fp32(folder, fp32)
    if precision == "int8":
        quantize_int8(fp32, onnx_path(folder, "int8"))


@dataclass
class OnnxEmbedder:
    """The `Embedder` protocol on ONNX Runtime. `pool_sentences` turns on the one-pass sentence vectors."""

    folder: Path
    model_file: Path
    model_id: str
    query_prefix: str = "query: "
    passage_prefix: str = "passage: "
    pool_sentences: bool = True
    threads: int = 0  # 0: all cores
    dim: int = field(init=False)

    def __post_init__(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        opts = ort.SessionOptions()
        # One thread pool sized to the cores, no inter-op pool: two pools (or torch's + ORT's) on 2 cores
        # fight each other (140 ms vs 43 ms a query measured with torch and numpy both at 2 threads).
        opts.intra_op_num_threads = self.threads or max(1, os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle ORT threads must not spin: the numpy search that follows a query embedding needs those cores.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(self.model_file), opts, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.dim = int(json.loads((self.folder / "config.json").read_text())["hidden_size"])
        if not self.pool_sentences:  # embed_with_sentences then embeds sentences as texts of their own
            self.embed_passages_and_sentences = None  # type: ignore[assignment]

    # --- Embedder protocol -------------------------------------------------------------------------------------
    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._embed([self.query_prefix + t for t in texts], 32, None)[0]

    def embed_passages(self, texts: list[str], batch_size: int = 32, progress=None) -> np.ndarray:
        return self._embed([self.passage_prefix + t for t in texts], batch_size, progress)[0]

    def token_states(self, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each text as given (no prefix added), its tokens' character offsets and last-layer states (what
        the span reader reads, rag/answering/reader.py)."""
        out: list = [None] * len(texts)

        def keep(i: int, enc, states: np.ndarray) -> None:
            out[i] = (np.asarray(enc.offsets, np.int64), states)

        self._embed(texts, 16, None, keep)
        return out

    def count_tokens(self, text: str) -> int:
        return len(self._plain_tokenizer.encode(text, add_special_tokens=False).ids)

    @functools.cached_property
    def _plain_tokenizer(self):
        """An untruncated copy for counting, loaded on first use (a second load costs ~1 s at start-up)."""
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        tok.no_padding()
        tok.no_truncation()
        return tok

    def embed_passages_and_sentences(self, texts: list[str], spans: list[list[tuple[int, int]]], progress=None,
                                     batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """Passage vectors and, from the same token states, each sentence's vector: the mean of the tokens
        inside its character span (shifted by the prefix), L2-normalised. A sentence cut off by truncation
        (no tokens left) is embedded on its own. `progress` counts passages plus sentences, like the
        two-pass seam."""
        shift = len(self.passage_prefix)
        shifted = [[(s + shift, e + shift) for s, e in sp] for sp in spans]
        n_sent = sum(len(sp) for sp in spans)
        sent = np.zeros((n_sent, self.dim), np.float32)
        starts = np.cumsum([0] + [len(sp) for sp in spans])
        missing: list[int] = []

        def pool(i: int, enc, states: np.ndarray) -> None:
            offs = np.asarray(enc.offsets, np.int64)  # (tokens, 2); special tokens are (0, 0)
            real = offs[:, 1] > offs[:, 0]
            done = 0
            for j, (s, e) in enumerate(shifted[i]):
                inside = real & (offs[:, 0] < e) & (offs[:, 1] > s)
                row = starts[i] + j
                if inside.any():
                    sent[row] = states[inside].mean(axis=0)
                    done += 1
                else:
                    missing.append(row)
            if progress:
                progress(1 + done)

        passages, _ = self._embed([self.passage_prefix + t for t in texts], batch_size, None, pool)
        if missing:
            flat = [t[s:e] for t, sp in zip(texts, spans) for s, e in sp]
            sent[missing] = self.embed_passages([flat[r] for r in missing], batch_size, progress)
        return passages, _unit(sent) if n_sent else sent

    # --- engine ------------------------------------------------------------------------------------------------
    def _embed(self, texts: list[str], batch_size: int, progress, per_text=None) -> tuple[np.ndarray, int]:
        """Vectors in input order. Texts run in batches of similar length (sorted), each padded only to its
        longest, so short texts do not pay for long ones. `per_text(i, encoding, token_states)` sees each
        text's unpadded states."""
        out = np.zeros((len(texts), self.dim), np.float32)
        if not texts:
            return out, 0
        encs = self.tokenizer.encode_batch(texts)
        order = np.argsort([len(e.ids) for e in encs], kind="stable")
        tokens = 0
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            width = max(len(encs[i].ids) for i in idx)
            ids = np.ones((len(idx), width), np.int64)  # 1 = <pad>; masked out anyway
            mask = np.zeros((len(idx), width), np.int64)
            for r, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[r, :n] = encs[i].ids
                mask[r, :n] = 1
            states = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            m = mask[:, :, None].astype(np.float32)
            out[idx] = (states * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            tokens += int(mask.sum())
            if per_text is not None:
                for r, i in enumerate(idx):
                    per_text(int(i), encs[i], states[r, :len(encs[i].ids)])
            if progress:
                progress(len(idx))
        return _unit(out), tokens


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def load_onnx_embedder(folder: Path, precision: str, base_id: str, pool_sentences: bool = True) -> OnnxEmbedder:
    model_file = ensure_onnx(folder, precision)
    # fp32 computes torch's vectors (cosine ≥ 0.999, the same rankings), so it keeps torch's model_id: indexes
    # built by either are searched by either. int8 vectors differ: their own id, their own indexes.
    model_id = base_id if precision == "fp32" else f"{base_id}+onnx-{precision}"
    return OnnxEmbedder(folder, model_file, model_id, pool_sentences=pool_sentences)


if __name__ == "__main__":  # the export child: python -m rag.embedding.onnx <folder> <precision>
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    _build(Path(sys.argv[1]), sys.argv[2])
