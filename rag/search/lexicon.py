"""A word lexicon from the index's own Arabic vocabulary, for English questions over Arabic articles.

No translation model exists offline, but the multilingual embedding model places a word near its translation:
"water" lands next to المياه, "price" next to سعر, "hospital" next to مستشفى. At build time the index's most
frequent Arabic words are embedded once (as written, in their most frequent spelling); at query time each
English content word is embedded and replaced by its nearest Arabic word's BM25 stem. Those stems give an
English question the keyword vote that BM25 otherwise gives only to questions in the passages' language
(`rag.search.fusion.translated_vote`). A word whose nearest Arabic word is not similar enough is left out
(MIN_SIMILARITY), and BM25's IDF and the vote's small weight keep the remaining misses cheap. Names translate
badly this way ("Jeddah" lands on هند); such a name is looked up by its spelling instead (`Lexicon.spelled`).

Measured with `sanad eval retrieval` (English questions over Arabic passages; fused R@5 / MRR@10, before → after):
ARCD train English (169, the tuning set) 0.935 / 0.753 → 0.947 / 0.796; seed gold English (52) 0.942 / 0.777 →
0.962 / 0.854; SaudiNewsNet news gold over the 31k-article archive (79) 0.633 / 0.540 → 0.772 / 0.588.
"""
from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import faiss
import numpy as np
import orjson

from rag.search import transliterate
from rag.text import arabic

MAX_WORDS = 60_000  # the most frequent Arabic words of an archive (SaudiNewsNet: 60k of 250k; 30k lost R@5)
EMBED_BATCH = 512
# Above this many words the vectors go into HNSW: exact search over 60k words took 17 ms for a question's 11 words,
# HNSW 4 ms, agreeing with exact on 99.5 % of real question words (efSearch 128); it builds in ~7 s.
HNSW_MIN_WORDS, HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 20_000, 32, 40, 128


@dataclass(frozen=True)
class Lexicon:
    """Arabic words (as most often written), their BM25 stems, and a FAISS inner-product index of their unit
    vectors (row i is word i)."""

    words: list[str]
    stems: list[str]
    vectors: faiss.Index
    # English words translated at build time (word → stem): an archive's lexicon pre-translates the embedding
    # tokenizer's whole Latin words, so most question words need no embedding at query time (it cost ~2.5 ms a word).
    known: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # word → `nearest` of it

    def __len__(self) -> int:
        return len(self.words)

    @cached_property
    def consonants(self) -> dict[str, list[int]]:
        """The words by consonants, for names (rag/search/transliterate.py); built on first use (~0.05 s for 60k)."""
        return transliterate.consonant_index(self.words)

    def spelled(self, name: str) -> list[str]:
        """The BM25 stems of the words that may spell the English `name` in Arabic."""
        return [self.stems[i] for i in transliterate.matches(name, self.words, self.consonants)]


def vector_index(vectors: np.ndarray) -> faiss.Index:
    """Exact inner product for a small vocabulary, HNSW above HNSW_MIN_WORDS."""
    vectors = np.ascontiguousarray(vectors, np.float32)
    if len(vectors) >= HNSW_MIN_WORDS:
        index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


def vocabulary(texts: Iterable[str], max_words: int = MAX_WORDS) -> list[str]:
    """The `max_words` most frequent Arabic content words of `texts` (normalised form counted), each in its most
    frequent written form; ties keep first-seen order, so the list is reproducible."""
    counts: Counter[str] = Counter()
    forms: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for text in texts:
        for word in arabic.content_words(text):
            norm = arabic.normalize(word)
            if arabic.has_arabic(norm):
                counts[norm] += 1
                forms[norm][word] += 1
    return [forms[w].most_common(1)[0][0] for w, _ in counts.most_common(max_words)]


