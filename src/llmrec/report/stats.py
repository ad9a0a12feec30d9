"""Paired significance tests over per-user metrics: is model A better than baseline B on the same users?

Per-user metrics come from the per-user test ranks in ``results.json``. Pairs are matched by user index
(same dataset, same seed). Tests: paired t-test and Wilcoxon signed-rank (scipy when installed, else a
sign-flip permutation test implemented here), plus a bootstrap 95% CI of the mean difference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from llmrec.errors import ConfigError


def per_user_metric(ranks: np.ndarray, metric: str) -> np.ndarray:
    """``hr_10``/``ndcg_10``/``mrr_10``… per user from 0-based ranks, in float64: the formulas of
    ``llmrec.evaluation.metrics.rank_metrics`` (tests/test_report_stats.py checks they agree), in numpy so
    that the report imports neither torch nor the evaluation package."""
    name, _, k = metric.rpartition("_")
    if name not in ("hr", "ndcg", "mrr") or not k.isdigit() or int(k) <= 0:
        raise ConfigError(f"no per-user values for {metric!r}: use hr_K, ndcg_K or mrr_K (e.g. ndcg_10)")
    ranks = np.asarray(ranks, dtype=np.int64).astype(np.float64)
    hit = ranks < int(k)
    if name == "hr":
        return hit.astype(np.float64)
    gain = 1.0 / np.log2(ranks + 2.0) if name == "ndcg" else 1.0 / (ranks + 1.0)
    return np.where(hit, gain, 0.0)


def pair_by_user(
    users_a: np.ndarray, values_a: np.ndarray, users_b: np.ndarray, values_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Values of the users both runs evaluated, aligned by user index."""
    _, ia, ib = np.intersect1d(np.asarray(users_a), np.asarray(users_b), return_indices=True)
    return np.asarray(values_a)[ia], np.asarray(values_b)[ib]


def bootstrap_ci(
    diff: np.ndarray, level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of ``diff`` (users resampled with replacement)."""
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(diff), size=(resamples, len(diff)))
    means = diff[index].mean(axis=1)
    tail = (1.0 - level) / 2.0
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))


def permutation_p(diff: np.ndarray, resamples: int = 10000, seed: int = 0) -> float:
    """Two-sided sign-flip permutation test of mean(diff) == 0 (exact null for paired, symmetric data)."""
    observed = abs(diff.mean())
    rng = np.random.default_rng(seed)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(resamples, len(diff)))
    flipped = np.abs((signs * diff).mean(axis=1))
    return float((1 + np.sum(flipped >= observed - 1e-12)) / (resamples + 1))


def _scipy_tests(diff: np.ndarray) -> dict[str, float] | None:
    try:
        from scipy import stats
    except ImportError:
        return None
    t_p = float(stats.ttest_1samp(diff, 0.0).pvalue) if np.std(diff) > 0 else float("nan")
    w_p = float(stats.wilcoxon(diff).pvalue) if np.any(diff != 0) else 1.0
    return {"t_test_p": t_p, "wilcoxon_p": w_p}


def paired_comparison(a: np.ndarray, b: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """Mean difference a − b over paired users, its bootstrap 95% CI and two-sided p-values."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.size < 2:
        raise ConfigError(f"a paired test needs two equal-length arrays of ≥ 2 users, got {a.size}, {b.size}")
    diff = a - b
    low, high = bootstrap_ci(diff, seed=seed)
    out: dict[str, Any] = {"n": int(diff.size), "mean_a": float(a.mean()), "mean_b": float(b.mean())}
    out.update(mean_diff=float(diff.mean()), ci_low=low, ci_high=high)
    tests = _scipy_tests(diff)
    if tests is None:
        out.update(permutation_p=permutation_p(diff, seed=seed), test="sign-flip permutation")
    else:
        out.update(tests, test="paired t-test + Wilcoxon signed-rank (scipy)")
    return out
