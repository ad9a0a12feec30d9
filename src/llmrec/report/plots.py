"""The report's charts (matplotlib, imported only when a chart is drawn, with the Agg backend: no display)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def plot_metric_bars(rows: list[dict[str, Any]], metrics: Sequence[str], path: Path) -> None:
    """Bars of up to four test metrics (coverage left out) per model×dataset, std over seeds as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['model']}\n{r['dataset']}" for r in rows]
    shown = [m for m in metrics if not m.startswith("coverage")][:4]
    width = 0.8 / max(len(shown), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(rows) * max(len(shown), 1) * 0.6), 4.0))
    for j, metric in enumerate(shown):
        xs = [i + j * width for i in range(len(rows))]
        ax.bar(
            xs,
            [r[metric] for r in rows],
            width,
            yerr=[r[f"{metric}_std"] for r in rows],
            capsize=3,
            label=metric,
        )
    ax.set_xticks([i + width * (len(shown) - 1) / 2 for i in range(len(rows))], labels, fontsize=8)
    ax.set_ylabel("test metric (mean ± std over seeds)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_accuracy_vs_time(
    rows: list[dict[str, Any]], efficiency: list[dict[str, Any]], metric: str, path: Path
) -> None:
    """Test ``metric`` (mean ± std) against test inference time per user, one point per model×dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    row_key = ("model", "dataset", "protocol", "samples")
    speed = {tuple(e.get(k) for k in row_key): e["test_users_per_second"] for e in efficiency}
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for row in rows:
        per_user_ms = 1000.0 / speed[tuple(row.get(k) for k in row_key)]
        ax.errorbar(per_user_ms, row[metric], yerr=row[f"{metric}_std"], fmt="o", capsize=3)
        ax.annotate(f"{row['model']} ({row['dataset']})", (per_user_ms, row[metric]), fontsize=8)
    ax.set_xlabel("test inference time per user (ms)")
    ax.set_ylabel(f"test {metric} (mean ± std over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
