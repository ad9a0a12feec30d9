"""The papers' claims for the reproduction ledger: ``experiments/claims.yaml``, a list of entries

    - paper: "Harte et al., RecSys 2023"
      claim: "LLM2SASRec beats SASRec"                # the claim, in words
      published: "NDCG@20 0.044 vs 0.033 (+33%), ..."  # the paper's figure, its protocol and backbone
      source: https://...
      expect: better                                  # better | worse | faster: what the paper claims
      evidence:                                       # llmrec's tests of it, each one line of the ledger
        - significance: experiments/013_harte_beauty/report_converged/report_significance.csv
          model: llm2sasrec[minilm]                   # a row of a report's seed-level tests
          baseline: sasrec
          metric: ndcg_10
          protocol: loo                               # optional: where the table tests several protocols
          note: "to convergence"                      # optional: what sets this test apart
        - speed: experiments/015_lite_llm4rec/speed.csv   # a benchmark's speed table (faster claims)
          dataset: ml1m
          model: Lite-LLM4Rec
      untested: "..."                                 # with no evidence: why llmrec has not tested it

A claim holds where the test's corrected verdict is the claimed direction. The numbers come from the files
the evidence names (written by ``python -m llmrec.report`` and the benchmarks), never from this YAML.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmrec.errors import LlmrecError
from llmrec.report.published import load_entries

TEXT_FIELDS = ("paper", "claim", "published", "source", "expect")
EXPECTS = ("better", "worse", "faster")
SIGNIFICANCE_KEYS = ("significance", "model", "baseline", "metric")
SPEED_KEYS = ("speed", "dataset", "model")
OPTIONAL_EVIDENCE_KEYS = ("protocol", "note")


@dataclass(frozen=True)
class Claim:
    paper: str
    claim: str
    published: str
    source: str
    expect: str
    evidence: tuple[dict[str, str], ...]
    untested: str = ""


def _evidence(item: Any, where: str, expect: str) -> dict[str, str]:
    keys = SPEED_KEYS if expect == "faster" else SIGNIFICANCE_KEYS
    if not isinstance(item, dict) or any(not isinstance(item.get(k), str) for k in keys):
        raise LlmrecError(f"{where}: each evidence of a {expect!r} claim needs {', '.join(keys)} (text)")
    unknown = sorted(set(item) - {*keys, *OPTIONAL_EVIDENCE_KEYS})
    if unknown:
        raise LlmrecError(f"{where}: unknown evidence field(s) {', '.join(unknown)}")
    return {str(key): str(value) for key, value in item.items()}


def _claim(entry: Any, where: str) -> Claim:
    if not isinstance(entry, dict):
        raise LlmrecError(f"{where} is not a mapping; write each claim as `- paper: ...` with its fields")
    missing = [f for f in TEXT_FIELDS if not isinstance(entry.get(f), str) or not entry[f].strip()]
    if missing:
        raise LlmrecError(f"{where}: {', '.join(missing)} must be non-empty text")
    if entry["expect"] not in EXPECTS:
        raise LlmrecError(f"{where}: expect must be one of {', '.join(EXPECTS)}, not {entry['expect']!r}")
    unknown = sorted(set(entry) - {*TEXT_FIELDS, "evidence", "untested"})
    if unknown:
        raise LlmrecError(f"{where}: unknown field(s) {', '.join(unknown)}")
    items = entry.get("evidence") or []
    if not isinstance(items, list):
        raise LlmrecError(f"{where}: evidence must be a list")
    if not items and not str(entry.get("untested") or "").strip():
        raise LlmrecError(f"{where}: a claim without evidence needs untested (why llmrec has not tested it)")
    expect = entry["expect"]
    evidence = tuple(_evidence(item, f"{where} evidence {i + 1}", expect) for i, item in enumerate(items))
    texts = {f: entry[f].strip() for f in TEXT_FIELDS}
    return Claim(**texts, evidence=evidence, untested=str(entry.get("untested") or "").strip())


def load_claims(path: Path) -> list[Claim]:
    """The claims of ``path``, in the file's order."""
    entries = load_entries(path, "the papers' claims", "--claims")
    return [_claim(entry, f"{path} claim {i + 1}") for i, entry in enumerate(entries)]


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise LlmrecError(f"{path} not found; a claim's evidence names a file that the study writes")
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _find(path: Path, wanted: dict[str, str]) -> dict[str, str]:
    found = [row for row in _rows(path) if all(row.get(key) == value for key, value in wanted.items())]
    if len(found) != 1:
        shown = ", ".join(f"{key}={value}" for key, value in wanted.items())
        raise LlmrecError(f"{path} has {len(found)} rows with {shown}, not one; fix the claim's evidence")
    return found[0]


def _holds(expect: str, verdict: str) -> str:
    if verdict == expect:
        return "**yes**"
    return "not shown" if verdict == "not significant" else "**no**: the opposite"


def _significance_line(evidence: dict[str, str], expect: str, root: Path) -> str:
    keys = ("model", "baseline", "metric", "protocol")
    row = _find(root / evidence["significance"], {key: evidence[key] for key in keys if key in evidence})
    numbers = ("mean", "std", "baseline_mean", "baseline_std", "rel_diff", "p_adj")
    f = {key: float(row[key]) for key in numbers}
    ci = f"[{float(row['t_ci_low']):+.4f}, {float(row['t_ci_high']):+.4f}]"
    measured = (
        f"{row['model']} {f['mean']:.4f} ± {f['std']:.4f} vs {row['baseline']} {f['baseline_mean']:.4f} ± "
        f"{f['baseline_std']:.4f} ({row['metric']}, {row['seeds']} vs {row['baseline_seeds']} seeds): "
        f"{f['rel_diff']:+.1%}, CI {ci}, p adj {f['p_adj']:.2g} ({row['correction']}), {row['verdict']}"
    )
    return f"{row['protocol']} | {measured} | {_holds(expect, row['verdict'])}"


def _speed_line(evidence: dict[str, str], root: Path) -> str:
    row = _find(root / evidence["speed"], {key: evidence[key] for key in ("dataset", "model")})
    speedup = float(row["speedup"])
    measured = (
        f"{row['model']} {float(row['users_per_s']):.1f} users/s vs {row['reference']} "
        f"{float(row['reference_users_per_s']):.1f} "
        f"({row['users']} users, {row['backbone']}, {row['device']}): "
        f"{speedup:.1f}x, {1 - 1 / speedup:.1%} less time"
    )
    return f"{row['dataset']} | {measured} | {'**yes**' if speedup > 1 else '**no**'}"


def claim_lines(claims: list[Claim], root: Path) -> list[str]:
    """The ledger's claims table: one line per piece of evidence (or one saying why there is none)."""
    lines = [
        "| paper | claim | published | llmrec: protocol | llmrec: measured | holds here? | evidence |",
        "|---|---|---|---|---|---|---|",
    ]
    for claim in claims:
        head = f"| {claim.paper} | {claim.claim} | {claim.published} | "
        if not claim.evidence:
            lines.append(head + f"not tested | {claim.untested} | | |")
        for evidence in claim.evidence:
            if claim.expect == "faster":
                line, source = _speed_line(evidence, root), evidence["speed"]
            else:
                line, source = _significance_line(evidence, claim.expect, root), evidence["significance"]
            note = f" ({evidence['note']})" if evidence.get("note") else ""
            lines.append(head + line + f" | `{source}`{note} |")
    return lines
