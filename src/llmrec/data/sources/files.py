"""Small helpers shared by the readers: locating files and reporting bad lines clearly."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

from llmrec.errors import DataError

# UTF-8, with the byte-order mark some spreadsheet programs write at the start dropped.
CSV_ENCODING = "utf-8-sig"


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


# MovieLens publishes its files in ISO-8859-1 (latin-1); UTF-8 re-exports circulate too. Every byte string
# decodes as latin-1, so strict UTF-8 goes first: a latin-1 title almost never forms valid UTF-8, and a
# UTF-8 one read as latin-1 would turn into mojibake without any error.
UTF8_THEN_LATIN1 = ("utf-8", "latin-1")
_SNIFF_BYTES = 8192


def not_text(path: Path, number: int | None = None) -> DataError:
    where = f"{path}:{number}" if number is not None else str(path)
    return DataError(
        f"{where}: NUL bytes, so binary data or UTF-16/32 text, not a text file; check that it is the right "
        f"file, or re-export it as UTF-8 text"
    )


def decode_line(raw: bytes, path: Path, number: int, encodings: Sequence[str] = ("utf-8",)) -> str:
    """``raw`` decoded with the first of ``encodings`` that fits; NUL bytes or no fitting encoding are a
    DataError naming the file and line."""
    if b"\x00" in raw:
        raise not_text(path, number)
    for encoding in encodings[:-1]:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    try:
        return raw.decode(encodings[-1])
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path}:{number}: not valid {encodings[-1]} text ({error.reason}); re-export the file as "
            f"{encodings[-1]}"
        ) from None


def read_lines(path: Path, encodings: Sequence[str] = ("utf-8",)) -> Iterator[tuple[int, str]]:
    """(1-based line number, stripped line) for every non-blank line; a decoding error names the line."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = decode_line(raw, path, number, encodings).strip()
            if line:
                yield number, line


def require_text(path: Path) -> None:
    """Refuse a file whose first 8 KiB hold NUL bytes (binary data) before a text reader meets it."""
    with path.open("rb") as handle:
        if b"\x00" in handle.read(_SNIFF_BYTES):
            raise not_text(path)


def decoding_error(path: Path, encoding: str) -> DataError:
    """The error for a text file that failed to decode: the first line that is not ``encoding`` text."""
    encoding = "utf-8" if encoding == CSV_ENCODING else encoding  # the same check; the BOM is UTF-8 too
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            decode_line(raw, path, number, (encoding,))
    return DataError(f"{path}: not valid {encoding} text; re-export the file as UTF-8")


def read_text_table(path: Path, id_column: str, text_columns: Sequence[str]) -> dict[str, dict[str, str]]:
    """Item text from a TSV/CSV table with a header: ``{column: {item id: text}}``."""
    require_text(path)
    delimiter = "\t" if path.suffix in {".tsv", ".tab"} else ","
    try:
        with path.open(encoding=CSV_ENCODING, newline="") as handle:
            return _text_columns(path, csv.DictReader(handle, delimiter=delimiter), id_column, text_columns)
    except UnicodeDecodeError:
        raise decoding_error(path, CSV_ENCODING) from None
    except csv.Error as error:
        raise DataError(f"{path}: not a readable table ({error}); check the file") from None


def _text_columns(
    path: Path, reader: csv.DictReader, id_column: str, text_columns: Sequence[str]
) -> dict[str, dict[str, str]]:
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
