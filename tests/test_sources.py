"""Every reader on small files in the real formats, and the bad-input rules."""

from __future__ import annotations

import gzip
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from llmrec.data.preprocess import build_sequence_data, k_core_mask
from llmrec.data.sources.amazon import Amazon2014, read_metadata
from llmrec.data.sources.custom import CustomTable
from llmrec.data.sources.movielens import MovieLens1M, MovieLens100K
from llmrec.data.sources.processed import ProcessedSequences
from llmrec.data.sources.steam import Steam
from llmrec.data.sources.yelp import Yelp
from llmrec.errors import DataError
from tests.data_fixtures import amazon_raw, ml100k, review, write_gz


def test_amazon_reviews_time_order_ties_in_file_order_and_metadata(tmp_path: Path) -> None:
    source = Amazon2014(root=str(amazon_raw(tmp_path)), category="Beauty", processed_file="Beauty.txt")
    raw = source.read()
    assert raw.users == ["u1", "u2", "u3"]
    assert raw.sequences == [["c", "b", "a"], ["c", "a", "d"], ["d", "a", "b"]]
    assert raw.item_fields["title"] == {"a": "Lipstick Red", "b": "Shampoo"}
    assert raw.item_fields["categories"]["a"] == "Beauty, Makeup"
    assert raw.item_fields["description"]["b"] == "Gentle wash"
    data = build_sequence_data(raw, k_core=0)
    texts = data.item_text()
    assert texts[data.item_ids.index("d")] == "[no text]"  # in the sequences, not in the metadata: kept
    assert data.item_text(template="{title} | {brand}")[data.item_ids.index("c")] == "Bolt"
    assert [p.name for p in source.input_files()] == ["reviews_Beauty_5.json.gz", "meta_Beauty.json.gz"]


def test_amazon_prefers_raw_reviews_then_falls_back_to_processed(tmp_path: Path) -> None:
    amazon_raw(tmp_path)
    (tmp_path / "Beauty.txt").write_text("1 1 2 3\n2 2 3 1\n")
    (tmp_path / "beauty_item_text.tsv").write_text("item_id\tasin\ttitle\n1\tA\tOne\n2\tB\tTwo\n")
    source = Amazon2014(
        root=str(tmp_path), processed_file="Beauty.txt", item_text_file="beauty_item_text.tsv"
    )
    assert source.read().users == ["u1", "u2", "u3"]
    (tmp_path / "reviews_Beauty_5.json.gz").unlink()
    raw = source.read()
    assert raw.sequences == [["1", "2", "3"], ["2", "3", "1"]]
    assert raw.item_fields == {"title": {"1": "One", "2": "Two"}}


def test_amazon_ratings_csv(tmp_path: Path) -> None:
    (tmp_path / "ratings_Toys.csv").write_text("u1,i1,5.0,20\nu1,i2,4.0,10\nu2,i1,1.0,5\n")
    raw = Amazon2014(root=str(tmp_path), category="Toys").read()
    assert raw.sequences == [["i2", "i1"], ["i1"]]
    (tmp_path / "ratings_Toys.csv").write_text("u1,i1,5.0,20\nu1,i2,4.0,yesterday\n")
    with pytest.raises(DataError, match=r"ratings_Toys.csv:2: timestamp 'yesterday' is not numeric"):
        Amazon2014(root=str(tmp_path), category="Toys").read()


@pytest.mark.parametrize(
    "line",
    [
        "__import__('os').system('touch pwned')",
        "{'asin': 'a', 'title': __import__('os').system('touch pwned')}",
        "{'asin': 'a', 'title': open('x').read()}",
    ],
)
def test_metadata_refuses_executable_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(os, "system", lambda *_: pytest.fail("os.system was called"))
    path = write_gz(tmp_path / "meta_X.json.gz", ["{'asin': 'ok', 'title': 'fine'}", line])
    with pytest.raises(DataError, match=r"meta_X.json.gz:2: .*refused"):
        read_metadata(path)
    assert not (tmp_path / "pwned").exists()


