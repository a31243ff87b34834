"""The calibrated verifier on the labelled claim set's test split (real e5 model): it keeps true paraphrases and
translations and drops inventions, and it does so because of the strict checks (switch them off and it fails)."""
from __future__ import annotations

from pathlib import Path

import pytest

from rag.answering import support
from rag.evaluation.claims import load_claims, run, verify_decider

RECALL, PRECISION = 0.90, 0.95  # issue 10's target for verification


@pytest.fixture(scope="module")
def test_split():
    return [c for c in load_claims(Path("eval/gold/claims.jsonl")) if c.split == "test"]


def test_verifier_meets_the_target_on_the_test_split(test_split, sentences):
    m = run(test_split, verify_decider(sentences))["all"]
    assert m["recall"] >= RECALL and m["precision"] >= PRECISION, m


def test_without_the_strict_checks_the_target_is_missed(test_split, sentences, monkeypatch):
    monkeypatch.setattr(support, "check", lambda claim, source, title="": [])
    m = run(test_split, verify_decider(sentences))["all"]
    assert not (m["recall"] >= RECALL and m["precision"] >= PRECISION), m
