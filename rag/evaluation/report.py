"""Run outputs in `eval/reports/<run>/`: results.json (every per-question result), summary.md, PNG plots;
and the question-by-question comparison of two runs."""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

from rag.evaluation.metrics import REPORT_METRICS

REPORTS_DIR = Path("eval/reports")


def provenance() -> str:
    """The code the numbers came from: the git commit, plus the core files modified in the working tree."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "rag"], cwd=root, capture_output=True,
                               text=True, timeout=10).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    changed = [line[3:] for line in dirty if line.strip()]
    return head + (f" + uncommitted changes to {', '.join(changed)}" if changed else "") if head else "unknown"


def default_run_dir(kind: str, dataset: str) -> Path:
    return REPORTS_DIR / f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}-{dataset}"


def _fmt(v) -> str:
    if isinstance(v, float):
        return "–" if math.isnan(v) else f"{v:.3f}"
    return str(v)


def retrieval_table(result: dict) -> str:
    head = ["method", "questions", "n", *REPORT_METRICS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m, groups in result["summary"].items():
        for g, vals in groups.items():
            lines.append("| " + " | ".join([m, g, str(vals["n"]), *(_fmt(vals[k]) for k in REPORT_METRICS)]) + " |")
    return "\n".join(lines)


ANSWER_COLUMNS = ["n", "errors", "short_em", "short_f1", "first_line_hit", "first_quote_hit", "answered_translated",
                  "short_words_mean", "citation_validity",
                  "citation_precision", "evidence_recall", "answer_contains_gold", "answer_or_citation_contains_gold", "token_f1", "refusal_precision", "refusal_recall",
                  "unanswerable_f1", "false_refusals", "answerable_refused", "latency_p50_s", "latency_p95_s"]


def answers_table(result: dict) -> str:
    groups = list(result["summary"])
    lines = ["| metric | " + " | ".join(groups) + " |", "|---|" + "---|" * len(groups)]
    for col in ANSWER_COLUMNS:
        lines.append(f"| {col} | " + " | ".join(_fmt(result["summary"][g].get(col, math.nan)) for g in groups) + " |")
    return "\n".join(lines)


def write_report(result: dict, out: Path, meta: dict) -> list[Path]:
    """Write results.json, summary.md and the plots; return the files written."""
    import matplotlib

    matplotlib.use("Agg")
    out.mkdir(parents=True, exist_ok=True)
    meta = {**meta, "code": provenance(), "date": time.strftime("%Y-%m-%d %H:%M")}
    result = {**meta, **result}
    (out / "results.json").write_text(json.dumps(result, ensure_ascii=False, indent=1, default=_json_default),
                                      encoding="utf-8")
    written = [out / "results.json"]
    lines = [f"# Sanad evaluation: {result['kind']} — {meta.get('dataset', '')}", ""]
    for k, v in meta.items():
        if k not in ("dataset",):
            lines.append(f"- {k}: `{v}`")
    lines.append("")
    if result["kind"] == "retrieval":
        lines += ["Recall@k = share of questions with a relevant passage in the top k (ranx `hit_rate@k`); "
                  "MRR@10 and nDCG@10 from ranx. Unanswerable questions are left out.", "", retrieval_table(result), ""]
        lat = result.get("latency", {})
        if lat:
            lines += ["| method | p50 ms | p95 ms |", "|---|---|---|"]
            lines += [f"| {m} | {v['p50_ms']:.1f} | {v['p95_ms']:.1f} |" for m, v in lat.items()]
            lines.append("")
        misses = _misses(result)
        if misses:
            lines += ["## Misses of the first method at rank 1", ""]
            lines += [f"- `{q['id']}` ({q['lang']}): rank {r} — {q['question']}" for q, r in misses[:40]]
            lines.append("")
        written += [_plot_curves(result, out / "recall_at_k.png"), _plot_latency_retrieval(result, out / "latency.png")]
    else:
        lines += [answers_table(result), ""]
        wrong = [q for q in result["questions"] if q.get("answerable") and not q.get("correct_or_cited")]
        if wrong:
            lines += ["## Answerable questions without the gold answer", ""]
            lines += [f"- `{q['id']}` ({q['lang']}){' refused' if q.get('refused') else ''}"
                      f"{' error: ' + q['error'] if 'error' in q else ''} — {q['question']}" for q in wrong[:60]]
            lines.append("")
        written.append(_plot_latency_answers(result, out / "latency.png"))
    lines += ["Plots: " + ", ".join(f"`{p.name}`" for p in written if p.suffix == ".png"), ""]
    (out / "summary.md").write_text("\n".join(lines), encoding="utf-8")
    written.append(out / "summary.md")
    return written


def _json_default(o):
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    if isinstance(o, Path):
        return str(o)
    return str(o)


def _misses(result: dict):
    m = result["methods"][-1] if "fused" not in result["methods"] else "fused"
    out = []
    for q in result["questions"]:
        if not q["answerable"]:
            continue
        r = q["methods"][m]["rank"]
        if r != 1:
            out.append((q, r if r is not None else "none"))
    return out


def _plot_curves(result: dict, path: Path) -> Path:
    import matplotlib.pyplot as plt

    groups = [g for g in ("all", "ar", "en") if any(g in result["curves"][m] for m in result["curves"])]
    groups += sorted({g for m in result["curves"] for g in result["curves"][m]} - set(groups))
    fig, axes = plt.subplots(1, len(groups), figsize=(4.5 * len(groups), 3.8), squeeze=False)
    ks = result["curve_ks"]
    for ax, g in zip(axes[0], groups):
        for m, curves in result["curves"].items():
            if g in curves:
                ax.plot(ks, curves[g], marker="o", markersize=3, label=m)
        n = next((result["summary"][m][g]["n"] for m in result["summary"] if g in result["summary"][m]), 0)
        ax.set_title(f"{g} questions (n={n})")
        ax.set_xlabel("k")
        ax.set_ylabel("Recall@k")
        ax.set_ylim(0, 1.02)
        ax.set_xticks([1, 5, 10, 15, 20])
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _histogram(series: dict[str, list[float]], xlabel: str, path: Path, title: str = "") -> Path:
    """One latency histogram per labelled series, overlaid."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.8))
    for label, values in series.items():
        ax.hist(values, bins=30, alpha=0.55 if len(series) > 1 else 1.0, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("questions")
    if len(series) > 1:
        ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_latency_retrieval(result: dict, path: Path) -> Path:
    series = {m: [q["methods"][m]["latency_ms"] for q in result["questions"]] for m in result["methods"]}
    return _histogram(series, "search latency (ms)", path)


def _plot_latency_answers(result: dict, path: Path) -> Path:
    series = {"answers": [q["latency_s"] for q in result["questions"]]}
    return _histogram(series, "answer latency (s)", path, f"backend={result.get('backend')}")


# ---------------------------------------------------------------- compare

def load_run(path: Path) -> dict:
    path = Path(path)
    f = path / "results.json" if path.is_dir() else path
    if not f.exists():
        raise FileNotFoundError(f"{f}: no results.json (give a run folder under eval/reports/)")
    return json.loads(f.read_text(encoding="utf-8"))


def _rank_key(r):
    return math.inf if r is None else r


def compare_runs(a: dict, b: dict) -> dict:
    """Question by question: for retrieval runs, the rank of the first relevant passage per method;
    for answer runs, correctness, F1, refusal and evidence. Returns {'better': [...], 'worse': [...], ...}."""
    if a["kind"] != b["kind"]:
        raise ValueError(f"cannot compare a {a['kind']} run with a {b['kind']} run")
    qa = {q["id"]: q for q in a["questions"]}
    qb = {q["id"]: q for q in b["questions"]}
    common = [i for i in qa if i in qb]
    better, worse = [], []
    if a["kind"] == "retrieval":
        methods = [m for m in a["methods"] if m in b["methods"]]
        for i in common:
            for m in methods:
                ra, rb = qa[i]["methods"][m]["rank"], qb[i]["methods"][m]["rank"]
                if not qa[i]["answerable"] or ra == rb:
                    continue
                row = {"id": i, "lang": qa[i]["lang"], "method": m, "a": ra, "b": rb, "question": qa[i]["question"]}
                (better if _rank_key(rb) < _rank_key(ra) else worse).append(row)
    else:
        for i in common:
            x, y = qa[i], qb[i]
            sa = (x.get("correct_or_cited", False), x.get("evidence_hit", False), x.get("f1", 0.0),
                  x.get("refused", False) == (not x["answerable"]))
            sb = (y.get("correct_or_cited", False), y.get("evidence_hit", False), y.get("f1", 0.0),
                  y.get("refused", False) == (not y["answerable"]))
            if sa == sb:
                continue
            row = {"id": i, "lang": x["lang"], "question": x["question"],
                   "a": _answer_state(x), "b": _answer_state(y)}
            score_a = (sa[3], sa[0], sa[1], sa[2])
            score_b = (sb[3], sb[0], sb[1], sb[2])
            (better if score_b > score_a else worse).append(row)
    return {"kind": a["kind"], "common": len(common), "only_a": sorted(set(qa) - set(qb)),
            "only_b": sorted(set(qb) - set(qa)), "better": better, "worse": worse}


def _answer_state(q: dict) -> str:
    if "error" in q:
        return "error"
    if q.get("refused"):
        return "refused"
    return f"{'correct' if q.get('correct_or_cited') else 'wrong'} f1={q.get('f1', 0):.2f}" + \
        (" +evidence" if q.get("evidence_hit") else "")
