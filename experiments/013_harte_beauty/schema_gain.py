"""013 part 8: how much SASRec's sample schema moves each model of the first claim, on the same 22,363 users
under `loo`. Part 2 trained SASRec and LLM2SASRec on tiled windows; part 8 trains both on per-target examples
(samples=last_targets, n 50). Part 2's committed runs keep no per-user ranks, so the report's two-level test
cannot run across the two parts: each row is Welch's t-test on the per-seed test means (the seed as the unit;
it leaves out which users were drawn, which the two-level test adds), Holm over every row of the table.

    python experiments/013_harte_beauty/schema_gain.py <tiled runs> <per-target runs>

Both folders hold loo_<model>_s<seed>/results.json (runs_converged/loo and runs_last_targets/loo), read once
each with llmrec.report.runs.collect; a run on other data, protocol, users or schema is refused.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from llmrec.report.corrections import adjust
from llmrec.report.runs import collect, fingerprint_of, protocol_of, samples_of

MODELS = {"sasrec": "SASRec", "llm2sasrec": "LLM2SASRec[minilm]"}
SCHEMAS = {"tiled": "tiled", "per-target": "last_targets"}  # label: samples.name the folder's runs must have
METRICS = ("ndcg_10", "hr_10")
ALPHA = 0.05
SETTING = ("beauty-c392bc6c7af8e6f3", "loo", 22363)  # every run: the same data, protocol and test users
# (model, schema) against (model, schema): each model per-target against itself tiled, then the text start
# alone against the schema alone.
PAIRS = [((model, "per-target"), (model, "tiled")) for model in MODELS]
PAIRS.append((("llm2sasrec", "tiled"), ("sasrec", "per-target")))


def runs_by_model(root: Path, schema: str) -> dict[str, list[dict[str, Any]]]:
    """The folder's finished runs per model, each checked to be on this table's data, protocol, test users
    and the folder's sample schema."""
    by_model: dict[str, list[dict[str, Any]]] = {}
    for run in collect(root)[0]:
        setting = (fingerprint_of(run), protocol_of(run)["name"], run["data"]["test_users"])
        if setting != SETTING or samples_of(run)["name"] != SCHEMAS[schema]:
            raise SystemExit(
                f"{run['path']}: data, protocol, test users {setting}, samples {samples_of(run)['name']}; "
                f"this table compares {SETTING} on {SCHEMAS[schema]}"
            )
        by_model.setdefault(run["model"], []).append(run)
    return by_model


def main(tiled: Path, per_target: Path) -> None:
    runs = {"tiled": runs_by_model(tiled, "tiled"), "per-target": runs_by_model(per_target, "per-target")}
    rows = []
    for arm, base in PAIRS:
        for metric in METRICS:
            a, b = (
                np.array([r["metrics"]["test"][metric] for r in runs[schema][model]])
                for model, schema in (arm, base)
            )
            if min(len(a), len(b)) < 2:
                raise SystemExit(f"{arm} or {base}: fewer than 2 seeds; run the part first")
            diff = float(a.mean() - b.mean())
            p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
            rows.append((arm, base, metric, a, b, diff, p))
    p_holm = adjust([row[-1] for row in rows], "holm")
    columns = ("model", "against", "metric", "model mean ± std", "baseline mean ± std", "diff", "Welch p")
    print("| " + " | ".join((*columns, "p (Holm)", "verdict")) + " |")
    print("|---" * (len(columns) + 2) + "|")
    for (arm, base, metric, a, b, diff, p), adjusted in zip(rows, p_holm, strict=True):
        verdict = "not significant" if not adjusted < ALPHA else ("better" if diff > 0 else "worse")
        model, against = (
            f"{MODELS[name]}, {schema} ({n} seeds)" for (name, schema), n in ((arm, len(a)), (base, len(b)))
        )
        print(
            f"| {model} | {against} | {metric} | {a.mean():.4f} ± {a.std(ddof=1):.4f} "
            f"| {b.mean():.4f} ± {b.std(ddof=1):.4f} | {diff / b.mean():+.1%} | {p:.2g} | {adjusted:.2g} "
            f"| {verdict} |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tiled", type=Path)
    parser.add_argument("per_target", type=Path)
    arguments = parser.parse_args()
    main(arguments.tiled, arguments.per_target)
