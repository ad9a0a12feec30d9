"""Small helpers shared by the readers: locating files and reporting bad lines clearly."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

from llmrec.errors import DataError


def require_file(root: Path, name: str, dataset: str, hint: str = "") -> Path:
    """``root/name`` if it exists and is not empty, else a DataError saying what to put where."""
    path = root / name
    if not root.is_dir():
        raise DataError(
            f"dataset folder {root} does not exist; point dataset.root=<folder> at the folder holding "
            f"{name} for '{dataset}'{hint}"
        )
    if not path.is_file():
        raise DataError(f"{path} is missing: put '{name}' for dataset '{dataset}' in {root}{hint}")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty: replace it with the real '{name}' file{hint}")
    return path


def first_existing(root: Path, names: Sequence[str]) -> Path | None:
    for name in names:
        if (root / name).is_file():
            return root / name
    return None


def read_lines(path: Path, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """(1-based line number, stripped line) for every non-blank line; a decoding error names the line."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode(encoding).strip()
            except UnicodeDecodeError as error:
                raise DataError(
                    f"{path}:{number}: not valid {encoding} text ({error.reason}); re-export the file as "
                    f"{encoding} or set the reader's encoding"
                ) from None
            if line:
                yield number, line


def read_text_table(path: Path, id_column: str, text_columns: Sequence[str]) -> dict[str, dict[str, str]]:
    """Item text from a TSV/CSV table with a header: ``{column: {item id: text}}``."""
    delimiter = "\t" if path.suffix in {".tsv", ".tab"} else ","
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        header = reader.fieldnames or []
        missing = [c for c in (id_column, *text_columns) if c not in header]
        if missing:
            raise DataError(
                f"{path}: missing column(s) {missing}; the header has {header}. Set the dataset's "
                f"item_id_column/text_columns to match"
            )
        fields: dict[str, dict[str, str]] = {c: {} for c in text_columns}
        for row in reader:
            for column in text_columns:
                fields[column][row[id_column].strip()] = (row[column] or "").strip()
    return fields
