"""Each model's choice among trials re-run with the full budget, on validation only. Prints a Markdown table
of validation and test NDCG@10 (mean ± std over seeds) per model and trial, and marks each model's trial with
the highest mean validation NDCG@10. Test figures are shown, never used to choose; a trial re-scored on
validation alone (``python -m llmrec.evaluate ... splits=val``) shows none.

    python experiments/017_equal_tuning/full_budget_choice.py MODEL:TRIAL=DIR [MODEL:TRIAL=DIR ...]

Each DIR holds one finished run per seed (``seed_N/results.json``).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

METRIC = "ndcg_10"


def seed_runs(folder: Path) -> list[dict]:
    runs = [json.loads(path.read_text()) for path in sorted(folder.glob("seed_*/results.json"))]
    if not runs:
        sys.exit(f"error: no seed_*/results.json in {folder}: run that trial's re-runs first")
    return runs


def values(runs: list[dict], split: str) -> list[float]:
    return [run["metrics"][split][METRIC] for run in runs]


def mean_std(numbers: list[float]) -> str:
    return f"{statistics.mean(numbers):.4f} ± {statistics.stdev(numbers):.4f}"


def test_cell(runs: list[dict]) -> str:
    if any("test" not in run["metrics"] for run in runs):
        return "not evaluated"
    return mean_std(values(runs, "test"))


def main(arguments: list[str]) -> None:
    settings: dict[str, dict[str, list[dict]]] = {}
    for argument in arguments:
        name, _, folder = argument.partition("=")
        model, _, trial = name.partition(":")
        settings.setdefault(model, {})[trial] = seed_runs(Path(folder))
    print(f"| model | trial | seeds | stopped at epoch | validation {METRIC} | test {METRIC} | chosen |")
    print("|---|---|---|---|---|---|---|")
    for model, trials in settings.items():
        chosen = max(trials, key=lambda trial: statistics.mean(values(trials[trial], "val")))
        for trial, runs in trials.items():
            epochs = [run["budget"]["spent"]["epochs"] for run in runs]
            cells = [model, trial, str(len(runs)), f"{min(epochs)}–{max(epochs)}"]
            cells += [mean_std(values(runs, "val")), test_cell(runs)]
            cells.append("yes" if trial == chosen else "")
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
