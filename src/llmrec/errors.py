"""User-facing errors: one clear line that says what is wrong and how to fix it."""

from __future__ import annotations


class LlmrecError(Exception):
    """A problem with the user's input (files, config values), reported without a traceback."""


class DataError(LlmrecError):
    """A dataset file is missing, empty or malformed."""


class ConfigError(LlmrecError):
    """A config value is impossible (negative size, unknown option, ...)."""
