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


_TRAINER_INTS = ("max_epochs", "min_epochs", "check_val_every_n_epoch", "log_every_n_steps")
_TRAINER_NUMBERS = (
    "gradient_clip_val",
    "limit_train_batches",
    "limit_val_batches",
    "accumulate_grad_batches",
)


def check_trainer(node: Any) -> None:
    """Types Lightning only asserts deep inside its loops: ``trainer.max_epochs=abc`` fails here."""
    for key in (*_TRAINER_INTS, *_TRAINER_NUMBERS):
        value = node.get(key)
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if value is not None and (not numeric or (key in _TRAINER_INTS and not isinstance(value, int))):
            kind = "an integer" if key in _TRAINER_INTS else "a number"
            raise ConfigError(f"trainer.{key} must be {kind} or null, got {value!r}")


def check_seed(value: Any) -> int:
    """A seed every RNG accepts: an integer in [0, 2**32 - 1]."""
    seed = as_int(value, "seed")
    if not 0 <= seed < 2**32:
        raise ConfigError(f"seed must be in [0, 2**32 - 1], got {seed}; e.g. seed=0")
    return seed
