"""Where pretrained weights come from: a local folder or a hub id, with one clear error when neither works.

A source that looks like a path (absolute, ``./``, ``../``, ``~``, or two or more ``/``) must exist;
anything else that is not an existing folder is treated as a hub id, which only works where the hub (or
its local cache) is reachable. No code here downloads on its own: the loaders of transformers and
sentence-transformers do, and only for hub ids.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from llmrec.errors import ConfigError


def looks_like_path(source: str) -> bool:
    """Absolute, ``./``, ``../``, ``~``, existing, or with two or more ``/`` (hub ids are ``org/name``)."""
    return (
        source.startswith(("/", "./", "../", "~"))
        or source.count("/") >= 2
        or Path(source).expanduser().exists()
    )


def resolve_source(source: str, what: str, key: str) -> str:
    """The local folder (resolved) or the hub id; a missing local folder is one ConfigError saying the fix."""
    if not source:
        raise ConfigError(f"{key} is empty: give a local folder with the {what} weights or a hub id")
    if not looks_like_path(source):
        return source
    path = Path(source).expanduser().resolve()
    if not path.is_dir():
        raise ConfigError(
            f"{what} weights not found at {path} ({key}={source}): put the model folder (config.json, "
            f"weights, tokenizer files) there, or set {key}=<folder or hub id>"
        )
    return str(path)


def source_revision(source: str, revision: str | None = None) -> str:
    """A revision label for manifests: a hash of file names and sizes for a folder, else the hub revision."""
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        listing = "\n".join(f"{p.relative_to(path)}:{p.stat().st_size}" for p in files)
        return "local:" + hashlib.sha256(listing.encode()).hexdigest()[:16]
    return f"hub:{revision or 'main'}"


def hub_error(source: str, key: str, error: Exception) -> ConfigError:
    """The one error for a hub id that could not be loaded (offline, typo, gated model)."""
    return ConfigError(
        f"could not load '{source}' ({type(error).__name__}: {error}); this run is offline-first: download "
        f"the model once into a folder and set {key}=/path/to/that/folder"
    )
