"""The report's tables as text: one run's metrics (printed after a run), the mean ± std table of a folder
(Markdown and CSV), the efficiency table, and the paired significance table against a baseline. Rows are
plain dicts, as written to CSV and Markdown."""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from llmrec.errors import ConfigError
from llmrec.report.runs import group_by_model_and_dataset
from llmrec.report.stats import pair_by_user, paired_comparison, per_user_metric


def _metric_order(name: str) -> tuple[str, int]:
    """``ndcg_10`` sorts as (ndcg, 10); names without a cutoff (``exact_match_share``) as (name, 0)."""
    stem, _, cutoff = name.rpartition("_")
    return (stem, int(cutoff)) if cutoff.isdigit() else (name, 0)


def format_run_table(results: dict[str, Any]) -> str:
    """A plain-text table of one run's validation and test metrics."""
    test, val = results["metrics"]["test"], results["metrics"]["val"]
    names = sorted(test, key=_metric_order)
    lines = [
        f"{results['model']} on {results['dataset']} (seed {results['seed']})",
        f"{'metric':<14}{'val':>10}{'test':>10}",
    ]
    lines += [f"{name:<14}{val.get(name, float('nan')):>10.4f}{test[name]:>10.4f}" for name in names]
    return "\n".join(lines)


def to_markdown(rows: list[dict[str, Any]], metrics: Sequence[str]) -> str:
    """Mean ± std per (model, dataset); the best mean of each column within a dataset is bold."""
    best = {
        (m, r["dataset"]): max(o[m] for o in rows if o["dataset"] == r["dataset"])
        for m in metrics
        for r in rows
    }
    header = ["model", "dataset", "seeds", *[f"test/{m}" for m in metrics], "fit s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["model"], row["dataset"], str(row["seeds"])]
        for m in metrics:
            text = f"{row[m]:.4f} ± {row[f'{m}_std']:.4f}"
            cells.append(f"**{text}**" if row[m] == best[(m, row["dataset"])] else text)
        cells.append(f"{row['fit_seconds']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _user_values(result: dict[str, Any], metric: str) -> tuple[np.ndarray, np.ndarray]:
    test = result.get("per_user", {}).get("test", {})
    if "user" not in test or "rank" not in test:
        raise ConfigError(f"{result.get('path', '?')}/results.json has no per_user.test ranks")
    return np.asarray(test["user"]), per_user_metric(np.asarray(test["rank"]), metric)


def significance_rows(runs: list[dict[str, Any]], baseline: str, metric: str) -> list[dict[str, Any]]:
    """Each model against ``baseline`` on ``metric``: users paired by index within (dataset, seed),
    pairs pooled over the seeds both models ran."""
    if baseline not in {r["model"] for r in runs}:
        raise ConfigError(
            f"baseline {baseline!r} has no finished run here; models: "
            f"{', '.join(sorted({r['model'] for r in runs}))}"
        )
    base = {(r["dataset"], r["seed"]): r for r in runs if r["model"] == baseline}
    pairs: dict[tuple[str, str], tuple[list[np.ndarray], list[np.ndarray], list[int]]] = defaultdict(
        lambda: ([], [], [])
    )
    for result in runs:
        other = base.get((result["dataset"], result["seed"]))
        if result["model"] == baseline or other is None:
            continue
        a, b = pair_by_user(*_user_values(result, metric), *_user_values(other, metric))
        bucket = pairs[(result["model"], result["dataset"])]
        bucket[0].append(a), bucket[1].append(b), bucket[2].append(result["seed"])
    rows = []
    for (model, dataset), (a, b, seeds) in sorted(pairs.items()):
        row = {"model": model, "baseline": baseline, "dataset": dataset, "metric": metric}
        row["seeds"] = len(seeds)
        rows.append(row | paired_comparison(np.concatenate(a), np.concatenate(b)))
    return rows


def significance_markdown(rows: list[dict[str, Any]], alpha: float = 0.05) -> str:
    if not rows:
        return ""
    p_key = "wilcoxon_p" if "wilcoxon_p" in rows[0] else "permutation_p"
    t_head = "t-test p | " if "t_test_p" in rows[0] else ""
    lines = [
        f"\nPaired test vs {rows[0]['baseline']} on per-user test {rows[0]['metric']} ({rows[0]['test']}; "
        f"* p < {alpha}):\n",
        f"| model | dataset | pairs | mean diff | 95% CI (bootstrap) | {t_head}{p_key.replace('_p', '')} p |",
        "|---|---|---|---|---|---|" + ("---|" if "t_test_p" in rows[0] else ""),
    ]
    for r in rows:
        star = "*" if r[p_key] < alpha else ""
        t_cell = f"{r['t_test_p']:.3g}{'*' if r['t_test_p'] < alpha else ''} | " if "t_test_p" in r else ""
        lines.append(
            f"| {r['model']} | {r['dataset']} | {r['n']} | {r['mean_diff']:+.4f} | "
            f"[{r['ci_low']:+.4f}, {r['ci_high']:+.4f}] | {t_cell}{r[p_key]:.3g}{star} |"
        )
    return "\n".join(lines) + "\n"


def _mean(values: Sequence[float | None]) -> float:
    kept = [v for v in values if v is not None]
    return statistics.fmean(kept) if kept else float("nan")


def efficiency_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (model, dataset), means over seeds: parameters, fit time, test time, users/s."""
    rows = []
    for model, dataset, members in group_by_model_and_dataset(runs):
        timings = [m["timings"] for m in members]
        rows.append(
            {
                "model": model,
                "dataset": dataset,
                "trainable_params": members[0]["parameters"]["trainable"],
                "total_params": members[0]["parameters"]["total"],
                "fit_seconds": _mean([t.get("fit_seconds") for t in timings]),
                "test_seconds": _mean([t.get("test_seconds") for t in timings]),
                "test_users_per_second": _mean([t.get("test_users_per_second") for t in timings]),
            }
        )
    return rows


def efficiency_markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "\nEfficiency (mean over seeds):\n",
        "| model | dataset | trainable params | total params | fit s | test s | test users/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['dataset']} | {r['trainable_params']:,} | {r['total_params']:,} | "
            f"{r['fit_seconds']:.1f} | {r['test_seconds']:.2f} | {r['test_users_per_second']:.0f} |"
        )
    return "\n".join(lines) + "\n"
