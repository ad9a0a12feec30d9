"""013 part 8: how much SASRec's sample schema moves each model of the first claim, on the same 22,363 users
under `loo`. Part 2 trained SASRec and LLM2SASRec on tiled windows; part 8 trains both on per-target examples
(samples=last_targets, n 50). Part 2's committed runs keep no per-user ranks, so the report's two-level test
cannot run across the two parts: each row is Welch's t-test on the per-seed test means (the seed as the unit;
it leaves out which users were drawn, which the two-level test adds), Holm over every row of the table.

    python experiments/013_harte_beauty/schema_gain.py <tiled runs> <per-target runs>

Both folders hold loo_<model>_s<seed>/results.json (runs_converged/loo and runs_last_targets/loo).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import stats

from llmrec.report.corrections import adjust

MODELS = {"sasrec": "SASRec", "llm2sasrec": "LLM2SASRec[minilm]"}
METRICS = ("ndcg_10", "hr_10")
ALPHA = 0.05
SETTING = ("beauty-c392bc6c7af8e6f3", "loo", 22363)  # every run: the same data, protocol and test users


def seed_means(root: Path, model: str, metric: str) -> np.ndarray:
    paths = sorted(root.glob(f"loo_{model}_s*/results.json"))
    if len(paths) < 2:
        raise SystemExit(f"{root}: fewer than 2 seeds of loo_{model}_s*/results.json; run the part first")
    results = [json.loads(path.read_text()) for path in paths]
    for path, result in zip(paths, results, strict=True):
        setting = (result["data"]["fingerprint"], result["protocol"]["name"], result["data"]["test_users"])
        if setting != SETTING:
            raise SystemExit(f"{path}: data, protocol, test users {setting}; this table compares {SETTING}")
    return np.array([result["metrics"]["test"][metric] for result in results])


Arm = tuple[str, Path, str]  # (label, runs folder, model)


def comparisons(tiled: Path, per_target: Path) -> list[tuple[Arm, Arm]]:
    """Each model per-target against itself tiled, then the text start alone against the schema alone."""

    def arm(model: str, schema: str) -> Arm:
        return f"{MODELS[model]}, {schema}", per_target if schema == "per-target" else tiled, model

    pairs = [(arm(model, "per-target"), arm(model, "tiled")) for model in MODELS]
    return [*pairs, (arm("llm2sasrec", "tiled"), arm("sasrec", "per-target"))]


def main(tiled: Path, per_target: Path) -> None:
    rows = []
    for (label, root_a, model_a), (base_label, root_b, model_b) in comparisons(tiled, per_target):
        for metric in METRICS:
            a, b = seed_means(root_a, model_a, metric), seed_means(root_b, model_b, metric)
            diff = float(a.mean() - b.mean())
            p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
            rows.append((label, base_label, metric, a, b, diff, p))
    p_holm = adjust([row[-1] for row in rows], "holm")
    columns = ("model", "against", "metric", "model mean ± std", "baseline mean ± std", "diff", "Welch p")
    print("| " + " | ".join((*columns, "p (Holm)", "verdict")) + " |")
    print("|---" * (len(columns) + 2) + "|")
    for (label, base_label, metric, a, b, diff, p), adjusted in zip(rows, p_holm, strict=True):
        verdict = "not significant" if not adjusted < ALPHA else ("better" if diff > 0 else "worse")
        print(
            f"| {label} ({len(a)} seeds) | {base_label} ({len(b)} seeds) | {metric} "
            f"| {a.mean():.4f} ± {a.std(ddof=1):.4f} | {b.mean():.4f} ± {b.std(ddof=1):.4f} "
            f"| {diff / b.mean():+.1%} | {p:.2g} | {adjusted:.2g} | {verdict} |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tiled", type=Path)
    parser.add_argument("per_target", type=Path)
    arguments = parser.parse_args()
    main(arguments.tiled, arguments.per_target)