def test_metadata_duplicate_asin_first_wins(tmp_path: Path) -> None:
    path = write_gz(
        tmp_path / "m.json.gz", ["{'asin': 'a', 'title': 'one'}", '{"asin": "a", "title": "two"}']
    )
    fields, repeats = read_metadata(path)
    assert fields["title"] == {"a": "one"} and repeats == 1


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["not json at all"], r"reviews_B_5.json.gz:1: not a JSON object"),
        ([review("u", "a", 1), "[1, 2, 3]"], r"reviews_B_5.json.gz:2: expected one object"),
        ([json.dumps({"reviewerID": "u", "unixReviewTime": 1})], r":1: the record has no 'asin'"),
        ([json.dumps({"reviewerID": "u", "asin": "a", "unixReviewTime": "soon"})], r":1: timestamp 'soon'"),
    ],
)
def test_bad_review_lines_name_file_and_line(tmp_path: Path, lines: list[str], message: str) -> None:
    write_gz(tmp_path / "reviews_B_5.json.gz", lines)
    with pytest.raises(DataError, match=message):
        Amazon2014(root=str(tmp_path), category="B").read()


def test_truncated_gzip_is_refused(tmp_path: Path) -> None:
    path = write_gz(tmp_path / "reviews_B_5.json.gz", [review(f"u{i}", "a", i) for i in range(2000)])
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match=r"reviews_B_5.json.gz:\d+: the gzip stream is truncated"):
        Amazon2014(root=str(tmp_path), category="B").read()


def test_empty_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "reviews_B_5.json.gz").write_bytes(b"")
    with pytest.raises(DataError, match="is empty"):
        Amazon2014(root=str(tmp_path), category="B").read()
    write_gz(tmp_path / "reviews_B_5.json.gz", [""])
    with pytest.raises(DataError, match="holds no interactions"):
        Amazon2014(root=str(tmp_path), category="B").read()


def test_exact_duplicate_interactions_are_dropped_and_counted(tmp_path: Path) -> None:
    lines = [review("u", "a", 1), review("u", "a", 1), review("u", "a", 2), review("u", "b", 3)]
    write_gz(tmp_path / "reviews_B_5.json.gz", lines)
    raw = Amazon2014(root=str(tmp_path), category="B").read()
    assert raw.sequences == [["a", "a", "b"]]
    assert raw.notes["duplicate_interactions_dropped"] == 1


def test_k_core_reaches_the_known_fixed_point() -> None:
    # users 0-2 x items 0-2 is a complete block (the 3-core). User 3 has 3 interactions (items 0, 3, 3) and
    # passes round 1, but item 3 has only 2 and goes; user 3 is then left with 1 and goes in round 2.
    pairs = [(u, i) for u in range(3) for i in range(3)] + [(3, 0), (3, 3), (3, 3)]
    user, item = (np.array(x) for x in zip(*pairs, strict=True))
    keep = k_core_mask(user, item, 3)
    assert sorted(zip(user[keep].tolist(), item[keep].tolist(), strict=True)) == sorted(pairs[:9])
    assert k_core_mask(user[keep], item[keep], 3).all()  # a fixed point
    one_round = (np.bincount(item)[item] >= 3) & (np.bincount(user)[user] >= 3)
    assert one_round.sum() == 10  # a single pass would have kept user 3's (3, 0)


def test_movielens_100k_and_1m(tmp_path: Path) -> None:
    raw = MovieLens100K(root=str(ml100k(tmp_path / "100k"))).read()
    assert raw.sequences == [["20", "10", "30"], ["30", "10", "20"]]  # 10 and 30 tie at t=100: file order
    assert raw.item_fields["title"]["20"] == "Café (1996)"
    assert raw.item_fields["genres"] == {"10": "Action", "20": "", "30": "Action, Western"}
    (tmp_path / "1m").mkdir()
    (tmp_path / "1m" / "ratings.dat").write_text("1::5::3::20\n1::6::3::10\n")
    (tmp_path / "1m" / "movies.dat").write_bytes("5::Amélie (2001)::Comedy|Romance\n".encode("latin-1"))
    raw = MovieLens1M(root=str(tmp_path / "1m")).read()
    assert raw.sequences == [["6", "5"]] and raw.item_fields["genres"]["5"] == "Comedy, Romance"


