"""Corrections for the many comparisons of one report (every model x dataset x metric tested against the
baseline): Holm's step-down (family-wise error, the default) or Benjamini-Hochberg (false discovery
rate), as adjusted p-values compared with the report's alpha."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from llmrec.errors import ConfigError

CORRECTIONS = {"holm": "Holm", "bh": "Benjamini-Hochberg"}


def holm(p: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error), in the input order."""
    p = np.asarray(p, dtype=np.float64)
    order = np.argsort(p)
    scaled = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
    out = np.empty_like(p)
    out[order] = np.minimum(scaled, 1.0)
    return out


def benjamini_hochberg(p: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the input order."""
    p = np.asarray(p, dtype=np.float64)
    order = np.argsort(p)
    scaled = p[order] * len(p) / np.arange(1, len(p) + 1)
    out = np.empty_like(p)
    out[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return out


def adjust(p: Sequence[float], correction: str) -> np.ndarray:
    if correction not in CORRECTIONS:
        raise ConfigError(f"unknown correction {correction!r}: use holm or bh (Benjamini-Hochberg)")
    return holm(p) if correction == "holm" else benjamini_hochberg(p)
