"""Line-oriented raw files (plain or gzip): JSON / Python-literal records, timestamps, and turning
(user, item, time) events into chronological sequences.

Documented rules, shared by every reader that uses them:
- a gzip file that ends early (truncated download) or is corrupt is refused, naming the file and line;
- binary data (NUL bytes) and text in another encoding are refused, naming the file and line;
- a line that is not a JSON object (or, where allowed, a Python dict *literal*) is refused;
  Python literals are parsed with :func:`ast.literal_eval` only, never ``eval``;
- a non-numeric or unparseable timestamp is refused;
- an exact duplicate interaction (same user, item and time) is dropped and counted
  (``duplicate_interactions_dropped``); repeats at another time are kept, as in SASRec;
- per user, events are ordered by time; ties keep file order (a stable sort).
"""

from __future__ import annotations

import ast
import gzip
import json
import zlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from llmrec.data.interactions import Interactions
from llmrec.data.sources.files import decode_line
from llmrec.errors import DataError

_GZIP_MAGIC = b"\x1f\x8b"


def iter_lines(path: Path, encodings: Sequence[str] = ("utf-8",)) -> Iterator[tuple[int, str]]:
    """(1-based line number, stripped line) for every non-blank line of a plain or gzip file; binary
    data and text in another encoding are refused naming the line (see ``files.decode_line``)."""
    with path.open("rb") as probe:
        compressed = probe.read(2) == _GZIP_MAGIC
    number = 0
    try:
        with gzip.open(path, "rb") if compressed else path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):  # number is reported on error
                line = decode_line(raw, path, number, encodings).strip()
                if line:
                    yield number, line
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise DataError(
            f"{path}:{number + 1}: the gzip stream is truncated or corrupt ({error}); download the file again"
        ) from None


def _literal_dict(path: Path, number: int, line: str) -> dict[str, Any]:
    try:
        tree = ast.parse(line, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        raise DataError(
            f"{path}:{number}: neither JSON nor a Python dict literal: {line[:60]!r}; fix or delete the line"
        ) from None
    if not isinstance(tree.body, ast.Dict):
        raise DataError(f"{path}:{number}: expected one dict literal a line, got {line[:60]!r}; refused")
    try:
        return ast.literal_eval(tree)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise DataError(
            f"{path}:{number}: the dict holds something other than literals (a call, a name, ...): "
            f"{line[:60]!r}; refused, only plain literals are read"
        ) from None


def parse_record(path: Path, number: int, line: str, literal: bool = False) -> dict[str, Any]:
    """One record: a JSON object, or (``literal=True``) a Python dict literal read with ast.literal_eval."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        if not literal:
            raise DataError(
                f"{path}:{number}: not a JSON object: {line[:60]!r}; fix or delete the line"
            ) from None
        return _literal_dict(path, number, line)
    if not isinstance(value, dict):
        raise DataError(f"{path}:{number}: expected one object ({{...}}) a line, got {type(value).__name__}")
    return value


def read_records(path: Path, literal: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in iter_lines(path):
        yield number, parse_record(path, number, line, literal)


def require_key(path: Path, number: int, record: dict[str, Any], key: str) -> Any:
    if key not in record or record[key] in (None, ""):
        raise DataError(f"{path}:{number}: the record has no '{key}' (keys: {sorted(record)[:12]})")
    return record[key]


def parse_timestamp(path: Path, number: int, value: Any) -> float:
    """A numeric timestamp (int, float or their text); anything else is refused."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DataError(
            f"{path}:{number}: timestamp {value!r} is not numeric (expected unix seconds)"
        ) from None


def parse_date(path: Path, number: int, value: Any, formats: Iterable[str]) -> float:
    """Unix seconds (UTC) of a date string in one of ``formats``."""
    for fmt in formats:
        try:
            return datetime.strptime(str(value), fmt).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
    raise DataError(f"{path}:{number}: date {value!r} does not match any of {list(formats)}")


def sequences_from_events(events: Iterable[tuple[str, str, float]], source: Path) -> Interactions:
    """Chronological sequences from (user, item, time) events in file order (see the module rules)."""
    per_user: dict[str, list[tuple[float, int, str]]] = {}
    seen: set[tuple[str, str, float]] = set()
    duplicates = 0
    for order, (user, item, time) in enumerate(events):
        if (user, item, time) in seen:
            duplicates += 1
            continue
        seen.add((user, item, time))
        per_user.setdefault(user, []).append((time, order, item))
    if not per_user:
        raise DataError(f"{source} holds no interactions; check that it is the right file")
    users = list(per_user)
    ordered = [sorted(per_user[u]) for u in users]  # (time, file order)
    return Interactions(
        users=users,
        sequences=[[item for _, _, item in events] for events in ordered],
        notes={"duplicate_interactions_dropped": duplicates},
        times=[[time for time, _, _ in events] for events in ordered],
    )


def text_of(value: Any, limit: int | None = None) -> str:
    """Text of a metadata value: strings stripped, lists (also nested, e.g. Amazon category paths)
    flattened and de-duplicated in order and joined with ', '; None/empty gives ''."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        parts: list[str] = []
        stack = list(value)
        while stack:
            head = stack.pop(0)
            if isinstance(head, (list, tuple)):
                stack[:0] = list(head)
            elif (text := text_of(head)) and text not in parts:
                parts.append(text)
        text = ", ".join(parts)
    else:
        text = " ".join(str(value).split())
    return text[:limit] if limit else text
