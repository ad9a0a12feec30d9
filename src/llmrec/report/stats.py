"""Seed-level statistics: is model A better than baseline B, over training seeds and test users?

The seed is the unit of training randomness. A model trained with S seeds and tested on U users gives an
(S, U) matrix ``X[s, u]`` of per-user test values (the same users in every run of both models; the two
models' seeds need not match). Pooling the S x U values as independent pairs is pseudo-replication: it
treats one trained model's users as if each came from a new training run (issue 20).

``compare_seeds(xa, xb)`` reports, for the difference D = mean(A) - mean(B) of the seed-averaged means:

- ``p`` (PRIMARY), the **two-level t-test**: D / SE with SE^2 = s_A^2/S_A + s_B^2/S_B + sd^2/U, where s^2
  is the sample variance of a model's per-seed means (training randomness, including each seed's own
  per-user noise) and sd^2 the variance over users of the true per-user difference (who the users are),
  estimated from the seed-averaged per-user differences minus their seed noise (a two-way
  users x seeds decomposition, floored at 0); degrees of freedom by Welch-Satterthwaite. It respects
  the seeds (with equal user effects it is Welch's test on the seed means) and, for models without
  training randomness (every seed identical), falls back to the paired t-test over users. Chosen as
  primary because it is calibrated with three seeds (tests/test_report_calibration.py); ``t_ci_low`` /
  ``t_ci_high`` are its 95% interval, the one that agrees with the verdict.
- ``ci_low``/``ci_high``: a 95% **two-level bootstrap** CI: seeds resampled with replacement within each
  model, then users with replacement (the same users for both models); ``bootstrap_p`` from the same
  draws. With few seeds a bootstrap knows only those seed values: its seed-level variance is (S-1)/S of
  the unbiased one and its tails are too light, so when the seeds dominate it is narrower than the
  t-interval (on 2 + 2 seeds of Beauty it excluded 0 where the primary p was 0.078). It describes; it does
  not decide.
- ``welch_p``: Welch's t-test on the per-seed means (seeds only; needs >= 2 seeds per model).
- ``user_t_p`` and ``wilcoxon_p``: paired t-test and Wilcoxon signed-rank over users on the seed-averaged
  per-user values. They ignore seed variance (they ask "would these trained models differ on new
  users?") and are shown for reference, never used for the verdict.

:mod:`llmrec.report.corrections` adjusts the primary p-values of all comparisons of one report.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import stats

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


def _residual_variance(x: np.ndarray) -> float:
    """Per-user seed noise: the variance left in X[s, u] after seed and user means (two-way ANOVA)."""
    s, u = x.shape
    resid = x - x.mean(1, keepdims=True) - x.mean(0, keepdims=True) + x.mean()
    return float((resid**2).sum() / ((s - 1) * (u - 1)))


def two_level_t(xa: np.ndarray, xb: np.ndarray) -> dict[str, float]:
    """The primary test (module docstring): D, its SE over seeds and users, Welch-Satterthwaite df, p."""
    (sa, users), sb = xa.shape, xb.shape[0]
    diff = float(xa.mean() - xb.mean())
    var_a = float(xa.mean(1).var(ddof=1)) / sa
    var_b = float(xb.mean(1).var(ddof=1)) / sb
    d = xa.mean(0) - xb.mean(0)
    noise = _residual_variance(xa) / sa + _residual_variance(xb) / sb
    var_u = max(0.0, float(d.var(ddof=1)) - noise) / users
    terms = [(v, n - 1) for v, n in ((var_a, sa), (var_b, sb), (var_u, users)) if v > 0]
    se = float(np.sqrt(sum(v for v, _ in terms)))
    if se == 0.0:  # no variance anywhere: identical runs (p 1), or a difference without any noise (p 0)
        return {
            "se": 0.0,
            "df": float("nan"),
            "p": 1.0 if diff == 0 else 0.0,
            "t_ci_low": diff,
            "t_ci_high": diff,
        }
    df = float(se**4 / sum(v**2 / n for v, n in terms))
    half = float(stats.t.ppf(0.975, df)) * se
    p = float(2 * stats.t.sf(abs(diff) / se, df))
    return {"se": se, "df": df, "p": p, "t_ci_low": diff - half, "t_ci_high": diff + half}


def _counts(rng: np.random.Generator, draws: int, size: int) -> np.ndarray:
    """(draws, size) how often each of ``size`` units is drawn when resampling ``size`` with replacement."""
    index = rng.integers(0, size, (draws, size)) + size * np.arange(draws)[:, None]
    return np.bincount(index.ravel(), minlength=draws * size).reshape(draws, size)


def two_level_bootstrap(
    xa: np.ndarray, xb: np.ndarray, resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> dict[str, float]:
    """Percentile CI and two-sided p of mean(A) - mean(B): seeds with replacement within each model, then
    users with replacement, the same users for both. Vectorised by linearity: a resample's difference is
    sum_s wa[s] * (X_A[s] . wu) - sum_s wb[s] * (X_B[s] . wu), with wa, wb, wu the resampling weights."""
    rng = np.random.default_rng(seed)
    (sa, users), sb = xa.shape, xb.shape[0]
    draws = []
    for start in range(0, resamples, 256):  # (256, U) user weights at a time: bounded memory
        n = min(256, resamples - start)
        wa = _counts(rng, n, sa) / sa  # (n, S_A)
        wb = _counts(rng, n, sb) / sb  # (n, S_B)
        wu = _counts(rng, n, users) / users  # (n, U)
        draws.append((wa * (wu @ xa.T)).sum(1) - (wb * (wu @ xb.T)).sum(1))
    diffs = np.concatenate(draws)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(diffs, [tail, 1.0 - tail])
    side = min(np.sum(diffs <= 0), np.sum(diffs >= 0))
    return {
        "ci_low": float(low),
        "ci_high": float(high),
        "bootstrap_p": min(1.0, 2 * (side + 1) / (resamples + 1)),
    }


def _reference_tests(xa: np.ndarray, xb: np.ndarray) -> dict[str, float]:
    """Welch over seed means; paired t and Wilcoxon over users on seed-averaged values (nan: no variance)."""
    ma, mb = xa.mean(1), xb.mean(1)
    a, b = xa.mean(0), xb.mean(0)
    with warnings.catch_warnings():  # a deterministic model's identical seeds: scipy warns, the p is right
        warnings.simplefilter("ignore", RuntimeWarning)
        spread = ma.var() + mb.var() > 0
        welch = float(stats.ttest_ind(ma, mb, equal_var=False).pvalue) if spread else float("nan")
    user_t = float(stats.ttest_rel(a, b).pvalue) if np.var(a - b) > 0 else float("nan")
    wilcoxon = float(stats.wilcoxon(a - b).pvalue) if np.any(a != b) else 1.0
    return {"welch_p": welch, "user_t_p": user_t, "wilcoxon_p": wilcoxon}


def compare_seeds(xa: np.ndarray, xb: np.ndarray, resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Model A (``xa``, seeds x users) against baseline B (``xb``) on the same users: means ± std over
    seeds, absolute and relative difference, and every test of the module docstring (``p`` is primary)."""
    xa, xb = np.asarray(xa, dtype=np.float64), np.asarray(xb, dtype=np.float64)
    if xa.ndim != 2 or xb.ndim != 2 or xa.shape[1] != xb.shape[1] or xa.shape[1] < 2:
        raise ConfigError(
            f"compare_seeds needs (seeds, users) arrays on the same ≥ 2 users: {xa.shape}, {xb.shape}"
        )
    if min(xa.shape[0], xb.shape[0]) < 2:
        raise ConfigError(f"a seed-level test needs ≥ 2 seeds per model, got {xa.shape[0]} and {xb.shape[0]}")
    ma, mb = xa.mean(1), xb.mean(1)
    diff = float(ma.mean() - mb.mean())
    out: dict[str, Any] = {"seeds": xa.shape[0], "baseline_seeds": xb.shape[0], "users": xa.shape[1]}
    out.update(mean=float(ma.mean()), std=float(ma.std(ddof=1)))
    out.update(baseline_mean=float(mb.mean()), baseline_std=float(mb.std(ddof=1)))
    out.update(diff=diff, rel_diff=diff / float(mb.mean()) if mb.mean() != 0 else float("nan"))
    out |= two_level_t(xa, xb) | two_level_bootstrap(xa, xb, resamples, seed) | _reference_tests(xa, xb)
    return out
