"""Calibration: on two "models" that differ only in their training seed, the report's primary test rejects
at about the nominal 5%, while the old test (users x seeds pooled as independent pairs) rejects far more
often. Synthetic per-user values, fixed seed: true per-user means shared by both models + a random shift
per seed (training randomness) + per-user noise per seed."""

from __future__ import annotations

import numpy as np
from scipy import stats

from llmrec.report.stats import compare_seeds

CALLS, SEEDS, USERS = 400, 3, 500
SEED_SD, NOISE_SD = 0.02, 0.3


def simulate(rng: np.random.Generator, effect: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(seeds, users) values of model A (``effect`` better on every user) and baseline B."""
    true = rng.uniform(0.1, 0.6, USERS)

    def model() -> np.ndarray:
        return true + rng.normal(0, SEED_SD, (SEEDS, 1)) + rng.normal(0, NOISE_SD, (SEEDS, USERS))

    return model() + effect, model()


def old_pooled_p(xa: np.ndarray, xb: np.ndarray) -> float:
    """The replaced report test: seed s of A paired with seed s of B, all users x seeds pooled."""
    return float(stats.ttest_rel(xa.ravel(), xb.ravel()).pvalue)


def test_primary_test_is_calibrated_and_the_pooled_test_is_not() -> None:
    rng = np.random.default_rng(20)
    primary, pooled, user_level = [], [], []
    for _ in range(CALLS):
        xa, xb = simulate(rng)
        out = compare_seeds(xa, xb, resamples=100, seed=int(rng.integers(2**31)))
        primary.append(out["p"] < 0.05)
        user_level.append(out["user_t_p"] < 0.05)
        pooled.append(old_pooled_p(xa, xb) < 0.05)
    # 400 calls: a calibrated test's rate has a standard error of 0.011 around 0.05
    assert 0.02 <= np.mean(primary) <= 0.09
    assert np.mean(pooled) > 0.2  # pseudo-replication: the seed shift counted as an effect
    assert np.mean(user_level) > 0.2  # seed-averaged users alone ignore the seed shift too


def test_primary_test_finds_a_real_difference() -> None:
    rng = np.random.default_rng(21)
    # a 0.1 gain against a seed-mean sd of about 0.024 per model, 3 seeds each
    found = [compare_seeds(*simulate(rng, effect=0.1), resamples=100)["p"] < 0.05 for _ in range(100)]
    assert np.mean(found) > 0.6
