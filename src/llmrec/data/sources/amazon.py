"""Amazon 2014 (McAuley, UCSD) for one category, in any of its published forms:

- 5-core reviews ``reviews_<Category>_5.json.gz`` (one JSON object a line: reviewerID, asin,
  unixReviewTime), preferred when present;
- ratings-only ``ratings_<Category>.csv`` (``user,item,rating,timestamp``, no header);
- the processed S3-Rec/E4SRec form ``<Name>.txt`` (``user item item ...``) with an item text table.

Item text for the raw forms comes from ``meta_<Category>.json.gz`` (one Python-literal dict a line, read
with ast.literal_eval only): title, brand, categories, description. The S3-Rec procedure: events ordered
per user by unixReviewTime, ties in file order, then the k-core to a fixed point (``preprocess.py``).
Items without metadata keep their interactions and get the empty-text marker (counted in the stats).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llmrec.data.interactions import Interactions
from llmrec.data.sources.files import first_existing, read_text_table, require_file
from llmrec.data.sources.processed import read_sequence_file
from llmrec.data.sources.records import (
    iter_lines,
    parse_timestamp,
    read_records,
    require_key,
    sequences_from_events,
    text_of,
)
from llmrec.errors import DataError

META_FIELDS = ("title", "brand", "categories", "description")


def read_reviews(
    path: Path,
    keys: tuple[str, str, str] = ("reviewerID", "asin", "unixReviewTime"),
    time_unit: float = 1.0,
) -> Interactions:
    """Reviews, one JSON object a line: (user, item, time) ``keys`` (Amazon 2014's by default) in file
    order; times in units of ``time_unit`` seconds (Amazon 2023: milliseconds, 0.001)."""
    user_key, item_key, time_key = keys

    def events() -> Iterator[tuple[str, str, float]]:
        for number, record in read_records(path):
            user = str(require_key(path, number, record, user_key))
            item = str(require_key(path, number, record, item_key))
            time = parse_timestamp(path, number, require_key(path, number, record, time_key))
            yield user, item, time * time_unit

    return sequences_from_events(events(), path)


def read_ratings_csv(path: Path) -> Interactions:
    """Ratings-only CSV ``user,item,rating,timestamp`` without a header."""

    def events() -> Iterator[tuple[str, str, float]]:
        for number, line in iter_lines(path):
            parts = [p.strip() for p in line.split(",")]
            if len(parts) != 4:
                raise DataError(f"{path}:{number}: expected 'user,item,rating,timestamp', got {line[:60]!r}")
            yield parts[0], parts[1], parse_timestamp(path, number, parts[3])

    return sequences_from_events(events(), path)


def read_metadata(
    path: Path,
    max_chars: int = 0,
    names: Sequence[str] = META_FIELDS,
    key: str = "asin",
    literal: bool = True,
) -> tuple[dict[str, dict[str, str]], int]:
    """``meta_<Category>.json.gz``: {field: {item id: text}} for the ``names`` fields (Amazon 2014: title,
    brand, categories, description, keyed by asin), and the number of repeated ids (the first record wins).
    ``literal``: lines may be Python dict literals (the 2014 files), else JSON only."""
    fields: dict[str, dict[str, str]] = {name: {} for name in names}
    seen: set[str] = set()
    repeats = 0
    for number, record in read_records(path, literal=literal):
        item = str(require_key(path, number, record, key))
        if item in seen:
            repeats += 1
            continue
        seen.add(item)
        for name in names:
            if text := text_of(record.get(name), max_chars or None):
                fields[name][item] = text
    return fields, repeats


@dataclass
class Amazon2014:
    """One Amazon 2014 category; the form is chosen by the files present in ``root`` (see the module)."""

    root: str
    category: str = "Beauty"
    processed_file: str | None = None  # e.g. Beauty.txt, used when no raw interaction file is present
    item_text_file: str | None = None  # e.g. beauty_item_text.tsv, for the processed form
    item_id_column: str = "item_id"
    text_columns: Sequence[str] = field(default_factory=lambda: ["title"])
    max_field_chars: int = 500  # long descriptions are cut; 0 keeps everything
    text_template: str | None = None
    empty_text: str = "[no text]"
    download: bool = False
    name: str = "amazon"

    def _raw_names(self) -> list[str]:
        c = self.category
        return [f"reviews_{c}_5.json.gz", f"reviews_{c}_5.json", f"ratings_{c}.csv"]

    def _interaction_file(self) -> Path:
        root = Path(self.root)
        if self.download and first_existing(root, self._raw_names()) is None:
            from llmrec.data.download import fetch, plan_for

            fetch(plan_for(f"amazon-{self.category}"), root)
        found = first_existing(root, self._raw_names())
        if found is None and self.processed_file and (root / self.processed_file).is_file():
            found = root / self.processed_file
        hint = (
            f" (expected one of {self._raw_names()}"
            + (f" or {self.processed_file}" if self.processed_file else "")
            + f"; run: python -m llmrec.data download amazon-{self.category} --root {root})"
        )
        return require_file(root, found.name if found else self._raw_names()[0], self.name, hint)

    def _meta_file(self) -> Path | None:
        return first_existing(
            Path(self.root), [f"meta_{self.category}.json.gz", f"meta_{self.category}.json"]
        )

    def input_files(self) -> list[Path]:
        files = [self._interaction_file()]
        if files[0].name.startswith(("reviews_", "ratings_")):
            meta = self._meta_file()
            files += [meta] if meta else []
        elif self.item_text_file and (Path(self.root) / self.item_text_file).is_file():
            files.append(Path(self.root) / self.item_text_file)
        return files

    def read(self) -> Interactions:
        path = self._interaction_file()
        if path.name.startswith("reviews_"):
            raw = read_reviews(path)
        elif path.name.startswith("ratings_"):
            raw = read_ratings_csv(path)
        else:
            raw = read_sequence_file(path)
            if self.item_text_file and (Path(self.root) / self.item_text_file).is_file():
                table = Path(self.root) / self.item_text_file
                raw.item_fields = read_text_table(table, self.item_id_column, list(self.text_columns))
        meta = self._meta_file() if path.name.startswith(("reviews_", "ratings_")) else None
        if meta is not None:
            raw.item_fields, repeats = read_metadata(meta, self.max_field_chars)
            raw.notes["duplicate_metadata_records"] = repeats
        raw.text_template, raw.empty_text = self.text_template, self.empty_text
        return raw
