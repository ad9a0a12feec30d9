"""Yelp, in either published form:

- the Yelp Open Dataset (academic dataset) JSON lines: ``yelp_academic_dataset_review.json`` (user_id,
  business_id, date) and ``yelp_academic_dataset_business.json`` (business_id, name, categories as a
  comma-separated string or a list), preferred when present;
- the processed S3-Rec/E4SRec form ``Yelp.txt`` (``user item item ...``) with
  ``yelp_item_categories.tsv`` (``item_id  business_id  categories``, categories separated by ``|``).

Reviews are ordered per user by date, ties in file order. S3-Rec kept only reviews from 2019-01-01 on:
``min_date`` applies that cut to the raw form (reviews dropped by it are counted in the stats).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from llmrec.data.interactions import Interactions
from llmrec.data.sources.files import first_existing, read_text_table, require_file
from llmrec.data.sources.processed import read_sequence_file
from llmrec.data.sources.records import parse_date, read_records, require_key, sequences_from_events, text_of

REVIEWS = ("yelp_academic_dataset_review.json", "yelp_academic_dataset_review.json.gz")
BUSINESS = ("yelp_academic_dataset_business.json", "yelp_academic_dataset_business.json.gz")
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")
HINT = (
    " (accept the terms at https://www.yelp.com/dataset and extract yelp_academic_dataset_review.json and "
    "yelp_academic_dataset_business.json there, or place the processed Yelp.txt + yelp_item_categories.tsv)"
)


def read_reviews(path: Path, min_date: str | None = None) -> Interactions:
    cutoff = parse_date(path, 0, min_date, DATE_FORMATS) if min_date else None
    dropped = 0

    def events() -> Iterator[tuple[str, str, float]]:
        nonlocal dropped
        for number, record in read_records(path):
            user = str(require_key(path, number, record, "user_id"))
            item = str(require_key(path, number, record, "business_id"))
            time = parse_date(path, number, require_key(path, number, record, "date"), DATE_FORMATS)
            if cutoff is not None and time < cutoff:
                dropped += 1
                continue
            yield user, item, time

    raw = sequences_from_events(events(), path)
    raw.notes["reviews_before_min_date_dropped"] = dropped
    return raw


def read_business(path: Path) -> dict[str, dict[str, str]]:
    """Business name (as ``title``) and categories (``, ``-separated) by business_id."""
    fields: dict[str, dict[str, str]] = {"title": {}, "categories": {}}
    for number, record in read_records(path):
        business = str(require_key(path, number, record, "business_id"))
        categories = record.get("categories")
        if isinstance(categories, str):
            categories = [c.strip() for c in categories.split(",")]
        for name, value in (("title", record.get("name")), ("categories", categories)):
            if text := text_of(value):
                fields[name][business] = text
    return fields


@dataclass
class Yelp:
    root: str
    min_date: str | None = None  # e.g. "2019-01-01" as in S3-Rec; raw form only
    sequences_file: str = "Yelp.txt"
    item_text_file: str = "yelp_item_categories.tsv"
    text_template: str | None = None
    empty_text: str = "[no text]"
    name: str = "yelp"

    def _interaction_file(self) -> Path:
        root = Path(self.root)
        found = first_existing(root, (*REVIEWS, self.sequences_file))
        return require_file(root, found.name if found else REVIEWS[0], self.name, HINT)

    def _text_file(self, interactions: Path) -> Path | None:
        if interactions.name.startswith("yelp_academic"):
            return first_existing(Path(self.root), BUSINESS)
        return first_existing(Path(self.root), [self.item_text_file])

    def input_files(self) -> list[Path]:
        path = self._interaction_file()
        text = self._text_file(path)
        return [path] + ([text] if text else [])

    def read(self) -> Interactions:
        path = self._interaction_file()
        text = self._text_file(path)
        if path.name.startswith("yelp_academic"):
            raw = read_reviews(path, self.min_date)
            raw.item_fields = read_business(text) if text else {}
        else:
            raw = read_sequence_file(path)
            if text is not None:
                table = read_text_table(text, "item_id", ["categories"])["categories"]
                raw.item_fields = {"categories": {i: ", ".join(t.split("|")) for i, t in table.items()}}
        raw.text_template, raw.empty_text = self.text_template, self.empty_text
        return raw
