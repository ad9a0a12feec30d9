"""The processed sequence format of SASRec / S3-Rec / E4SRec: ``Name.txt``, one user a line.

Each line is ``user item item ...`` with items oldest first (``Beauty.txt``, ``Yelp.txt``, ``ml-1m.txt``).
An optional item table (TSV/CSV with a header) gives each item's text, keyed by the same item ids; an
optional S3-Rec ``Name_item2attributes.json`` gives attribute ids per item, named through a P5
``datamaps.json`` (``id2attribute``) where it has them; ``datamaps.json`` ``id2item``/``id2user`` can
also map the ids back to the original ones (ASINs, Yelp business ids).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llmrec.data.interactions import Interactions
from llmrec.data.sources.files import decoding_error, read_lines, read_text_table, require_file
from llmrec.errors import DataError


def read_sequence_file(path: Path) -> Interactions:
    """Parse ``user item item ...`` lines; a user appearing twice is an error (it would merge histories)."""
    users: list[str] = []
    sequences: list[list[str]] = []
    seen: dict[str, int] = {}
    for number, line in read_lines(path):
        parts = line.split()
        if len(parts) < 2:
            raise DataError(f"{path}:{number}: expected 'user item item ...', got {line[:60]!r}")
        if parts[0] in seen:
            raise DataError(
                f"{path}:{number}: user {parts[0]!r} already has a line ({seen[parts[0]]}); "
                f"merge the two lines in time order"
            )
        seen[parts[0]] = number
        users.append(parts[0])
        sequences.append(parts[1:])
    if not users:
        raise DataError(f"{path} holds no sequences; expected lines 'user item item ...'")
    return Interactions(users=users, sequences=sequences)


def read_datamaps(path: Path) -> dict[str, dict[str, str]]:
    """P5 ``datamaps.json``: ``id2item``, ``id2user`` and (Yelp) ``id2attribute``, keys and values as text."""
    try:
        maps = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise decoding_error(path, "utf-8") from None
    except json.JSONDecodeError as error:
        raise DataError(f"{path}:{error.lineno}: not valid JSON ({error.msg}); replace the file") from None
    if not isinstance(maps, dict) or not isinstance(maps.get("id2item"), dict):
        raise DataError(f"{path}: expected a P5 datamaps object with an 'id2item' map")
    return {k: {str(i): str(v) for i, v in m.items()} for k, m in maps.items() if k.startswith("id2")}


def read_item2attributes(path: Path, names: dict[str, str] | None = None) -> dict[str, str]:
    """S3-Rec ``Name_item2attributes.json`` ``{item: [attribute id, ...]}`` as text per item: attribute
    names where ``names`` (datamaps ``id2attribute``) has them, else ``a<id>`` tokens."""
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise decoding_error(path, "utf-8") from None
    except json.JSONDecodeError as error:
        raise DataError(f"{path}:{error.lineno}: not valid JSON ({error.msg}); replace the file") from None
    if not isinstance(table, dict) or not all(isinstance(v, list) for v in table.values()):
        raise DataError(f"{path}: expected {{item id: [attribute id, ...]}}")
    names = names or {}
    return {str(item): ", ".join(names.get(str(a), f"a{a}") for a in attrs) for item, attrs in table.items()}


def rename(raw: Interactions, id2user: dict[str, str], id2item: dict[str, str], path: Path) -> None:
    """Replace processed ids by the original ones (ASINs, business ids) through a P5 datamaps file."""
    missing = next((i for s in raw.sequences for i in s if i not in id2item), None)
    if missing is not None:
        raise DataError(f"{path}: item {missing!r} of the sequences is not in id2item; wrong datamaps file?")
    raw.users = [id2user.get(u, u) for u in raw.users]
    raw.sequences = [[id2item[i] for i in s] for s in raw.sequences]
    raw.item_fields = {f: {id2item.get(i, i): t for i, t in v.items()} for f, v in raw.item_fields.items()}


@dataclass
class ProcessedSequences:
    """Reader for ``root/sequences_file`` plus an optional item text table."""

    root: str
    sequences_file: str
    item_text_file: str | None = None
    item_id_column: str = "item_id"
    text_columns: Sequence[str] = field(default_factory=lambda: ["title"])
    name: str = "dataset"
    attributes_file: str | None = None  # S3-Rec Name_item2attributes.json
    attributes_field: str = "attributes"  # field name for the attributes' text
    datamaps_file: str | None = None  # P5 datamaps.json: attribute names, and ids when original_ids
    attribute_names: bool = False  # name attributes by datamaps id2attribute (aligned for Yelp only)
    original_ids: bool = False  # report original ids (ASINs, business ids) instead of 1..N
    text_template: str | None = None
    empty_text: str = "[no text]"

    def _optional(self, name: str | None) -> Path | None:
        return Path(self.root) / name if name and (Path(self.root) / name).is_file() else None

    def input_files(self) -> list[Path]:
        files = [Path(self.root) / self.sequences_file]
        optional = (self.item_text_file, self.attributes_file, self.datamaps_file)
        return files + [p for p in map(self._optional, optional) if p is not None]

    def read(self) -> Interactions:
        path = require_file(Path(self.root), self.sequences_file, self.name)
        raw = read_sequence_file(path)
        if text_path := self._optional(self.item_text_file):
            raw.item_fields = read_text_table(text_path, self.item_id_column, list(self.text_columns))
        maps_path = self._optional(self.datamaps_file)
        maps = read_datamaps(maps_path) if maps_path else {}
        names = maps.get("id2attribute") if self.attribute_names else None
        if attributes := self._optional(self.attributes_file):
            raw.item_fields[self.attributes_field] = read_item2attributes(attributes, names)
        if self.original_ids and maps_path is not None:
            rename(raw, maps.get("id2user", {}), maps["id2item"], maps_path)
        raw.text_template, raw.empty_text = self.text_template, self.empty_text
        return raw
