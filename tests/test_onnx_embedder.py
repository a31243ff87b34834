"""The ONNX Runtime engine for e5-small: same vectors as torch (fp32), close ones (int8), sentence vectors pooled
from the passage pass, no torch at run time, and an index can tell which engine built it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.embedding.embedders import embed_with_sentences, load_embedder
from rag.errors import ConfigError
from rag.ingest.chunking import sentence_spans
from rag.settings import from_env

ROOT = Path(__file__).resolve().parents[1]
# Bar for int8: per-channel int8 weights measured 0.994 min cosine to fp32 on SaudiNewsNet passages (0.978 with
# per-tensor weights); a broken quantisation (or a wrong model) lands far below.
INT8_MIN_COSINE = 0.99

TEXTS = [
    ("أعلنت وزارة الصحة السعودية اليوم عن افتتاح مستشفى جديد في الرياض. ويضم المستشفى ثلاثمئة سرير! "
     "وقال الوزير إن المشروع يخدم أكثر من مليون نسمة؟"),
    "The football team won the league final in Jeddah last night. Fans celebrated until the morning.",
    "ارتفعت أسعار النفط في الأسواق العالمية.",
    "قصير",
]
QUERIES = ["متى افتتح المستشفى الجديد في الرياض؟", "Who won the league final?"]


@pytest.fixture(scope="module")
def engines(settings):
    m = settings.models_dir
    return {e: load_embedder("e5-small", m, e, "pooled") for e in ("torch", "onnx", "onnx-int8")}


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


def test_onnx_fp32_vectors_match_torch(engines):
    torch_e, onnx_e = engines["torch"], engines["onnx"]
    assert onnx_e.dim == torch_e.dim == 384
    np.testing.assert_allclose(onnx_e.embed_passages(TEXTS), torch_e.embed_passages(TEXTS), atol=2e-4)
    np.testing.assert_allclose(onnx_e.embed_queries(QUERIES), torch_e.embed_queries(QUERIES), atol=2e-4)
    assert [onnx_e.count_tokens(t) for t in TEXTS] == [torch_e.count_tokens(t) for t in TEXTS]


def test_onnx_batches_return_input_order(engines):
    # Length bucketing sorts texts; vectors must come back in the caller's order, whatever the batch size.
    e = engines["onnx"]
    one_by_one = np.concatenate([e.embed_passages([t]) for t in TEXTS])
    np.testing.assert_allclose(e.embed_passages(TEXTS, batch_size=3), one_by_one, atol=1e-5)
    assert np.allclose(np.linalg.norm(one_by_one, axis=1), 1, atol=1e-5)


def test_int8_stays_close_to_fp32(engines):
    ref, q8 = engines["torch"], engines["onnx-int8"]
    assert _cos(q8.embed_passages(TEXTS), ref.embed_passages(TEXTS)).min() >= INT8_MIN_COSINE
    assert _cos(q8.embed_queries(QUERIES), ref.embed_queries(QUERIES)).min() >= INT8_MIN_COSINE


def test_pooled_sentence_vectors_shape_order_and_meaning(engines):
    e, ref = engines["onnx"], engines["torch"]
    spans = [sentence_spans(t) for t in TEXTS]
    n = sum(map(len, spans))
    assert n >= 6
    passages, sents = e.embed_passages_and_sentences(TEXTS, spans)
    assert passages.shape == (len(TEXTS), 384) and sents.shape == (n, 384)
    np.testing.assert_allclose(passages, e.embed_passages(TEXTS), atol=1e-5)  # the same single pass
    assert np.allclose(np.linalg.norm(sents, axis=1), 1, atol=1e-5)
    # In order: each pooled sentence vector is close to its own sentence embedded on its own, closer than to any
    # sentence of another passage (within a passage, context is shared: neighbours may come close).
    alone = ref.embed_passages([t[s:x] for t, sp in zip(TEXTS, spans) for s, x in sp])
    owner = np.repeat(np.arange(len(TEXTS)), [len(sp) for sp in spans])
    sims = sents @ alone.T
    assert np.diag(sims).min() > 0.85
    for i in range(n):
        assert sims[i, i] > sims[i, owner != owner[i]].max()
    # Batch order does not leak: the same passages reversed give the same sentence vectors reversed per passage.
    _, rev = e.embed_passages_and_sentences(TEXTS[::-1], spans[::-1])
    back = np.concatenate([rev[owner[::-1] == k] for k in range(len(TEXTS))])
    np.testing.assert_allclose(back, sents, atol=1e-5)


def test_sentence_cut_off_by_truncation_is_embedded_on_its_own(engines):
    e = engines["onnx"]
    long = "كلمة " * 600 + "هذه الجملة الأخيرة."
    spans = [[(0, 5), (len(long) - len("هذه الجملة الأخيرة."), len(long))]]
    _, sents = e.embed_passages_and_sentences([long], spans)
    np.testing.assert_allclose(sents[1], e.embed_passages(["هذه الجملة الأخيرة."])[0], atol=1e-5)


def test_separate_mode_embeds_sentences_as_texts(settings, engines):
    sep = load_embedder("e5-small", settings.models_dir, "onnx", "separate")
    spans = [sentence_spans(t) for t in TEXTS]
    _, sents = embed_with_sentences(sep, TEXTS, spans)
    alone = engines["onnx"].embed_passages([t[s:x] for t, sp in zip(TEXTS, spans) for s, x in sp])
    np.testing.assert_allclose(sents, alone, atol=1e-5)


def test_model_id_names_int8_but_not_fp32(engines):
    ids = {e: emb.model_id for e, emb in engines.items()}
    assert ids["onnx"] == ids["torch"]  # the same vectors: an index built by one is searched by the other
    assert ids["onnx-int8"] == ids["torch"] + "+onnx-int8"
    assert ids["torch"].startswith("multilingual-e5-small-q4@") and "onnx" not in ids["torch"]


def test_onnx_engine_imports_no_torch(settings, engines):
    # A fresh process (cold start) on the ONNX engine: embedding must not pull in torch or transformers.
    code = (
        "import sys, json\n"
        "from rag.embedding.embedders import embed_with_sentences, get_embedder\n"
        "e = get_embedder()\n"
        "v = e.embed_queries(['ما هي عاصمة السعودية؟'])\n"
        "embed_with_sentences(e, ['الرياض عاصمة السعودية. وهي مدينة كبيرة.'], [[(0, 22), (23, 40)]])\n"
        "print(json.dumps([e.model_id, v.shape[1], sorted(m for m in ('torch', 'transformers', "
        "'sentence_transformers') if m in sys.modules)]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SANAD_EMBED_ENGINE": "onnx-int8", "SANAD_HOME": str(settings.home)}
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    model_id, dim, heavy = json.loads(out.stdout.strip().splitlines()[-1])
    assert model_id == engines["onnx-int8"].model_id and dim == 384
    assert heavy == []


def test_engine_setting_is_checked():
    assert from_env({"SANAD_EMBED_ENGINE": "onnx-int8"}).embed_engine == "onnx-int8"
    with pytest.raises(ConfigError, match="SANAD_EMBED_ENGINE"):
        from_env({"SANAD_EMBED_ENGINE": "tensorrt"})
    with pytest.raises(ConfigError, match="SANAD_EMBED_SENTENCES"):
        from_env({"SANAD_EMBED_SENTENCES": "both"})
