"""The processed sequence format of SASRec / S3-Rec / E4SRec: ``Name.txt``, one user a line.

Each line is ``user item item ...`` with items oldest first (``Beauty.txt``, ``Yelp.txt``, ``ml-1m.txt``).
An optional item table (TSV/CSV with a header) gives each item's text, keyed by the same item ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llmrec.data.interactions import Interactions
from llmrec.data.sources.files import read_lines, read_text_table, require_file
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


@dataclass
class ProcessedSequences:
    """Reader for ``root/sequences_file`` plus an optional item text table."""

    root: str
    sequences_file: str
    item_text_file: str | None = None
    item_id_column: str = "item_id"
    text_columns: Sequence[str] = field(default_factory=lambda: ["title"])
    name: str = "dataset"

    def input_files(self) -> list[Path]:
        files = [Path(self.root) / self.sequences_file]
        if self.item_text_file and (Path(self.root) / self.item_text_file).is_file():
            files.append(Path(self.root) / self.item_text_file)
        return files

    def read(self) -> Interactions:
        path = require_file(Path(self.root), self.sequences_file, self.name)
        raw = read_sequence_file(path)
        if self.item_text_file:
            text_path = Path(self.root) / self.item_text_file
            if text_path.is_file():
                raw.item_fields = read_text_table(text_path, self.item_id_column, list(self.text_columns))
        return raw