def _embed_all(words: list[str], embed_queries: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    chunks = [np.asarray(embed_queries(words[i:i + EMBED_BATCH]), np.float32)
              for i in range(0, len(words), EMBED_BATCH)]
    return np.concatenate(chunks) if chunks else np.asarray(embed_queries(["."]), np.float32)[:0]


def build_lexicon(texts: Iterable[str], embed_queries: Callable[[list[str]], np.ndarray],
                  max_words: int = MAX_WORDS, english: Sequence[str] = ()) -> Lexicon:
    """The lexicon of `texts`' vocabulary; words are embedded as queries, like the English words they answer.
    `english`: words to translate now (`known`), exactly as a question's word would be at query time."""
    words = vocabulary(texts, max_words)
    lex = Lexicon(words, [arabic.stem(w) for w in words], vector_index(_embed_all(words, embed_queries)))
    if english and len(lex):
        lex.known.update(zip(english, nearest(_embed_all(list(english), embed_queries), lex)))
    return lex


_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def tokenizer_words(embedder: object) -> list[str]:
    """The Latin-script whole words of the embedder's tokenizer vocabulary (SentencePiece '▁word' pieces): the
    English words to pre-translate (~60k for e5, covering 71–76 % of the words of our English questions).
    Empty for an embedder without such a tokenizer."""
    try:
        vocab = embedder.tokenizer.get_vocab()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - no tokenizer, or another kind: nothing to pre-translate
        return []
    return sorted(w[1:] for w in vocab if w.startswith("\u2581") and _LATIN_WORD.fullmatch(w[1:]))


def translatable_words(question: str) -> list[str]:
    """The question's words to look up: Latin-script content words (digits are written alike in both languages
    and match as they are)."""
    return [w for w in arabic.content_words(question) if not w.isdigit() and not arabic.has_arabic(w)]


def nearest(word_vectors: np.ndarray, lexicon: Lexicon, k: int = 2) -> list[list[tuple[str, float]]]:
    """Each word's `k` nearest lexicon words, best first: (BM25 stem, cosine); one list per row of
    `word_vectors`."""
    if not len(word_vectors) or not len(lexicon):
        return [[] for _ in range(len(word_vectors))]
    sims, rows = lexicon.vectors.search(np.ascontiguousarray(word_vectors, np.float32), min(k, len(lexicon)))
    return [[(lexicon.stems[i], round(float(c), 4)) for i, c in zip(rs, cs) if i >= 0] for rs, cs in zip(rows, sims)]


# A translation less similar than this is a guess: "envoy" over the five seed articles (no مبعوث in their 1,611
# words) lands on ضمن ("within", 0.883), "ambassador" on صحفي (0.885); right ones score higher (UN→المتحدة 0.924,
# Syria→السورية 0.938, president→رئيس 0.934). A word whose nearest is a guess is left out. A second word as
# near as the first (within MARGIN) joins it: a word often has two Arabic forms (UN → المتحدة 0.924, الأمم
# 0.916). Chosen on ARCD train English (169; R@5 / MRR@10): no floor, first word only 0.941 / 0.793 (weight
# 0.35); floor 0.89 0.941 / 0.784; floor and second word within 0.01: 0.953 / 0.802. News gold English (79) moved
# the other way (0.797 / 0.585 → 0.759 / 0.597) and was not used to choose.
MIN_SIMILARITY, MARGIN = 0.89, 0.01


def confident_stems(translations: list[list[tuple[str, float]]], floor: float = MIN_SIMILARITY,
                    margin: float = MARGIN) -> list[str]:
    """For each word's nearest lexicon words (best first), the stems of those within `margin` of the best, when
    the best is at least `floor` similar; duplicates dropped, in order."""
    out = []
    for found in translations:
        if found and found[0][1] >= floor:
            out += [stem for stem, sim in found if sim >= found[0][1] - margin]
    return list(dict.fromkeys(out))


# -- storage: a folder of two files, written by the index's commit

WORDS_FILE, VECTORS_FILE, KNOWN_FILE = "words.json", "vectors.index", "english.json"


def save_lexicon(folder: Path, lexicon: Lexicon) -> None:
    """Write the lexicon into `folder` (created); the caller fsyncs and commits it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / WORDS_FILE).write_text(json.dumps([lexicon.words, lexicon.stems], ensure_ascii=False),
                                     encoding="utf-8")
    faiss.write_index(lexicon.vectors, str(folder / VECTORS_FILE))
    if lexicon.known:
        (folder / KNOWN_FILE).write_text(json.dumps(lexicon.known, ensure_ascii=False), encoding="utf-8")


def load_lexicon(folder: Path) -> Lexicon:
    """The lexicon in `folder`; ValueError when its parts disagree."""
    words, stems = orjson.loads((folder / WORDS_FILE).read_bytes())
    vectors = faiss.read_index(str(folder / VECTORS_FILE))
    if len(words) != len(stems) or vectors.ntotal != len(words):
        raise ValueError("lexicon words and vectors disagree")
    if isinstance(vectors, faiss.IndexHNSW):
        vectors.hnsw.efSearch = HNSW_EF_SEARCH
    known = {}
    if (folder / KNOWN_FILE).exists():
        stored = orjson.loads((folder / KNOWN_FILE).read_bytes())  # 3 MB: json.loads took 0.12 s, orjson 0.07
        if not isinstance(stored, dict):
            raise ValueError("lexicon's English words are not a mapping")
        known = {w: [(stem, float(sim)) for stem, sim in found] for w, found in stored.items()}
    return Lexicon(words, stems, vectors, known)
