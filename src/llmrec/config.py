"""Building objects from config nodes, with user mistakes surfaced as one clear error."""

from __future__ import annotations

from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate

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
        raise
