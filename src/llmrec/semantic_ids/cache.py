"""Semantic IDs stored on disk once per (item embeddings, method, settings, seed).

An artefact is a folder ``<cache_dir>/semantic_ids-<key>/`` with ``codes.npy`` (int64 (N, C), no pickle),
``manifest.json`` (the request it was built from: the embeddings' identity, i.e. encoder + template + texts
hash, and every tokenizer setting and the seed; plus level sizes and the array's checksum) and
``stats.json``. The key hashes the request, so changed texts, settings or seed never find an old artefact;
one whose manifest disagrees or whose array fails its checksum is rebuilt. Written to a temp folder and
renamed into place (``llmrec.io``), like the embedding cache.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from llmrec.errors import DataError
from llmrec.io import make_temp_dir, publish_dir_atomic, sha256_file, sha256_json, write_json_atomic
from llmrec.semantic_ids.codes import SemanticIds

log = logging.getLogger(__name__)

ARTEFACT_FORMAT = 1


def artefact_dir(cache_dir: Path, request: dict[str, Any]) -> Path:
    return cache_dir / f"semantic_ids-{sha256_json({'format': ARTEFACT_FORMAT, **request})[:16]}"


def read_artefact(entry: Path, request: dict[str, Any]) -> SemanticIds | None:
    """The artefact's ids if it was built from ``request`` and its array is intact; else None."""
    try:
        manifest = json.loads((entry / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("request") != json.loads(json.dumps(request)):
            log.warning("semantic-id cache %s was built from other inputs; rebuilding it", entry)
            return None
        if sha256_file(entry / "codes.npy") != manifest["checksum"]:
            log.warning("semantic-id cache %s fails its checksum; rebuilding it", entry)
            return None
        codes = np.load(entry / "codes.npy", allow_pickle=False)
        return SemanticIds(torch.from_numpy(codes.astype(np.int64)), tuple(manifest["level_sizes"]))
    except (OSError, KeyError, ValueError, TypeError, json.JSONDecodeError, DataError):
        return None


def write_artefact(entry: Path, ids: SemanticIds, stats: dict[str, Any], request: dict[str, Any]) -> None:
    tmp = make_temp_dir(entry.parent, prefix=f".{entry.name}.")
    try:
        np.save(tmp / "codes.npy", ids.codes.numpy(), allow_pickle=False)
        manifest = {
            "format": ARTEFACT_FORMAT,
            "request": request,
            "level_sizes": list(ids.level_sizes),
            "checksum": sha256_file(tmp / "codes.npy"),
        }
        write_json_atomic(tmp / "manifest.json", manifest)
        write_json_atomic(tmp / "stats.json", stats)
        shutil.rmtree(entry, ignore_errors=True)
        publish_dir_atomic(tmp, entry)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_stats(entry: Path) -> dict[str, Any]:
    """An artefact's stats.json; a DataError naming the folder when it is not an artefact."""
    path = Path(entry) / "stats.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise DataError(
            f"{entry} is not a semantic-id artefact (no readable stats.json: {error.__class__.__name__}); "
            "give a semantic_ids-<key> folder of the cache"
        ) from None
