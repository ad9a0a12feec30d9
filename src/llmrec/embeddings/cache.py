"""Item-text embeddings computed once per (encoder, texts) and stored on disk.

An entry is a folder ``<cache_dir>/<label>-<key>/`` with ``embeddings.npy`` (float32, (N, D), no pickle)
and ``manifest.json`` (encoder identity: name + revision/path, the text template, the sha256 of the texts,
count, dim, and the checksum of the array). The key is the hash of the encoder identity, the template and
the texts' hash, so a cache built with another encoder or other text is never found, hence never reused;
an entry whose manifest disagrees with the request, or whose array fails its checksum, is rebuilt.
Entries are written to a temp folder and renamed into place (``llmrec.io``).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from llmrec.embeddings.encoders import TextEncoder
from llmrec.errors import ConfigError, DataError
from llmrec.io import make_temp_dir, publish_dir_atomic, sha256_file, sha256_json, write_json_atomic

log = logging.getLogger(__name__)

CACHE_FORMAT = 1


def texts_sha256(texts: list[str]) -> str:
    return sha256_json(list(texts))


def apply_template(texts: list[str], template: str) -> list[str]:
    if "{text}" not in template:
        raise ConfigError(f"embeddings.template must contain '{{text}}', got {template!r}")
    return [template.replace("{text}", text) for text in texts]


def manifest_for(encoder: TextEncoder, texts: list[str], template: str) -> dict[str, Any]:
    """What an entry must have been built from (without count/dim/checksum, known after encoding)."""
    return {
        "format": CACHE_FORMAT,
        "encoder": encoder.identity(),
        "template": template,
        "texts_sha256": texts_sha256(texts),
        "count": len(texts),
    }


def _read(entry: Path, expected: dict[str, Any]) -> np.ndarray | None:
    try:
        manifest = json.loads((entry / "manifest.json").read_text(encoding="utf-8"))
        if any(manifest.get(key) != value for key, value in expected.items()):
            log.warning("embedding cache %s was built from other inputs; rebuilding it", entry)
            return None
        if sha256_file(entry / "embeddings.npy") != manifest["checksum"]:
            log.warning("embedding cache %s fails its checksum; rebuilding it", entry)
            return None
        vectors = np.load(entry / "embeddings.npy", allow_pickle=False)
    except (OSError, KeyError, ValueError, json.JSONDecodeError):
        return None
    return vectors if vectors.shape == (expected["count"], manifest["dim"]) else None


def _write(entry: Path, vectors: np.ndarray, manifest: dict[str, Any]) -> None:
    tmp = make_temp_dir(entry.parent, prefix=f".{entry.name}.")
    try:
        np.save(tmp / "embeddings.npy", vectors, allow_pickle=False)
        full = {**manifest, "dim": int(vectors.shape[1]), "checksum": sha256_file(tmp / "embeddings.npy")}
        write_json_atomic(tmp / "manifest.json", full)
        shutil.rmtree(entry, ignore_errors=True)
        publish_dir_atomic(tmp, entry)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _encode(encoder: TextEncoder, texts: list[str]) -> np.ndarray:
    vectors = np.ascontiguousarray(encoder.encode(texts), dtype=np.float32)  # (N, D)
    if vectors.ndim != 2 or vectors.shape[0] != len(texts):
        raise DataError(f"the encoder returned shape {vectors.shape} for {len(texts)} texts")
    if not np.isfinite(vectors).all():
        raise DataError("the encoder returned non-finite embeddings; check the model and its dtype")
    return vectors


def cached_embeddings(
    encoder: TextEncoder,
    texts: list[str],
    cache_dir: Path | None,
    template: str = "{text}",
    label: str = "items",
) -> tuple[np.ndarray, Path | None]:
    """(N, D) float32 embeddings of ``template`` applied to ``texts``, read from or written to the cache."""
    full = apply_template(list(texts), template)
    if not full:
        raise DataError("no item texts to embed: the dataset has no items")
    expected = manifest_for(encoder, full, template)
    if cache_dir is None:
        return _encode(encoder, full), None
    entry = Path(cache_dir) / f"{label}-{sha256_json(expected)[:16]}"
    if entry.is_dir():
        vectors = _read(entry, expected)
        if vectors is not None:
            log.info("read %d item embeddings from cache %s", len(full), entry)
            return vectors, entry
    vectors = _encode(encoder, full)
    _write(entry, vectors, expected)
    log.info("embedded %d item texts into %s", len(full), entry)
    return vectors, entry


class ItemEmbeddings:
    """Config object handed to models: ``item_embeddings(texts) -> (N, D)``, through the cache."""

    def __init__(
        self,
        encoder: TextEncoder,
        cache_dir: str | None = None,
        template: str = "{text}",
        label: str = "items",
    ) -> None:
        apply_template([], template)  # validates the template now, not after the data is loaded
        self.encoder = encoder
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.template = template
        self.label = label

    def __call__(self, texts: list[str]) -> np.ndarray:
        return cached_embeddings(self.encoder, texts, self.cache_dir, self.template, self.label)[0]

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Embeddings of new texts (generated titles), never cached, with the same template."""
        return _encode(self.encoder, apply_template(list(texts), self.template))
