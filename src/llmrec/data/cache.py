"""On-disk cache of processed datasets, keyed by the hash of the input files and every setting.

An entry is a folder ``<name>-<key>/`` holding ``data.npz`` (items, offsets) and ``meta.json`` (ids,
item text, and the npz checksum). Entries are written to a temp folder and renamed into place, so a
failed or killed preprocessing leaves nothing a later run would trust; a corrupted entry fails its
checksum and is rebuilt.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from llmrec.data.interactions import Interactions, SequenceData
from llmrec.data.preprocess import build_sequence_data
from llmrec.data.stats import dataset_stats
from llmrec.errors import DataError
from llmrec.io import make_temp_dir, publish_dir_atomic, sha256_file, sha256_json, write_json_atomic

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
_NOT_KEYED = {"root", "download"}  # where the files are and whether to fetch them do not change the data


class Source(Protocol):
    name: str

    def input_files(self) -> list[Path]: ...

    def read(self) -> Interactions: ...


def cache_key(source: Source, k_core: int) -> str:
    settings = {k: v for k, v in dataclasses.asdict(source).items() if k not in _NOT_KEYED}  # type: ignore[call-overload]
    missing = [path for path in source.input_files() if not path.is_file()]
    if missing:
        raise DataError(
            f"{missing[0]} is missing (dataset '{source.name}'): put the file there, or point "
            f"dataset.root=<folder> at the folder that holds it"
        )
    files = {path.name: sha256_file(path) for path in source.input_files()}
    return sha256_json(
        {
            "format": CACHE_FORMAT,
            "source": type(source).__name__,
            "settings": settings,
            "files": files,
            "k": k_core,
        }
    )[:16]


def _write_entry(data: SequenceData, directory: Path, key: str) -> None:
    optional = {"times": data.times, "stages": data.stages}
    extra = {name: value for name, value in optional.items() if value is not None}
    np.savez(directory / "data.npz", items=data.items, offsets=data.offsets, **extra)
    meta = {
        "key": key,
        "checksum": sha256_file(directory / "data.npz"),
        "user_ids": data.user_ids,
        "item_ids": data.item_ids,
        "item_fields": data.item_fields,
        "notes": data.notes,
        "text_template": data.text_template,
        "empty_text": data.empty_text,
        "has_times": data.times is not None,
        "has_stages": data.stages is not None,
        "stats": dataset_stats(data),
    }
    write_json_atomic(directory / "meta.json", meta, indent=None)


def _read_entry(directory: Path) -> tuple[SequenceData, dict[str, Any]] | None:
    try:
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        # an entry written before timestamps were kept ("has_times" missing) is rebuilt, under the same key
        if sha256_file(directory / "data.npz") != meta["checksum"] or "has_times" not in meta:
            return None
        with np.load(directory / "data.npz", allow_pickle=False) as arrays:
            data = SequenceData(
                items=arrays["items"],
                offsets=arrays["offsets"],
                user_ids=meta["user_ids"],
                item_ids=meta["item_ids"],
                item_fields=meta["item_fields"],
                notes=meta.get("notes", {}),
                text_template=meta.get("text_template"),
                empty_text=meta.get("empty_text", ""),
                times=arrays["times"] if meta["has_times"] else None,
                stages=arrays["stages"] if meta.get("has_stages") else None,
            )
    except (OSError, KeyError, ValueError, json.JSONDecodeError):
        return None
    return data, meta


def load_sequence_data(source: Source, k_core: int, cache_dir: Path | None) -> tuple[SequenceData, str]:
    """Processed data for ``source`` and its fingerprint; read from the cache or built and cached."""
    key = cache_key(source, k_core)
    fingerprint = f"{source.name}-{key}"
    if cache_dir is None:
        return build_sequence_data(source.read(), k_core, source.name), fingerprint
    entry = cache_dir / fingerprint
    if entry.is_dir():
        cached = _read_entry(entry)
        if cached is not None:
            log.info("%s: read processed data from cache %s", source.name, entry)
            return cached[0], fingerprint
        log.warning("%s: cache entry %s is corrupted or outdated; rebuilding it", source.name, entry)
        shutil.rmtree(entry, ignore_errors=True)
    data = build_sequence_data(source.read(), k_core, source.name)
    tmp = make_temp_dir(cache_dir, prefix=f".{fingerprint}.")
    try:
        _write_entry(data, tmp, key)
        publish_dir_atomic(tmp, entry)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return data, fingerprint


def write_stats(entry: Path, stats: dict[str, Any]) -> None:
    """Store ``stats`` in the manifest (``meta.json``) of cache entry ``entry``, keeping the rest."""
    meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
    if meta.get("stats") != stats:
        meta["stats"] = stats
        write_json_atomic(entry / "meta.json", meta, indent=None)
