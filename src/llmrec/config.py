"""Building objects from config nodes, with user mistakes surfaced as one clear error."""

from __future__ import annotations

from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning_fabric.utilities.exceptions import MisconfigurationException

from llmrec.errors import ConfigError, LlmrecError


def build(node: Any, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate`` that re-raises a user error from a constructor as itself, and an
    unknown argument as a ConfigError naming the key; anything else (a bug) keeps its traceback."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, LlmrecError):
            raise cause from None
        if isinstance(cause, TypeError) and "unexpected keyword argument" in str(cause):
            raise ConfigError(
                f"{cause}: remove that key from the config (config keys are constructor arguments)"
            ) from None
        if isinstance(cause, MisconfigurationException):
            raise ConfigError(f"{cause} (check the trainer.* settings)") from None
        raise


def call_checked(factory: Any, **kwargs: Any) -> Any:
    """Call a partial from :func:`build` (``_partial_=True``); an unknown config key is a ConfigError."""
    try:
        return factory(**kwargs)
    except TypeError as error:
        if "unexpected keyword argument" not in str(error):
            raise
        raise ConfigError(
            f"{error}: remove that key from the config (config keys are constructor arguments)"
        ) from None


def as_int(value: Any, key: str) -> int:
    """``value`` as an int, or a ConfigError naming ``key`` (``dataset.max_len=abc``)."""
    if isinstance(value, bool):
        raise ConfigError(f"{key} must be an integer, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be an integer, got {value!r}") from None
    if not number.is_integer():
        raise ConfigError(f"{key} must be an integer, got {value!r}")
    return int(number)


def check_seed(value: Any) -> int:
    """A seed every RNG accepts: an integer in [0, 2**32 - 1]."""
    seed = as_int(value, "seed")
    if not 0 <= seed < 2**32:
        raise ConfigError(f"seed must be in [0, 2**32 - 1], got {seed}; e.g. seed=0")
    return seed
