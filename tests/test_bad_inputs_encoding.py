"""Bad-input campaign, part 3: data files that are not text at all (binary bytes where a CSV, ``.dat`` or
``.txt`` should be) or text in an encoding the format does not use. Each is one ``DataError`` line
naming the file and line (part 1: test_bad_inputs.py). MovieLens files are published in latin-1 and
read as UTF-8 or latin-1 (test_sources.py); every other text format is UTF-8."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bad_input_helpers import expect_error, good_sequences, processed, run_tiny

pytestmark = pytest.mark.bad_input
BINARY = bytes(range(256)) * 16  # NUL bytes and every other byte value, like an image or a zip file
HEADER = b"user_id,item_id,timestamp\n"
EVENTS = "".join(f"u{u},i{(u + j) % 6},{j}\n" for u in range(10) for j in range(6)).encode()
LONG = "".join(f"u{u},i{(u + j) % 6},{j}\n" for u in range(200) for j in range(6)).encode()  # 1,200 rows


def _custom(tmp_path: Path, interactions: bytes, items: bytes | None = None) -> list[str]:
    folder = tmp_path / "custom"
    folder.mkdir(exist_ok=True)
    (folder / "interactions.csv").write_bytes(interactions)
    if items is not None:
        (folder / "items.csv").write_bytes(items)
    return ["dataset=custom", f"dataset.root={folder}", "dataset.max_len=5", "model=popularity"]


CUSTOM_TABLES = [
    (BINARY, None, ["interactions.csv", "NUL bytes", "re-export"]),
    (HEADER + LONG + b"\xff\xfe\x00\x00" * 3000, None, ["interactions.csv:1202", "NUL bytes"]),  # past 8 KiB
    (
        HEADER + "u1,caf\xe9,1\n".encode("latin-1"),
        None,
        ["interactions.csv:2", "not valid utf-8", "re-export"],
    ),
    (HEADER + EVENTS, "item_id,title\ni1,caf\xe9\n".encode("latin-1"), ["items.csv:2", "not valid utf-8"]),
    (HEADER + EVENTS, BINARY, ["items.csv", "NUL bytes"]),
]


@pytest.mark.parametrize(("interactions", "items", "needles"), CUSTOM_TABLES)
def test_custom_table_that_is_not_utf8_text(
    interactions: bytes, items: bytes | None, needles: list[str], tmp_path: Path
) -> None:
    overrides = _custom(tmp_path, interactions, items)
    expect_error(lambda: run_tiny(tmp_path, *overrides), *needles)


def test_binary_item_text_table(tmp_path: Path) -> None:
    overrides = processed(tmp_path, good_sequences())
    (tmp_path / "data" / "items.tsv").write_bytes(BINARY)
    extra = "dataset.source.item_text_file=items.tsv"
    expect_error(lambda: run_tiny(tmp_path, *overrides, extra), "items.tsv", "NUL bytes")


def test_binary_movielens_ratings_dat(tmp_path: Path) -> None:
    folder = tmp_path / "ml"
    folder.mkdir()
    (folder / "ratings.dat").write_bytes(b"1::10::5::100\n" + BINARY)
    overrides = ["dataset=ml1m", f"dataset.root={folder}", "dataset.max_len=5", "model=popularity"]
    expect_error(lambda: run_tiny(tmp_path, *overrides), "ratings.dat:2", "NUL bytes")


def test_binary_amazon_ratings_csv(tmp_path: Path) -> None:
    folder = tmp_path / "amazon"
    folder.mkdir()
    (folder / "ratings_Beauty.csv").write_bytes(BINARY)
    overrides = ["dataset=amazon", f"dataset.root={folder}", "dataset.max_len=5", "model=popularity"]
    expect_error(lambda: run_tiny(tmp_path, *overrides), "ratings_Beauty.csv:1", "NUL bytes")


def test_datamaps_json_in_another_encoding(tmp_path: Path) -> None:
    overrides = processed(tmp_path, good_sequences())
    (tmp_path / "data" / "datamaps.json").write_bytes('{"id2item": {"1": "caf\xe9"}}'.encode("latin-1"))
    extra = "dataset.source.original_ids=true"
    expect_error(lambda: run_tiny(tmp_path, *overrides, extra), "datamaps.json:1", "not valid utf-8")
