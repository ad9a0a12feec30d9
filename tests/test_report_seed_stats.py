"""The seed-level statistics against hand-computed cases: Holm, Benjamini-Hochberg, the two-level t-test,
the seed aggregation, the relative effect, and the bootstrap's edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llmrec.errors import ConfigError
from llmrec.report.corrections import adjust, benjamini_hochberg, holm
from llmrec.report.stats import compare_seeds, two_level_bootstrap, two_level_t

# Two seeds x two users. A's rows differ by a seed shift only (no per-user seed noise); B is constant.
XA = np.array([[0.5, 0.7], [0.3, 0.5]])
XB = np.full((2, 2), 0.2)


def test_holm_by_hand() -> None:
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> running max 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.04, 0.01, 0.2]).tolist() == pytest.approx([0.08, 0.03, 0.2])
    assert holm([0.6, 0.9]).tolist() == pytest.approx([1.0, 1.0])  # capped at 1


def test_benjamini_hochberg_by_hand() -> None:
    # sorted: 0.005*4/1 = 0.02, 0.01*4/2 = 0.02, 0.03*4/3 = 0.04, 0.04*4/4 = 0.04
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.005]).tolist() == pytest.approx([0.02, 0.04, 0.04, 0.02])
    # step-up: 0.02*3 = 0.06 is lowered to the next one's 0.021*3/2 = 0.0315
    assert benjamini_hochberg([0.02, 0.021, 0.9]).tolist() == pytest.approx([0.0315, 0.0315, 0.9])
    assert adjust([0.02, 0.021, 0.9], "bh").tolist() == pytest.approx([0.0315, 0.0315, 0.9])
    with pytest.raises(ConfigError, match="holm or bh"):
        adjust([0.1], "bonferroni")


def test_two_level_t_by_hand() -> None:
    # D = 0.5 - 0.2 = 0.3. Seed means of A: 0.6, 0.4 -> s^2 = 0.02, / 2 seeds = 0.01; B: 0.
    # Per-user differences of seed averages: 0.4 - 0.2, 0.6 - 0.2 -> variance 0.02; no per-user seed noise
    # (A is additive), so the user term is 0.02 / 2 users = 0.01. SE^2 = 0.02;
    # df = 0.02^2 / (0.01^2 / 1 + 0.01^2 / 1) = 2; t = 0.3 / sqrt(0.02) = 2.1213;
    # with 2 df, P(|T| > t) = 1 - t / sqrt(t^2 + 2).
    out = two_level_t(XA, XB)
    t = 0.3 / math.sqrt(0.02)
    assert out["se"] == pytest.approx(math.sqrt(0.02))
    assert out["df"] == pytest.approx(2.0)
    assert out["p"] == pytest.approx(1 - t / math.sqrt(t * t + 2))
    assert out["p"] == pytest.approx(0.16795, abs=1e-5)
    half = 4.302653 * math.sqrt(0.02)  # t(0.975, 2 df) x SE
    assert (out["t_ci_low"], out["t_ci_high"]) == pytest.approx((0.3 - half, 0.3 + half))


def test_per_user_seed_noise_is_not_counted_as_user_spread() -> None:
    # A = B + noise that cancels over seeds for each user: the seed-averaged users do not differ, and the
    # noise only reaches the seed means (here not at all), so nothing is left: SE 0, identical means p 1.
    xb = np.array([[0.25, 0.5, 0.75], [0.25, 0.5, 0.75]])  # binary fractions: exact sums
    xa = xb + np.array([[0.125, -0.125, 0.0], [-0.125, 0.125, 0.0]])
    out = two_level_t(xa, xb)
    assert (out["se"], out["p"], out["t_ci_low"], out["t_ci_high"]) == (0.0, 1.0, 0.0, 0.0)


def test_seed_aggregation_and_relative_effect_by_hand() -> None:
    out = compare_seeds(XA, XB, resamples=200)
    assert (out["seeds"], out["baseline_seeds"], out["users"]) == (2, 2, 2)
    assert out["mean"] == pytest.approx(0.5) and out["std"] == pytest.approx(math.sqrt(0.02))  # 0.6, 0.4
    assert out["baseline_mean"] == pytest.approx(0.2) and out["baseline_std"] == 0.0
    assert out["diff"] == pytest.approx(0.3) and out["rel_diff"] == pytest.approx(1.5)  # 0.3 / 0.2
    # Welch: t = 0.3 / sqrt(0.02 / 2) = 3 on 1 df (a Cauchy): P(|T| > 3) = 2 atan(1/3) / pi = 0.2048
    assert out["welch_p"] == pytest.approx(2 * math.atan(1 / 3) / math.pi)
    assert out["p"] == pytest.approx(0.16795, abs=1e-5)  # the two-level t-test of test_two_level_t_by_hand


def test_bootstrap_edges() -> None:
    # every user, every seed of both models differ by exactly 0.25: every resample says 0.25
    xa = np.full((3, 5), 0.75)
    assert two_level_bootstrap(xa, xa - 0.25, resamples=300) == pytest.approx(
        {"ci_low": 0.25, "ci_high": 0.25, "bootstrap_p": 2 / 301}
    )
    # seeds differ, users do not: the resampled difference takes the values of seed-mean averages only
    xa = np.array([[1.0, 1.0], [0.0, 0.0]])
    out = two_level_bootstrap(xa, np.zeros((2, 2)), resamples=2000)
    assert out["ci_low"] == 0.0 and out["ci_high"] == 1.0 and out["bootstrap_p"] > 0.4


def test_compare_seeds_refuses_bad_shapes() -> None:
    with pytest.raises(ConfigError, match="same ≥ 2 users"):
        compare_seeds(np.ones((3, 4)), np.ones((3, 5)))
    with pytest.raises(ConfigError, match="≥ 2 seeds per model"):
        compare_seeds(np.ones((1, 4)), np.ones((3, 4)))
