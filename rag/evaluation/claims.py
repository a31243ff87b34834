"""The labelled claim set (eval/gold/claims.jsonl): does verification keep true claims and drop false ones?

Each row pairs a claim (English or Arabic) with one Arabic source sentence and a hand label. A claim is put to
`verify` exactly as a backend's answer sentence would be: "claim [1]." with the source sentence as the one shown
passage; it counts as accepted when verify keeps it. Dev/test are split by source article (a hash of the
source_ref's article part), so no source sentence's paraphrases sit on both sides; thresholds are tuned on dev.
"""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.errors import SanadError

DEFAULT_CLAIMS = Path("eval/gold/claims.jsonl")
KINDS_SUPPORTED = ("para_ar", "trans_en", "partial")
KINDS_UNSUPPORTED = ("wrong_number", "wrong_actor", "negation", "invented", "unrelated")
FIELDS = ("id", "claim", "claim_lang", "source", "source_ref", "supported", "kind")


class ClaimsError(SanadError):
    """The claim file is missing or a row is malformed."""


@dataclass(frozen=True)
class Claim:
    id: str
    claim: str
    claim_lang: str
    source: str
    source_ref: str
    supported: bool
    kind: str
    origin: str = ""  # "seed" (bundled articles) or "arcd" (ARCD train passages)
    title: str = ""  # the source article's title, shown with the passage (it names the subject "it" refers to)

    @property
    def split(self) -> str:
        return split_of(self.source_ref)


def split_of(source_ref: str) -> str:
    """'dev' or 'test', fixed by the source's article (seed file or ARCD article id), never by the claim."""
    ref = source_ref.split("#", 1)[0]
    article = ref.rsplit("-p", 1)[0] if ref.startswith("arcd:") else ref
    return "dev" if hashlib.sha1(article.encode("utf-8")).digest()[0] % 2 == 0 else "test"


def load_claims(path: Path) -> list[Claim]:
    if not path.exists():
        raise ClaimsError(f"{path}: no such claim file")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            missing = [f for f in FIELDS if f not in row]
            if missing:
                raise ValueError(f"missing {', '.join(missing)}")
            if row["kind"] not in KINDS_SUPPORTED + KINDS_UNSUPPORTED:
                raise ValueError(f"unknown kind {row['kind']!r}")
            if bool(row["supported"]) != (row["kind"] in KINDS_SUPPORTED):
                raise ValueError(f"kind {row['kind']} contradicts supported={row['supported']}")
            out.append(Claim(**{k: row[k] for k in Claim.__dataclass_fields__ if k in row}))
        except (ValueError, TypeError) as exc:
            raise ClaimsError(f"{path}:{n}: {exc}") from None
    return out


def verify_decider(sentences) -> Callable[[Claim], bool]:
    """Accept a claim when `verify` keeps it as a one-sentence answer citing its source sentence."""
    from rag.answering.verify import verify
    from rag.types import Hit, Passage

    def decide(c: Claim) -> bool:
        p = Passage(id=f"claim-src-{c.id}", article_id=c.source_ref, title=c.title, text=c.source, ordinal=0,
                    start=0, end=len(c.source))
        out = verify(f"{c.claim} [1].", [Hit(p, 1.0)], sentences)
        return bool(out.citations)

    return decide


def _prf(rows: list[tuple[bool, bool]]) -> dict:
    tp = sum(g and p for g, p in rows)
    fp = sum(p and not g for g, p in rows)
    fn = sum(g and not p for g, p in rows)
    tn = sum(not g and not p for g, p in rows)
    rec = tp / (tp + fn) if tp + fn else None
    prec = tp / (tp + fp) if tp + fp else None
    f1 = 2 * rec * prec / (rec + prec) if rec and prec else 0.0
    r = lambda x: None if x is None else round(x, 3)
    return {"n": len(rows), "tp": tp, "fp": fp, "fn": fn, "tn": tn, "recall": r(rec), "precision": r(prec),
            "f1": r(f1), "accuracy": r((tp + tn) / len(rows)) if rows else None}


def score(claims: list[Claim], accepted: list[bool]) -> dict:
    """Supported-claim recall/precision/F1 overall, per claim language and per split; per kind the share
    accepted (a supported kind wants 1.0, an unsupported kind 0.0)."""
    pairs = [(c.supported, a) for c, a in zip(claims, accepted)]
    groups: dict[str, list] = defaultdict(list)
    kinds: dict[str, list] = defaultdict(list)
    for c, pair in zip(claims, pairs):
        groups[f"lang={c.claim_lang}"].append(pair)
        groups[f"split={c.split}"].append(pair)
        groups[f"origin={c.origin}"].append(pair)
        kinds[c.kind].append(pair[1])
    return {"all": _prf(pairs), "groups": {g: _prf(v) for g, v in sorted(groups.items())},
            "kinds": {k: {"n": len(v), "accepted": round(sum(v) / len(v), 3), "supported": k in KINDS_SUPPORTED}
                      for k, v in sorted(kinds.items())}}


def run(claims: list[Claim], decide: Callable[[Claim], bool], tick: Callable[[], None] = lambda: None) -> dict:
    accepted = []
    for c in claims:
        accepted.append(decide(c))
        tick()
    result = score(claims, accepted)
    result["errors"] = [{"id": c.id, "kind": c.kind, "split": c.split, "supported": c.supported,
                         "claim": c.claim, "source": c.source}
                        for c, a in zip(claims, accepted) if a != c.supported]
    return result
