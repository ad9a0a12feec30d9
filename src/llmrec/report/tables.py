"""The comparison report's extra tables: significance against a baseline and efficiency; and the
accuracy-vs-inference-time scatter plot. Rows are plain dicts (written to CSV and Markdown)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from llmrec.errors import ConfigError
from llmrec.report.stats import pair_by_user, paired_comparison, per_user_metric


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
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for result in runs:
        groups[(result["model"], result["dataset"])].append(result)
    rows = []
    for (model, dataset), members in sorted(groups.items()):
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


def plot_accuracy_vs_time(
    rows: list[dict[str, Any]], efficiency: list[dict[str, Any]], metric: str, path: Path
) -> None:
    """Test ``metric`` (mean ± std) against test inference time per user, one point per model×dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    speed = {(e["model"], e["dataset"]): e["test_users_per_second"] for e in efficiency}
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for row in rows:
        per_user_ms = 1000.0 / speed[(row["model"], row["dataset"])]
        ax.errorbar(per_user_ms, row[metric], yerr=row[f"{metric}_std"], fmt="o", capsize=3)
        ax.annotate(f"{row['model']} ({row['dataset']})", (per_user_ms, row[metric]), fontsize=8)
    ax.set_xlabel("test inference time per user (ms)")
    ax.set_ylabel(f"test {metric} (mean ± std over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
