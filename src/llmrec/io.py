"""Atomic writes (temp file + rename) and content hashing: a killed process never leaves a half-written
file that a later run would trust.

``tempfile`` creates its files 0600 and folders 0700 whatever the umask; what these helpers publish gets
the modes an ordinary ``open``/``mkdir`` would give (0666/0777 less the process umask), so a colleague
in the group reads a finished run like any other file."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_json(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def current_umask() -> int:
    """The process umask, read without changing it where the OS shows it (Linux ``/proc``); elsewhere
    set and restored at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def make_temp_dir(parent: Path, prefix: str) -> Path:
    """``tempfile.mkdtemp`` in ``parent`` (created if missing), with a folder's ordinary mode."""
    parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=parent, prefix=prefix))
    folder.chmod(0o777 & ~current_umask())
    return folder


def write_bytes_atomic(path: Path, data: bytes | memoryview) -> None:
    """Write ``data`` to a temp file in the same folder, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, value: Any, indent: int | None = 2) -> None:
    write_bytes_atomic(path, json.dumps(value, indent=indent, default=str).encode("utf-8"))


def publish_dir_atomic(tmp_dir: Path, final_dir: Path) -> None:
    """Move a fully written temp folder into place; if another process won the race, keep theirs."""
    try:
        os.replace(tmp_dir, final_dir)
    except OSError:
        if not final_dir.is_dir():
            raise
        shutil.rmtree(tmp_dir, ignore_errors=True)


def replace_dir_atomic(tmp_dir: Path, final_dir: Path) -> None:
    """Move a fully written temp folder over ``final_dir``, an earlier one moved aside first and removed
    after: ``final_dir`` is at every moment absent, the old folder or the new one, never half of one."""
    if not final_dir.exists():
        os.replace(tmp_dir, final_dir)
        return
    aside = Path(tempfile.mkdtemp(dir=final_dir.parent, prefix=f".{final_dir.name}.old."))
    os.replace(final_dir, aside / final_dir.name)
    os.replace(tmp_dir, final_dir)
    shutil.rmtree(aside, ignore_errors=True)
