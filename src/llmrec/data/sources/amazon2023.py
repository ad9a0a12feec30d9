"""Amazon Reviews 2023 (Hou et al., 2024, "Bridging Language and Items for Retrieval and Recommendation";
amazon-reviews-2023.github.io) for one category, read from the files as published, kept under ``root`` in
the publisher's own folder layout:

- ``raw/review_categories/<Category>.jsonl(.gz)``: one JSON object a line (user_id, parent_asin, rating,
  timestamp in milliseconds, review text, ...); ``split='raw'`` reads it, then llmrec's k-core and
  protocols apply as for every dataset (events per user by time, ties in file order, exact duplicates
  dropped; ``records.py``);
- ``benchmark/5core/<split>/<Category>.{train,valid,test}.csv(.gz)`` for ``split='last_out'`` or
  ``'timestamp'`` (or the ``<split>_w_his`` folder): a header ``user_id,parent_asin,rating,timestamp`` (the
  ``_w_his`` files add ``history``, which the stages already imply and which is not read). Each interaction
  keeps the stage of its file, and ``protocol=given`` (``llmrec.data.given_split``) follows those stages;
- ``raw/meta_categories/meta_<Category>.jsonl(.gz)``: item text for both, one JSON object a line keyed by
  parent_asin: title, store, categories, features, description (lists joined with ', ').

Items are parent_asins, as in the benchmark files. Times are kept in seconds. Items without metadata keep
their interactions and get the empty-text marker (counted in the stats), as in the Amazon 2014 reader.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from llmrec.data.given_split import STAGE_FILES
from llmrec.data.interactions import Interactions
from llmrec.data.sources.amazon import read_metadata, read_reviews
from llmrec.data.sources.files import first_existing, require_file
from llmrec.data.sources.records import iter_lines, parse_timestamp
from llmrec.errors import ConfigError, DataError

log = logging.getLogger(__name__)

CATEGORIES = (
    "All_Beauty", "Amazon_Fashion", "Appliances", "Arts_Crafts_and_Sewing", "Automotive", "Baby_Products",
    "Beauty_and_Personal_Care", "Books", "CDs_and_Vinyl", "Cell_Phones_and_Accessories",
    "Clothing_Shoes_and_Jewelry", "Digital_Music", "Electronics", "Gift_Cards", "Grocery_and_Gourmet_Food",
    "Handmade_Products", "Health_and_Household", "Health_and_Personal_Care", "Home_and_Kitchen",
    "Industrial_and_Scientific", "Kindle_Store", "Magazine_Subscriptions", "Movies_and_TV",
    "Musical_Instruments", "Office_Products", "Patio_Lawn_and_Garden", "Pet_Supplies", "Software",
    "Sports_and_Outdoors", "Subscription_Boxes", "Tools_and_Home_Improvement", "Toys_and_Games",
    "Video_Games", "Unknown",
)  # fmt: skip
SPLITS = ("raw", "last_out", "timestamp")
META_FIELDS = ("title", "store", "categories", "features", "description")
MILLISECONDS = 0.001
HEADER = ("user_id", "parent_asin", "rating", "timestamp")  # the column order of headerless copies


def check_category(category: str, how: str) -> str:
    """``category`` if it names an Amazon Reviews 2023 category, else a ConfigError saying ``how`` to pass
    one (e.g. ``dataset.category=<Category>``) and listing them."""
    if category in CATEGORIES:
        return category
    close = difflib.get_close_matches(category, CATEGORIES, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise ConfigError(
        f"{category!r} is not an Amazon Reviews 2023 category{hint}; pass one as {how}, exactly as "
        f"published (case and underscores): {', '.join(CATEGORIES)}"
    )


def check_split(split: str, how: str) -> str:
    if split not in SPLITS:
        raise ConfigError(f"{how}={split!r} is not a split; choose one of {', '.join(SPLITS)}")
    return split


def _columns(path: Path, parts: list[str]) -> tuple[int, int, int] | None:
    """Positions of user_id, parent_asin and timestamp from a header line; None for a data line."""
    if parts[0] != "user_id":
        return None
    missing = [name for name in ("parent_asin", "timestamp") if name not in parts]
    if missing:
        raise DataError(
            f"{path}:1: the header {parts} lacks {missing}; expected {','.join(HEADER)}[,history]"
        )
    return 0, parts.index("parent_asin"), parts.index("timestamp")


def read_split_file(path: Path, stage: int) -> Iterator[tuple[str, str, float, int]]:
    """(user, parent_asin, seconds, stage) of every row of one benchmark CSV, in file order."""
    user_at, item_at, time_at = 0, 1, 3
    for number, line in iter_lines(path):
        parts = [part.strip() for part in line.split(",")]
        if number == 1 and (header := _columns(path, parts)) is not None:
            user_at, item_at, time_at = header
            continue
        if len(parts) < len(HEADER):
            raise DataError(f"{path}:{number}: expected '{','.join(HEADER)}[,history]', got {line[:60]!r}")
        if not parts[item_at]:
            raise DataError(f"{path}:{number}: the row has no parent_asin: {line[:60]!r}")
        time = parse_timestamp(path, number, parts[time_at]) * MILLISECONDS
        yield parts[user_at], parts[item_at], time, stage


def sequences_by_stage(events: Iterable[tuple[str, str, float, int]], source: Path) -> Interactions:
    """Per user: train, then valid, then test interactions, each by time, ties in file order."""
    per_user: dict[str, list[tuple[int, float, int, str]]] = {}
    for order, (user, item, time, stage) in enumerate(events):
        per_user.setdefault(user, []).append((stage, time, order, item))
    if not per_user:
        raise DataError(f"{source} holds no interactions; check that it is the right folder")
    ordered = [sorted(events) for events in per_user.values()]
    return Interactions(
        users=list(per_user),
        sequences=[[item for *_, item in events] for events in ordered],
        times=[[time for _, time, _, _ in events] for events in ordered],
        stages=[[stage for stage, *_ in events] for events in ordered],
    )


@dataclass
class Amazon2023:
    """One Amazon Reviews 2023 category: its raw reviews or its official benchmark split (``split``)."""

    root: str
    category: str = "All_Beauty"
    split: str = "raw"  # raw | last_out | timestamp
    max_field_chars: int = 500  # long descriptions are cut; 0 keeps everything
    text_template: str | None = None
    empty_text: str = "[no text]"
    download: bool = False
    name: str = "amazon2023"

    def __post_init__(self) -> None:
        check_category(self.category, "dataset.category=<Category> (e.g. dataset.category=All_Beauty)")
        check_split(self.split, "dataset.split")

    def plan_name(self) -> str:
        """The download plan (``python -m llmrec.data download <plan>``) of this category and split."""
        return f"amazon2023-{self.category}" + ("" if self.split == "raw" else f"-{self.split}")

    def _candidates(self) -> dict[str, list[str]]:
        """Per interaction file, the relative paths that may hold it (first found wins)."""
        c = self.category
        if self.split == "raw":
            return {"reviews": [f"raw/review_categories/{c}.jsonl.gz", f"raw/review_categories/{c}.jsonl"]}
        folders = [f"benchmark/5core/{self.split}", f"benchmark/5core/{self.split}_w_his"]
        return {
            stage: [f"{folder}/{c}.{stage}.csv{gz}" for folder in folders for gz in (".gz", "")]
            for stage in STAGE_FILES
        }

    def _interaction_files(self) -> list[Path]:
        root, candidates = Path(self.root), self._candidates()
        missing = any(first_existing(root, names) is None for names in candidates.values())
        if self.download and (missing or self._meta_file() is None):  # the plan fetches what is missing
            from llmrec.data.download import fetch, plan_for

            fetch(plan_for(self.plan_name()), root)
        hint = f"; download it with: python -m llmrec.data download {self.plan_name()} --root {root}"
        found = [first_existing(root, names) for names in candidates.values()]
        return [
            require_file(root, str(path.relative_to(root)) if path else names[0], self.name, hint)
            for path, names in zip(found, candidates.values(), strict=True)
        ]

    def _meta_file(self) -> Path | None:
        meta = f"raw/meta_categories/meta_{self.category}.jsonl"
        return first_existing(Path(self.root), [f"{meta}.gz", meta])

    def input_files(self) -> list[Path]:
        meta = self._meta_file()
        return self._interaction_files() + ([meta] if meta else [])

    def read(self) -> Interactions:
        files = self._interaction_files()
        if self.split == "raw":
            raw = read_reviews(files[0], ("user_id", "parent_asin", "timestamp"), MILLISECONDS)
        else:
            stages = zip(files, STAGE_FILES.values(), strict=True)
            rows = (row for path, stage in stages for row in read_split_file(path, stage))
            raw = sequences_by_stage(rows, files[0].parent)
        meta = self._meta_file()
        if meta is None:
            log.warning(
                "%s: no raw/meta_categories/meta_%s.jsonl(.gz) in %s: every item gets '%s' as its text",
                self.name, self.category, self.root, self.empty_text,
            )  # fmt: skip
        else:
            fields, repeats = read_metadata(meta, self.max_field_chars, META_FIELDS, "parent_asin", False)
            raw.item_fields, raw.notes["duplicate_metadata_records"] = fields, repeats
        raw.text_template, raw.empty_text = self.text_template, self.empty_text
        return raw
