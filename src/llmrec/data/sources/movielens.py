"""MovieLens-1M: raw ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``) or a processed sequence
file, with titles and genres from ``movies.dat`` (``MovieID::Title::Genres``, ISO-8859-1).
MovieLens-100K: ``u.data`` (``user<TAB>item<TAB>rating<TAB>unix_ts``) with titles and genres from
``u.item`` (``id|title|release|video_release|IMDb_url|19 genre flags``, ISO-8859-1).

GroupLens publishes these files in ISO-8859-1 (latin-1); UTF-8 re-exports are read too (each line is
tried as UTF-8 first, then latin-1). Binary data (NUL bytes) is refused, naming the line.

Ratings are ordered per user by timestamp; ties keep file order (a stable sort). Every rating counts as
an interaction, as in SASRec and BERT4Rec.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from llmrec.data.interactions import Interactions
from llmrec.data.sources.files import UTF8_THEN_LATIN1, first_existing, read_lines, require_file
from llmrec.data.sources.processed import read_sequence_file
from llmrec.data.sources.records import iter_lines, parse_timestamp, sequences_from_events
from llmrec.errors import DataError

SEQUENCE_FILES = ("ml-1m_user_sequences.txt", "ml-1m.txt")
DOWNLOAD_HINT = (
    " (download https://files.grouplens.org/datasets/movielens/ml-1m.zip and unzip it there, "
    "or place a processed 'user item item ...' file named ml-1m_user_sequences.txt)"
)


def read_ratings(path: Path) -> Interactions:
    rows: dict[str, list[tuple[int, int, str]]] = {}
    for number, line in read_lines(path, UTF8_THEN_LATIN1):
        parts = line.split("::")
        if len(parts) != 4 or not parts[3].isdigit():
            raise DataError(
                f"{path}:{number}: expected 'UserID::MovieID::Rating::Timestamp', got {line[:60]!r}"
            )
        rows.setdefault(parts[0], []).append((int(parts[3]), number, parts[1]))
    users = list(rows)
    ordered = [sorted(rows[u]) for u in users]  # (timestamp, line): stable ties
    sequences = [[item for _, _, item in events] for events in ordered]
    times = [[float(time) for time, _, _ in events] for events in ordered]
    return Interactions(users=users, sequences=sequences, times=times)


def read_movies(path: Path) -> dict[str, dict[str, str]]:
    titles: dict[str, str] = {}
    genres: dict[str, str] = {}
    for number, line in read_lines(path, UTF8_THEN_LATIN1):
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
    text_template: str | None = None
    empty_text: str = "[no text]"
    download: bool = False

    def _interaction_file(self) -> Path:
        root = Path(self.root)
        if self.download and first_existing(root, ("ratings.dat", *SEQUENCE_FILES)) is None:
            _download("ml1m", root)
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
        raw.text_template, raw.empty_text = self.text_template, self.empty_text
        return raw


def _download(name: str, root: Path) -> None:
    from llmrec.data.download import fetch, plan_for

    fetch(plan_for(name), root)


GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
HINT_100K = " (download https://files.grouplens.org/datasets/movielens/ml-100k.zip and unzip it there)"


def read_u_data(path: Path) -> Interactions:
    """``u.data``: tab-separated user, item, rating, unix timestamp; ordered per user, ties in file order."""

    def events() -> Iterator[tuple[str, str, float]]:
        for number, line in iter_lines(path, UTF8_THEN_LATIN1):
            parts = line.split("\t")
            if len(parts) != 4:
                raise DataError(
                    f"{path}:{number}: expected 'user<TAB>item<TAB>rating<TAB>timestamp', got {line[:60]!r}"
                )
            yield parts[0], parts[1], parse_timestamp(path, number, parts[3])

    return sequences_from_events(events(), path)


def read_u_item(path: Path) -> dict[str, dict[str, str]]:
    """``u.item``: title and the genres whose flag is 1."""
    titles: dict[str, str] = {}
    genres: dict[str, str] = {}
    for number, line in iter_lines(path, UTF8_THEN_LATIN1):
        parts = line.split("|")
        if len(parts) != 5 + len(GENRES_100K) or any(f not in ("0", "1") for f in parts[5:]):
            raise DataError(
                f"{path}:{number}: expected 'id|title|release|video|url|<19 genre flags 0/1>', "
                f"got {line[:60]!r}"
            )
        titles[parts[0]] = parts[1].strip()
        genres[parts[0]] = ", ".join(g for g, flag in zip(GENRES_100K, parts[5:], strict=True) if flag == "1")
    return {"title": titles, "genres": genres}


@dataclass
class MovieLens100K:
    root: str
    name: str = "ml100k"
    text_template: str | None = None
    empty_text: str = "[no text]"
    download: bool = False

    def input_files(self) -> list[Path]:
        root = Path(self.root)
        if self.download and not (root / "u.data").is_file():
            _download("ml100k", root)
        files = [require_file(root, "u.data", self.name, HINT_100K)]
        return files + ([root / "u.item"] if (root / "u.item").is_file() else [])

    def read(self) -> Interactions:
        files = self.input_files()
        raw = read_u_data(files[0])
        if len(files) > 1:
            raw.item_fields = read_u_item(files[1])
        raw.text_template, raw.empty_text = self.text_template, self.empty_text
        return raw
