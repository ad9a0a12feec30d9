"""014's comparisons, which cross sample schemas (E4SRec trains on each user's last 50 targets, its stage-1
SASRec on tiled windows), so ``python -m llmrec.report`` would refuse them as one report: the same seed-level
tests (llmrec.report.stats.compare_seeds: seeds as the unit, users nested) on the same evaluated users, Holm
over every comparison and metric of the table. Prints Markdown; with a second argument, also writes the rows
in the columns of a report's report_significance.csv (the ledger's claims read them).

    python experiments/014_e4srec_beauty/compare.py <run folder root> [significance.csv] [--part gpu|probe]

Part 1 (cpu, the default) expects under the root, per seed s: e4srec_minilm_table_start_s<s>,
sasrec_last_targets_s<s> (E4SRec's budget of 6,000 examples), sasrec_last_targets_converged_s<s> and
stage1_sasrec_loo_s<s>, each with evaluations/{loo5000 (stage 1 only), sampled5000}/results.json: the stage-1
runs ranked every user during training, so their loo figure on the 5,000 users is a re-evaluation. Part 2
(gpu) expects e4srec_minilm_s<s>, sasrec_last_targets_s<s> (converged there) and stage1_sasrec_loo_s<s>,
each ranked over every user under loo (its own results.json) and re-evaluated under the sampled protocol
(evaluations/sampled/results.json). The probe (root experiments/014_e4srec_beauty) sets SASRec's sample schema
and context apart: each variant against stage 1 under loo on the 5,000 users.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

from llmrec.report.corrections import adjust
from llmrec.report.significance import seed_matrix
from llmrec.report.stats import compare_seeds

SEEDS = (0, 1, 2)
E4SREC = {"cpu": "E4SRec (MiniLM, table start)", "gpu": "E4SRec (MiniLM, official recipe)"}
STAGE1 = "stage-1 SASRec (its table)"
MODELS = {  # part: {label: (run folder prefix, loo results inside it, sampled results inside it)}
    "cpu": {
        E4SREC["cpu"]: ("e4srec_minilm_table_start", ".", "evaluations/sampled5000"),
        STAGE1: ("stage1_sasrec_loo", "evaluations/loo5000", "evaluations/sampled5000"),
        "SASRec on E4SRec's samples (6,000 examples)": (
            "sasrec_last_targets",
            ".",
            "evaluations/sampled5000",
        ),
        "SASRec on E4SRec's samples (converged)": (
            "sasrec_last_targets_converged",
            ".",
            "evaluations/sampled5000",
        ),
    },
    "probe": {  # root: experiments/014_e4srec_beauty (the probe's runs are in runs_probe/, the rest in runs/)
        STAGE1: ("runs/stage1_sasrec_loo", "evaluations/loo5000"),
        "SASRec, tiled, max_len 550": ("runs_probe/sasrec_tiled_len550", "."),
        "SASRec, last 50 targets, max_len 50": ("runs_probe/sasrec_last_targets_len50", "."),
        "SASRec, last 50 targets, max_len 550": ("runs/sasrec_last_targets_converged", "."),
    },
    "gpu": {
        E4SREC["gpu"]: ("e4srec_minilm", ".", "evaluations/sampled"),
        "SASRec on E4SRec's samples (converged)": ("sasrec_last_targets", ".", "evaluations/sampled"),
        STAGE1: ("stage1_sasrec_loo", ".", "evaluations/sampled"),
    },
}
METRICS = ("ndcg_10", "hr_10")
PROTOCOLS = {
    "cpu": ("loo (5,000 users)", "sampled 1 + 99 (5,000 users)"),
    "gpu": ("loo (every user)", "sampled 1 + 99 (every user)"),
    "probe": ("loo (5,000 users)",),
}
ALPHA = 0.05


def comparisons(part: str) -> list[tuple[str, str]]:
    """E4SRec against every SASRec of the part; in the probe, every SASRec variant against stage 1."""
    if part == "probe":
        return [(label, STAGE1) for label in MODELS[part] if label != STAGE1]
    return [(E4SREC[part], label) for label in MODELS[part] if label != E4SREC[part]]


def runs(root: Path, part: str, label: str, protocol: int) -> list[dict[str, Any]]:
    prefix, *inside = MODELS[part][label]
    paths = [root / f"{prefix}_s{seed}" / inside[protocol] / "results.json" for seed in SEEDS]
    return [json.loads(path.read_text()) | {"path": str(path.parent)} for path in paths]


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """The rows as a report's significance table: the same column names, Holm within this table."""
    columns = ["model", "dataset", "protocol", "baseline", "metric", "seeds", "baseline_seeds", "users"]
    columns += ["mean", "std", "baseline_mean", "baseline_std", "diff", "rel_diff", "t_ci_low", "t_ci_high"]
    columns += ["p", "p_adj", "correction", "alpha", "verdict"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            verdict = (
                "not significant" if not row["p_holm"] < ALPHA else ("better" if row["diff"] > 0 else "worse")
            )
            writer.writerow(
                row
                | {"dataset": "beauty", "p_adj": row["p_holm"], "correction": "holm", "alpha": ALPHA}
                | {"verdict": verdict}
            )


def main(root: Path, significance_csv: Path | None, part: str) -> None:
    rows = []
    for protocol, name in enumerate(PROTOCOLS[part]):
        for model, baseline in comparisons(part):
            for metric in METRICS:
                xa, _ = seed_matrix(runs(root, part, model, protocol), metric)
                xb, _ = seed_matrix(runs(root, part, baseline, protocol), metric)
                rows.append({"protocol": name, "model": model, "baseline": baseline, "metric": metric})
                rows[-1] |= compare_seeds(xa, xb)
    for row, p_holm in zip(rows, adjust([row["p"] for row in rows], "holm"), strict=True):
        row["p_holm"] = float(p_holm)
    columns = ("protocol", "model", "baseline", "metric", "model mean ± std", "baseline mean ± std", "diff")
    print("| " + " | ".join((*columns, "p", "p (Holm)")) + " |")
    print("|---" * (len(columns) + 2) + "|")
    for r in rows:
        print(
            f"| {r['protocol']} | {r['model']} | {r['baseline']} | {r['metric']} "
            f"| {r['mean']:.4f} ± {r['std']:.4f} "
            f"| {r['baseline_mean']:.4f} ± {r['baseline_std']:.4f} | {r['rel_diff']:+.1%} | {r['p']:.2g} "
            f"| {r['p_holm']:.2g} |"
        )

    if significance_csv is not None:
        write_csv(rows, significance_csv)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("significance_csv", type=Path, nargs="?")
    parser.add_argument("--part", choices=tuple(MODELS), default="cpu")
    arguments = parser.parse_args()
    main(arguments.root, arguments.significance_csv, arguments.part)
