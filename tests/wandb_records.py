"""Reads an offline W&B run file (``run-<id>.wandb``): the LevelDB-style log of protobuf records that
``wandb sync`` uploads. wandb 0.31 has no Python reader any more, so the tests carry this small one."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

BLOCK = 32768
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def raw_records(path: Path) -> list[bytes]:
    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    pos, out, partial = HEADER, [], b""
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        if left < HEADER or (kind == 0 and length == 0):
            pos += left
            continue
        chunk = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind == FULL:
            out.append(chunk)
        elif kind == FIRST:
            partial = chunk
        elif kind == MIDDLE:
            partial += chunk
        elif kind == LAST:
            out.append(partial + chunk)
    return out


def read_run(path: Path) -> dict[str, Any]:
    """Keys: run (group, tags, project, job_type), summary, history, config, artifacts, exit."""
    from wandb.proto import wandb_internal_pb2 as pb

    out: dict[str, Any] = {
        "run": {},
        "summary": {},
        "history": [],
        "config": {},
        "artifacts": [],
        "exit": None,
    }
    for data in raw_records(path):
        record = pb.Record()
        record.ParseFromString(data)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
            out["run"] = {"group": run.run_group, "tags": list(run.tags), "project": run.project}
            out["run"]["job_type"] = run.job_type
        elif kind == "summary":
            for item in record.summary.update:
                out["summary"][item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
        elif kind == "history":
            out["history"].append(
                {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.history.item}
            )
        elif kind == "config":
            for item in record.config.update:
                out["config"][item.key] = json.loads(item.value_json)
        elif kind == "artifact":
            out["artifacts"].append({"name": record.artifact.name, "type": record.artifact.type})
        elif kind == "exit":
            out["exit"] = record.exit.exit_code
    return out


def run_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("offline-run-*/run-*.wandb"))
