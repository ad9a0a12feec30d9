"""MovieLens-1M: raw ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``) or a processed sequence
file, with titles and genres from ``movies.dat`` (``MovieID::Title::Genres``, ISO-8859-1).

Ratings are ordered per user by timestamp; ties keep file order (a stable sort). Every rating counts as
an interaction, as in SASRec and BERT4Rec.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llmrec.data.interactions import Interactions
from llmrec.data.sources.files import first_existing, read_lines, require_file
from llmrec.data.sources.processed import read_sequence_file
from llmrec.errors import DataError

SEQUENCE_FILES = ("ml-1m_user_sequences.txt", "ml-1m.txt")
DOWNLOAD_HINT = (
    " (download https://files.grouplens.org/datasets/movielens/ml-1m.zip and unzip it there, "
    "or place a processed 'user item item ...' file named ml-1m_user_sequences.txt)"
)


def read_ratings(path: Path) -> Interactions:
    rows: dict[str, list[tuple[int, int, str]]] = {}
    for number, line in read_lines(path, encoding="latin-1"):
        parts = line.split("::")
        if len(parts) != 4 or not parts[3].isdigit():
            raise DataError(
                f"{path}:{number}: expected 'UserID::MovieID::Rating::Timestamp', got {line[:60]!r}"
            )
        rows.setdefault(parts[0], []).append((int(parts[3]), number, parts[1]))
    users = list(rows)
    sequences = [[item for _, _, item in sorted(rows[u])] for u in users]  # (timestamp, line): stable ties
    return Interactions(users=users, sequences=sequences)


def read_movies(path: Path) -> dict[str, dict[str, str]]:
    titles: dict[str, str] = {}
    genres: dict[str, str] = {}
    for number, line in read_lines(path, encoding="latin-1"):
        parts = line.split("::")
        if len(parts) != 3:
            raise DataError(f"{path}:{number}: expected 'MovieID::Title::Genres', got {line[:60]!r}")
        titles[parts[0]] = parts[1]
        genres[parts[0]] = parts[2].replace("|", ", ")
    return {"title": titles, "genres": genres}


@dataclass
class MovieLens1M:
    root: str
    name: str = "ml1m"

    def _interaction_file(self) -> Path:
        root = Path(self.root)
        ratings = root / "ratings.dat"
        if ratings.is_file():
            return require_file(root, "ratings.dat", self.name, DOWNLOAD_HINT)
        found = first_existing(root, SEQUENCE_FILES)
        if found is None:
            return require_file(root, "ratings.dat", self.name, DOWNLOAD_HINT)
        return require_file(root, found.name, self.name, DOWNLOAD_HINT)

    def input_files(self) -> list[Path]:
        files = [self._interaction_file()]
        if (Path(self.root) / "movies.dat").is_file():
            files.append(Path(self.root) / "movies.dat")
        return files

    def read(self) -> Interactions:
        path = self._interaction_file()
        raw = read_ratings(path) if path.name == "ratings.dat" else read_sequence_file(path)
        movies = Path(self.root) / "movies.dat"
        if movies.is_file():
            raw.item_fields = read_movies(movies)
        return raw