def test_steam_literal_lines(tmp_path: Path) -> None:
    reviews = [
        "{'username': 'ann', 'product_id': '7', 'date': '2017-12-17', 'text': 'fun', 'early_access': False}",
        "{'username': 'ann', 'product_id': '8', 'date': '2017-12-01', 'hours': 0.1}",
        "{'username': 'bob', 'product_id': '7', 'date': '2018-01-04'}",
    ]
    games = [
        "{'id': '7', 'app_name': 'Kitty', 'genres': ['Action', 'Indie'], 'tags': ['Cats'], 'developer': 'K'}",
        "{'app_name': 'no id here'}",
    ]
    write_gz(tmp_path / "steam_reviews.json.gz", reviews)
    write_gz(tmp_path / "steam_games.json.gz", games)
    raw = Steam(root=str(tmp_path)).read()
    assert raw.sequences == [["8", "7"], ["7"]]
    assert raw.item_fields["title"] == {"7": "Kitty"} and raw.item_fields["genres"]["7"] == "Action, Indie"
    assert raw.notes["games_without_id"] == 1
    write_gz(
        tmp_path / "steam_reviews.json.gz", ["{'username': 'ann', 'product_id': '7', 'date': '17/12/2017'}"]
    )
    with pytest.raises(DataError, match=r"steam_reviews.json.gz:1: date '17/12/2017'"):
        Steam(root=str(tmp_path)).read()


def test_yelp_raw_and_processed(tmp_path: Path) -> None:
    reviews = [
        {"review_id": "r1", "user_id": "U", "business_id": "B2", "date": "2019-03-01 10:00:00"},
        {"review_id": "r2", "user_id": "U", "business_id": "B1", "date": "2019-02-01 10:00:00"},
        {"review_id": "r3", "user_id": "U", "business_id": "B3", "date": "2018-02-01 10:00:00"},
    ]
    business = [
        {"business_id": "B1", "name": "Pizza Place", "categories": "Pizza, Restaurants"},
        {"business_id": "B2", "name": "Cafe", "categories": ["Coffee"]},
    ]
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "yelp_academic_dataset_review.json").write_text("\n".join(map(json.dumps, reviews)))
    (tmp_path / "raw" / "yelp_academic_dataset_business.json").write_text(
        "\n".join(map(json.dumps, business))
    )
    raw = Yelp(root=str(tmp_path / "raw"), min_date="2019-01-01").read()
    assert raw.sequences == [["B1", "B2"]] and raw.notes["reviews_before_min_date_dropped"] == 1
    assert raw.item_fields["categories"]["B1"] == "Pizza, Restaurants"
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "Yelp.txt").write_text("1 1 2\n")
    (tmp_path / "p" / "yelp_item_categories.tsv").write_text("item_id\tbusiness_id\tcategories\n1\tB\tA|B\n")
    assert Yelp(root=str(tmp_path / "p")).read().item_fields == {"categories": {"1": "A, B"}}


