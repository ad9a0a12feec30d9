"""The ledger's claims (llmrec.report.claims): each claim beside the seed-level test or speed table it names,
whether it holds by the test's verdict, bad claim files, and the repository's own claims.yaml."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from llmrec.errors import LlmrecError
from llmrec.report.claims import claim_lines, load_claims
from llmrec.report.ledger import main

REPO = Path(__file__).resolve().parents[1]
SIGNIFICANCE = {
    "model": "llm2sasrec[minilm]",
    "dataset": "beauty",
    "protocol": "loo",
    "baseline": "sasrec",
    "metric": "ndcg_10",
    "seeds": "5",
    "baseline_seeds": "5",
    "mean": "0.0554",
    "std": "0.0013",
    "baseline_mean": "0.0500",
    "baseline_std": "0.0009",
    "rel_diff": "0.108",
    "t_ci_low": "0.0036",
    "t_ci_high": "0.0071",
    "p_adj": "1e-05",
    "correction": "holm",
    "verdict": "better",
}
SPEED = {
    "dataset": "ml1m",
    "items": "3416",
    "users": "256",
    "model": "Lite-LLM4Rec",
    "backbone": "tiny LLaMA",
    "device": "cpu",
    "users_per_s": "796.2",
    "reference": "LLMSeqPrompt (beam 20)",
    "reference_users_per_s": "32.4",
    "speedup": "24.574",
}
CLAIM = {
    "paper": "Harte et al., RecSys 2023",
    "claim": "LLM2SASRec beats SASRec",
    "published": "NDCG@20 0.044 vs 0.033",
    "source": "https://example.org",
    "expect": "better",
    "evidence": [
        {"significance": "sig.csv", "model": "llm2sasrec[minilm]", "baseline": "sasrec", "metric": "ndcg_10"}
    ],
}


def _csv(path: Path, *rows: dict[str, str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _claims(path: Path, *entries: dict) -> Path:
    path.write_text(yaml.safe_dump(list(entries), sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("expect", "verdict", "holds"),
    [
        ("better", "better", "**yes**"),
        ("better", "worse", "**no**: the opposite"),
        ("better", "not significant", "not shown"),
        ("worse", "worse", "**yes**"),
    ],
)
def test_a_claim_holds_where_the_verdict_is_its_direction(
    tmp_path: Path, expect: str, verdict: str, holds: str
) -> None:
    _csv(tmp_path / "sig.csv", SIGNIFICANCE | {"verdict": verdict})
    claims = load_claims(_claims(tmp_path / "claims.yaml", CLAIM | {"expect": expect}))
    line = claim_lines(claims, tmp_path)[2]
    assert line.startswith(
        "| Harte et al., RecSys 2023 | LLM2SASRec beats SASRec | NDCG@20 0.044 vs 0.033 | loo |"
    )
    assert "llm2sasrec[minilm] 0.0554 ± 0.0013 vs sasrec 0.0500 ± 0.0009 (ndcg_10, 5 vs 5 seeds)" in line
    assert "+10.8%, CI [+0.0036, +0.0071], p adj 1e-05 (holm)" in line
    assert line.endswith(f"| {holds} | `sig.csv` |")


def test_a_speed_claim_reads_the_benchmark_table(tmp_path: Path) -> None:
    _csv(tmp_path / "speed.csv", SPEED, SPEED | {"dataset": "toys", "speedup": "100.8"})
    evidence = [{"speed": "speed.csv", "dataset": "ml1m", "model": "Lite-LLM4Rec", "note": "tiny backbones"}]
    claim = CLAIM | {"expect": "faster", "evidence": evidence}
    line = claim_lines(load_claims(_claims(tmp_path / "c.yaml", claim)), tmp_path)[2]
    assert (
        "| ml1m | Lite-LLM4Rec 796.2 users/s vs LLMSeqPrompt (beam 20) 32.4 (256 users, tiny LLaMA, cpu)"
        in line
    )
    assert "24.6x, 95.9% less time | **yes** | `speed.csv` (tiny backbones) |" in line


def test_an_untested_claim_says_why(tmp_path: Path) -> None:
    claim = CLAIM | {"evidence": [], "untested": "no generative LLM here"}
    lines = claim_lines(load_claims(_claims(tmp_path / "c.yaml", claim)), tmp_path)
    assert lines[2].endswith("| not tested | no generative LLM here | | |")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"expect": "higher"}, "expect must be one of better, worse, faster"),
        ({"claim": ""}, "claim must be non-empty text"),
        ({"evidence": []}, "needs untested"),
        ({"evidence": [{"significance": "sig.csv", "model": "x"}]}, "needs significance, model, baseline"),
        ({"colour": "red"}, "unknown field(s) colour"),
    ],
)
def test_a_bad_claim_is_one_clear_error(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(LlmrecError, match="claim 1") as error:
        load_claims(_claims(tmp_path / "c.yaml", CLAIM | change))
    assert message in str(error.value)


def test_evidence_that_names_no_single_row_is_an_error(tmp_path: Path) -> None:
    claims = load_claims(_claims(tmp_path / "c.yaml", CLAIM))
    with pytest.raises(LlmrecError, match=r"sig\.csv not found"):
        claim_lines(claims, tmp_path)
    _csv(tmp_path / "sig.csv", SIGNIFICANCE, SIGNIFICANCE | {"protocol": "sampled"})
    with pytest.raises(LlmrecError, match="has 2 rows with model=llm2sasrec"):
        claim_lines(claims, tmp_path)
    evidence = CLAIM["evidence"][0] | {"protocol": "sampled"}  # the protocol picks one of them
    picked = load_claims(_claims(tmp_path / "c.yaml", CLAIM | {"evidence": [evidence]}))
    assert "| sampled |" in claim_lines(picked, tmp_path)[2]


def test_the_ledger_lists_the_claims(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _csv(tmp_path / "sig.csv", SIGNIFICANCE)
    published = REPO / "experiments" / "published.yaml"
    claims = _claims(tmp_path / "claims.yaml", CLAIM)
    out = tmp_path / "LEDGER.md"
    args = ["--published", str(published), "--claims", str(claims), "--relative-to", str(tmp_path)]
    assert main([*args, "--out", str(out)]) == 0
    text = out.read_text()
    assert text.index("## Claims") < text.index("## Figures")
    assert "| LLM2SASRec beats SASRec |" in text and "| **yes** | `sig.csv` |" in text
    assert main(["--published", str(published), "--claims", str(tmp_path / "none.yaml")]) == 2
    assert "none.yaml not found" in capsys.readouterr().err


def test_the_repository_claims_name_their_evidence() -> None:
    claims = load_claims(REPO / "experiments" / "claims.yaml")
    lines = claim_lines(claims, REPO)  # every evidence file exists and names exactly one row
    assert len(lines) == 2 + sum(max(1, len(claim.evidence)) for claim in claims)
    assert {claim.paper.split(",")[0] for claim in claims} >= {"Harte et al.", "Li et al.", "Wang et al."}
