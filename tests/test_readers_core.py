"""The two forms issue 2 reads: the processed ``Name.txt`` and MovieLens-1M (raw or processed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmrec.data.sources.movielens import MovieLens1M
from llmrec.data.sources.processed import ProcessedSequences, read_sequence_file
from llmrec.errors import DataError
from tests.conftest import write_sequences


def test_processed_sequences_with_a_title_table(tmp_path: Path) -> None:
    write_sequences(tmp_path / "Beauty.txt", {"1": [1, 2, 3], "2": [3, 1, 2]})
    (tmp_path / "titles.tsv").write_text(
        "item_id\tasin\ttitle\n1\tA\tLipstick\n3\tC\tShampoo\n", encoding="utf-8"
    )
    raw = ProcessedSequences(
        root=str(tmp_path), sequences_file="Beauty.txt", item_text_file="titles.tsv"
    ).read()
    assert raw.users == ["1", "2"] and raw.sequences == [["1", "2", "3"], ["3", "1", "2"]]
    assert raw.item_fields == {"title": {"1": "Lipstick", "3": "Shampoo"}}


def test_a_user_on_two_lines_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("1 1 2\n2 3 4\n1 5 6\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"x.txt:3: user '1' already has a line \(1\)"):
        read_sequence_file(tmp_path / "x.txt")


def test_ml1m_ratings_sorted_by_time_with_stable_ties(tmp_path: Path) -> None:
    (tmp_path / "ratings.dat").write_text("1::30::5::200\n1::10::4::100\n1::20::3::100\n2::10::1::5\n")
    raw = MovieLens1M(root=str(tmp_path)).read()
    assert raw.sequences == [["10", "20", "30"], ["10"]]  # 10 and 20 tie at t=100: file order


def test_ml1m_processed_sequence_file_and_latin1_titles(tmp_path: Path) -> None:
    write_sequences(tmp_path / "ml-1m_user_sequences.txt", {"1": [5, 6, 5]})
    (tmp_path / "movies.dat").write_bytes(
        "5::Amélie (2001)::Comedy|Romance\n6::Heat (1995)::Action\n".encode("latin-1")
    )
    raw = MovieLens1M(root=str(tmp_path)).read()
    assert raw.sequences == [["5", "6", "5"]]
    assert raw.item_fields["title"]["5"] == "Amélie (2001)"


def test_ml1m_missing_files_say_what_to_put_where(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"ratings.dat.*is missing.*ml-1m.zip"):
        MovieLens1M(root=str(tmp_path)).read()
