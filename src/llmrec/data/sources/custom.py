"""Your own data: an interaction table ``user_id,item_id,timestamp`` (CSV with a header, or Parquet when
pandas + pyarrow are installed) and an optional item table ``item_id,<text columns...>``.

Rules (see docs/datasets.md): timestamps are unix seconds or ISO 8601 dates/datetimes; per user,
interactions are ordered by time with ties in file order; exact duplicates (same user, item, time) are
dropped and counted; extra columns are ignored; every item-table column but the id becomes a text field
unless ``text_columns`` names them; items missing from the item table get the empty-text marker.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from llmrec.data.interactions import Interactions
from llmrec.data.sources.files import CSV_ENCODING, decoding_error, require_text
from llmrec.data.sources.records import sequences_from_events
from llmrec.errors import DataError

Row = tuple[int, dict[str, str]]


@contextmanager
def _text_errors(path: Path) -> Iterator[None]:
    """Decoding and CSV-syntax failures while reading ``path`` as one DataError naming the line."""
    try:
        yield
    except UnicodeDecodeError:
        raise decoding_error(path, CSV_ENCODING) from None
    except csv.Error as error:
        raise DataError(f"{path}: not a readable CSV table ({error}); check the file") from None


def _csv_rows(path: Path, columns: Sequence[str]) -> tuple[list[str], Iterator[Row]]:
    require_text(path)
    handle = path.open(encoding=CSV_ENCODING, newline="")
    reader = csv.DictReader(handle)
    with _text_errors(path):
        try:
            header = reader.fieldnames or []
        except BaseException:
            handle.close()
            raise
    missing = [c for c in columns if c not in header]
    if missing:
        handle.close()
        raise DataError(f"{path}:1: missing column(s) {missing}; the header is {header}. Rename the columns")

    def rows() -> Iterator[Row]:
        with handle, _text_errors(path):
            for row in reader:
                yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k is not None}

    return list(header), rows()


def _parquet_rows(path: Path, columns: Sequence[str]) -> tuple[list[str], Iterator[Row]]:
    try:
        import pandas as pd
        import pyarrow  # noqa: F401  (pandas reads Parquet through it; the [parquet] extra)
    except ImportError:
        raise DataError(
            f"{path}: Parquet needs pandas and pyarrow (pip install 'llmrec[parquet]'); or save it as CSV"
        ) from None
    frame = pd.read_parquet(path)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; the columns are {list(frame.columns)}")
    records = frame.astype(str).to_dict("records")
    return list(frame.columns), ((n, r) for n, r in enumerate(records, start=1))


def table_rows(path: Path, columns: Sequence[str]) -> tuple[list[str], Iterator[Row]]:
    """Header and (row number, row) of a CSV or Parquet table that must have ``columns``."""
    if not path.is_file() or path.stat().st_size == 0:
        raise DataError(f"{path} is missing or empty: write the table there (see docs/datasets.md)")
    return (_parquet_rows if path.suffix == ".parquet" else _csv_rows)(path, columns)


def parse_time(path: Path, number: int, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise DataError(
            f"{path}:{number}: timestamp {value!r} is neither unix seconds nor an ISO 8601 date; fix the row"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


@dataclass
class CustomTable:
    root: str
    interactions_file: str = "interactions.csv"
    items_file: str | None = "items.csv"  # optional; skipped when absent
    user_column: str = "user_id"
    item_column: str = "item_id"
    time_column: str = "timestamp"
    text_columns: Sequence[str] | None = None  # None: every item-table column but the id
    text_template: str | None = None
    empty_text: str = "[no text]"
    name: str = "custom"

    def _items_path(self) -> Path | None:
        path = Path(self.root) / self.items_file if self.items_file else None
        return path if path is not None and path.is_file() else None

    def input_files(self) -> list[Path]:
        items = self._items_path()
        return [Path(self.root) / self.interactions_file] + ([items] if items else [])

    def _events(self, path: Path) -> Iterator[tuple[str, str, float]]:
        _, rows = table_rows(path, (self.user_column, self.item_column, self.time_column))
        for number, row in rows:
            user, item = row[self.user_column], row[self.item_column]
            if not user or not item:
                raise DataError(f"{path}:{number}: empty {self.user_column} or {self.item_column}")
            yield user, item, parse_time(path, number, row[self.time_column])

    def _item_fields(self, path: Path) -> dict[str, dict[str, str]]:
        header, rows = table_rows(path, (self.item_column, *(self.text_columns or ())))
        names = (
            list(self.text_columns)
            if self.text_columns is not None
            else [c for c in header if c != self.item_column]
        )
        fields: dict[str, dict[str, str]] = {name: {} for name in names}
        for _, row in rows:
            for name in names:
                if row.get(name):
                    fields[name].setdefault(row[self.item_column], row[name])
        return fields

    def read(self) -> Interactions:
        path = Path(self.root) / self.interactions_file
        raw = sequences_from_events(self._events(path), path)
        if items := self._items_path():
            raw.item_fields = self._item_fields(items)
        raw.text_template, raw.empty_text = self.text_template, self.empty_text
        return raw
