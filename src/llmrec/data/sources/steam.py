"""Steam (Kang & McAuley, ICDM 2018, as used by SASRec): ``steam_reviews.json.gz`` (one Python-literal
dict a line: username, product_id, date ``YYYY-MM-DD``) and ``steam_games.json.gz`` (id, title/app_name,
genres, tags, developer). Both are read with ast.literal_eval only.

Reviews are ordered per user by date; ties (same day, common) keep file order. Games without an ``id``
cannot be joined and are counted (``games_without_id``); reviewed items missing from the games file get
the empty-text marker (counted in the stats).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from llmrec.data.interactions import Interactions
from llmrec.data.sources.files import first_existing, require_file
from llmrec.data.sources.records import parse_date, read_records, require_key, sequences_from_events, text_of

REVIEWS = ("steam_reviews.json.gz", "steam_reviews.json")
GAMES = ("steam_games.json.gz", "steam_games.json")
HINT = (
    " (run: python -m llmrec.data download steam --root <folder>, or fetch them from cseweb.ucsd.edu/~wckang)"
)


def read_steam_reviews(path: Path, user_key: str = "username") -> Interactions:
    def events() -> Iterator[tuple[str, str, float]]:
        for number, record in read_records(path, literal=True):
            user = str(require_key(path, number, record, user_key))
            item = str(require_key(path, number, record, "product_id"))
            yield (
                user,
                item,
                parse_date(path, number, require_key(path, number, record, "date"), ["%Y-%m-%d"]),
            )

    return sequences_from_events(events(), path)


def read_steam_games(path: Path) -> tuple[dict[str, dict[str, str]], int]:
    fields: dict[str, dict[str, str]] = {"title": {}, "genres": {}, "tags": {}, "developer": {}}
    without_id = 0
    for _, record in read_records(path, literal=True):
        if record.get("id") in (None, ""):
            without_id += 1
            continue
        game = str(record["id"])
        values = {
            "title": record.get("title") or record.get("app_name"),
            "genres": record.get("genres"),
            "tags": record.get("tags"),
            "developer": record.get("developer") or record.get("publisher"),
        }
        for name, value in values.items():
            if text := text_of(value):
                fields[name][game] = text
    return fields, without_id


@dataclass
class Steam:
    root: str
    user_key: str = "username"  # SASRec groups by username; newer dumps also carry user_id
    text_template: str | None = None
    empty_text: str = "[no text]"
    download: bool = False
    name: str = "steam"

    def input_files(self) -> list[Path]:
        root = Path(self.root)
        if self.download and first_existing(root, REVIEWS) is None:
            from llmrec.data.download import fetch, plan_for

            fetch(plan_for("steam"), root)
        found = first_existing(root, REVIEWS)
        files = [require_file(root, found.name if found else REVIEWS[0], self.name, HINT)]
        games = first_existing(root, GAMES)
        return files + ([games] if games else [])

    def read(self) -> Interactions:
        files = self.input_files()
        raw = read_steam_reviews(files[0], self.user_key)
        if len(files) > 1:
            raw.item_fields, raw.notes["games_without_id"] = read_steam_games(files[1])
        raw.text_template, raw.empty_text = self.text_template, self.empty_text
        return raw