def test_processed_attributes_and_datamaps(tmp_path: Path) -> None:
    (tmp_path / "Yelp.txt").write_text("1 1 2 2\n2 2 1\n")
    (tmp_path / "Yelp_item2attributes.json").write_text(json.dumps({"1": [1, 2], "2": [2]}))
    maps = {
        "id2item": {"1": "B1", "2": "B2"}, "id2user": {"1": "U1", "2": "U2"},
        "id2attribute": {"1": "Pizza", "2": "Food"},
    }  # fmt: skip
    (tmp_path / "datamaps.json").write_text(json.dumps(maps))
    common = {
        "root": str(tmp_path),
        "sequences_file": "Yelp.txt",
        "attributes_file": "Yelp_item2attributes.json",
    }
    anonymous = ProcessedSequences(**common, datamaps_file="datamaps.json").read()
    assert anonymous.item_fields["attributes"] == {"1": "a1, a2", "2": "a2"}
    named = ProcessedSequences(
        **common, datamaps_file="datamaps.json", attribute_names=True, original_ids=True
    )
    raw = named.read()
    assert raw.users == ["U1", "U2"] and raw.sequences == [["B1", "B2", "B2"], ["B2", "B1"]]
    assert raw.item_fields["attributes"] == {"B1": "Pizza, Food", "B2": "Food"}


def test_custom_csv_and_rules(tmp_path: Path) -> None:
    (tmp_path / "interactions.csv").write_text(
        "user_id,item_id,timestamp,extra\nu,x,2024-01-02,1\nu,y,2024-01-01T10:00:00,2\nu,x,2024-01-02,3\n"
    )
    (tmp_path / "items.csv").write_text("item_id,title,category\nx,Ex,Letters\n")
    raw = CustomTable(root=str(tmp_path)).read()
    assert raw.sequences == [["y", "x"]] and raw.notes["duplicate_interactions_dropped"] == 1
    assert raw.item_fields == {"title": {"x": "Ex"}, "category": {"x": "Letters"}}
    (tmp_path / "interactions.csv").write_text("user,item_id,timestamp\nu,x,1\n")
    with pytest.raises(DataError, match=r"interactions.csv:1: missing column\(s\) \['user_id'\]"):
        CustomTable(root=str(tmp_path)).read()
    (tmp_path / "interactions.csv").write_text("user_id,item_id,timestamp\nu,x,1\nu,y,noon\n")
    with pytest.raises(DataError, match=r"interactions.csv:3: timestamp 'noon'"):
        CustomTable(root=str(tmp_path)).read()


@pytest.mark.parametrize("missing", ["pandas", "pyarrow"])
def test_custom_parquet_without_its_readers(missing: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # what an environment without it imports
    (tmp_path / "interactions.parquet").write_bytes(b"PAR1")
    with pytest.raises(DataError, match=r"pip install 'llmrec\[parquet\]'"):
        CustomTable(root=str(tmp_path), interactions_file="interactions.parquet").read()


def test_gzip_detection_by_content(tmp_path: Path) -> None:
    path = tmp_path / "steam_reviews.json"  # gzip content without the .gz suffix still reads
    path.write_bytes(gzip.compress(b"{'username': 'a', 'product_id': '1', 'date': '2017-01-01'}\n"))
    assert Steam(root=str(tmp_path)).read().sequences == [["1"]]


@pytest.mark.parametrize("encoding", ["latin-1", "utf-8"])
def test_movielens_titles_in_latin1_as_published_or_utf8(encoding: str, tmp_path: Path) -> None:
    from llmrec.data.sources.movielens import read_movies

    titles = ["Misérables, Les (1995)", "Café au lait (Métisse) (1993)", "Toy Story (1995)"]
    text = "".join(f"{i}::{title}::Drama\n" for i, title in enumerate(titles, start=1))
    (tmp_path / "movies.dat").write_bytes(text.encode(encoding))
    assert list(read_movies(tmp_path / "movies.dat")["title"].values()) == titles


def test_csv_with_a_byte_order_mark_reads_its_header(tmp_path: Path) -> None:
    rows = "".join(f"u{u},i{(u + j) % 4},{j}\n" for u in range(3) for j in range(4))
    (tmp_path / "interactions.csv").write_bytes(b"\xef\xbb\xbfuser_id,item_id,timestamp\n" + rows.encode())
    raw = CustomTable(root=str(tmp_path), items_file=None).read()
    assert raw.users == ["u0", "u1", "u2"] and raw.sequences[0] == ["i0", "i1", "i2", "i3"]
