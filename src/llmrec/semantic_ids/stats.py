"""Statistics of a semantic-ID assignment: how much of each codebook is used, how evenly (perplexity), how
many items each code prefix holds, collisions, reconstruction error; and their printed form."""

from __future__ import annotations

from typing import Any

import numpy as np


def perplexity(codes: np.ndarray) -> float:
    """exp(entropy) of the codes' distribution: the number of equally used codes it is worth."""
    _, counts = np.unique(codes, return_counts=True)
    share = counts / counts.sum()
    return float(np.exp(-(share * np.log(share)).sum()))


def level_usage(codes: np.ndarray, level_sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    return [
        {
            "size": size,
            "used": len(np.unique(codes[:, level])),
            "perplexity": round(perplexity(codes[:, level]), 2),
        }
        for level, size in enumerate(level_sizes)
    ]


def items_per_prefix(codes: np.ndarray) -> list[dict[str, Any]]:
    """For prefixes of length 1..C: how many distinct prefixes and the mean / max items sharing one."""
    rows = []
    for length in range(1, codes.shape[1] + 1):
        _, counts = np.unique(codes[:, :length], axis=0, return_counts=True)
        rows.append(
            {"prefixes": len(counts), "mean": round(float(counts.mean()), 2), "max": int(counts.max())}
        )
    return rows


def _row(label: str, text: str) -> str:
    return f"{label:<16}{text}"


def _level_rows(stats: dict[str, Any]) -> list[str]:
    rows = []
    for level, usage in enumerate(stats["usage"], 1):
        share = usage["used"] / usage["size"]
        text = f"{usage['used']}/{usage['size']} codes ({share:.0%}), perplexity {usage['perplexity']:.1f}"
        rows.append(_row(f"level {level} use", text))
    for length, prefix in enumerate(stats["items_per_prefix"], 1):
        text = (
            f"{prefix['prefixes']} prefixes, items per prefix mean {prefix['mean']:.2f} max {prefix['max']}"
        )
        rows.append(_row(f"prefix {length}", text))
    return rows


def format_stats(stats: dict[str, Any]) -> str:
    """A few aligned lines for the terminal from a stats.json dict."""
    size = f"{stats['levels']} levels x {stats['codebook_size']} codes, seed {stats['seed']}"
    lines = [
        _row("method", f"{stats['method']} ({size})"),
        _row("items", f"{stats['items']} ({stats.get('empty_text_items', 0)} without text)"),
        _row("level sizes", f"{stats['level_sizes']}" + ("  (+ collision level)" if stats["dedup"] else "")),
    ]
    if stats["clipped_levels"]:
        lines.append(
            _row("clipped levels", f"{stats['clipped_levels']} (fewer distinct residuals than codes)")
        )
    lines += _level_rows(stats)
    collisions = stats["collisions"]
    groups = f"{collisions['items_sharing_codes']} items in {collisions['groups_with_collisions']} groups"
    lines.append(_row("collisions", f"{groups}, largest {collisions['largest_group']}"))
    for name, value in stats["reconstruction"].items():
        shown = " ".join(f"{v:.3f}" for v in value) if isinstance(value, list) else f"{value:.3f}"
        lines.append(f"{name} {shown}")
    lines.append(_row("build time", f"{stats['seconds']:.1f} s"))
    return "\n".join(lines)
