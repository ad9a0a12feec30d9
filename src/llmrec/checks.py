"""Checks of user-given values, each failing with one ConfigError that names the config key."""

from __future__ import annotations

from typing import Any

from llmrec.errors import ConfigError


def positive_int(value: Any, key: str, allow_none: bool = False) -> int | None:
    """``value`` if it is an integer > 0 (or None where ``allow_none``); else a ConfigError naming ``key``."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        also = " or null" if allow_none else ""
        raise ConfigError(f"{key} must be a positive integer{also}, got {value!r}")
    return value


def positive_ints(prefix: str = "model.", allow_none: bool = False, **values: Any) -> None:
    """:func:`positive_int` for each keyword, the key named ``<prefix><keyword>``."""
    for name, value in values.items():
        positive_int(value, f"{prefix}{name}", allow_none)


def rate(value: Any, key: str) -> float:
    """A probability-like rate in [0, 1) (dropout, masking); else a ConfigError naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ConfigError(f"{key} must be in [0, 1), got {value!r}")
    return float(value)
