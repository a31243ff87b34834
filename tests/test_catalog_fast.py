"""The index catalog and on-demand records (`rag.storage.catalog`): the same passages, articles and metadata as
parsing everything, an older index upgraded in place, damage reported; hash vectors, no model."""
from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import HashEmbedder, loaded
from rag.errors import IndexProblem
from rag.search.retrieval import Retriever
from rag.storage import catalog as cat_mod
from rag.storage.catalog import Records, catalog_of
from rag.storage.index import _article_from_dict, _passage_from_dict, build_index, load_index, read_manifest
from rag.types import Article

pytestmark = pytest.mark.fast


def _eager(path):
    files = read_manifest(path)["files"]
    ps = [_passage_from_dict(json.loads(line)) for line in (path / files["passages"]).read_text().splitlines()]
    arts = [_article_from_dict(json.loads(line)) for line in (path / files["articles"]).read_text().splitlines()]
    return ps, arts


def _same_catalog(a, b):
    for field in cat_mod._FIELDS:
        assert np.array_equal(getattr(a, field), getattr(b, field)), field


def _news_articles():
    base = loaded(*range(6)).articles
    return [Article(**{**a.__dict__, "source": ["Okaz", "", "sabq"][i % 3], "date": f"2015-0{i + 1}-1{i}",
                       "url": f"http://x/{i}"}) for i, a in enumerate(base)]


def test_records_are_read_on_demand_and_equal_the_parsed_ones(tmp_path):
    from rag.ingest.corpus import LoadResult

    build_index(tmp_path / "ix", LoadResult(articles=_news_articles()), HashEmbedder())
    index = load_index(tmp_path / "ix")
    assert isinstance(index.passages, Records) and isinstance(index.articles, Records)
    ps, arts = _eager(tmp_path / "ix")
    assert list(index.passages) == ps and list(index.articles) == arts
    assert [index.passages[i] for i in (0, 3, len(ps) - 1, -1)] == [ps[0], ps[3], ps[-1], ps[-1]]
    assert index.passages[1:3] == ps[1:3]
    with pytest.raises(IndexError):
        index.passages[len(ps)]
    _same_catalog(index.catalog, catalog_of(ps, arts))
    assert index.catalog.outlets[0] == "okaz" and index.catalog.url(0) == "http://x/0"


def test_the_retriever_gets_outlets_dates_and_urls_from_the_catalog(tmp_path):
    from rag.ingest.corpus import LoadResult
    from rag.query import Filters

    build_index(tmp_path / "ix", LoadResult(articles=_news_articles()), HashEmbedder())
    r = Retriever(load_index(tmp_path / "ix"), HashEmbedder(), dense_weight=0.5)
    hits = r.search("الحكومة الوزير", 20, "bm25")
    by_article = {a.id: a for a in _news_articles()}
    for h in hits:
        a = by_article[h.passage.article_id]
        assert (h.outlet, h.date, h.url) == ((a.source or h.passage.source).lower(), a.date, a.url)
    only = r.search("الحكومة الوزير", 20, "bm25", filters=Filters(outlets=("sabq",), date_from="2015-03-01"))
    assert only and {h.outlet for h in only} == {"sabq"} and all(h.date >= "2015-03-01" for h in only)


def test_an_index_stored_before_catalogs_loads_and_the_next_build_adds_one(tmp_path):
    data = loaded(*range(5))
    build_index(tmp_path / "ix", data, HashEmbedder())
    built = load_index(tmp_path / "ix").catalog
    m = read_manifest(tmp_path / "ix")
    before = m["files"].pop("catalog")
    (tmp_path / "ix" / "manifest.json").write_text(json.dumps(m))
    old = load_index(tmp_path / "ix")
    assert isinstance(old.passages, list)  # parsed, as before catalogs
    _same_catalog(old.catalog, built)
    build_index(tmp_path / "ix", data, HashEmbedder())  # nothing new: adds the catalog
    after = read_manifest(tmp_path / "ix")["files"]
    assert after["catalog"] != before and {k: v for k, v in after.items() if k != "catalog"} == m["files"]
    new = load_index(tmp_path / "ix")
    assert isinstance(new.passages, Records) and list(new.passages) == list(old.passages)
    _same_catalog(new.catalog, built)


def test_a_passage_file_that_does_not_match_its_catalog_is_reported(tmp_path):
    build_index(tmp_path / "ix", loaded(*range(3)), HashEmbedder())
    f = tmp_path / "ix" / read_manifest(tmp_path / "ix")["files"]["passages"]
    f.write_bytes(f.read_bytes()[:-10])
    with pytest.raises(IndexProblem, match="corrupt"):
        load_index(tmp_path / "ix")


def test_the_default_index_stored_before_catalogs_and_lexicons_is_upgraded_on_start(tmp_path, monkeypatch):
    from rag.settings import get_settings
    from rag.storage.index import index_state
    from rag.storage.lifecycle import ensure_default_index

    monkeypatch.setenv("SANAD_INDEX_DIR", str(tmp_path / "indexes"))
    get_settings.cache_clear()
    settings = get_settings()
    build_index(settings.index_path, loaded(*range(3)), HashEmbedder())
    m = read_manifest(settings.index_path)
    for part in ("catalog", "lexicon"):
        m["files"].pop(part)
    (settings.index_path / "manifest.json").write_text(json.dumps(m))
    assert index_state(settings.index_path) == "upgradable"
    passages = list(load_index(settings.index_path).passages)
    assert ensure_default_index(settings, embedder=HashEmbedder) is None
    assert index_state(settings.index_path) == "current"
    index = load_index(settings.index_path)
    assert list(index.passages) == passages and index.lexicon is not None
    get_settings.cache_clear()
