"""Small files in the published raw formats, written by the tests (never read from /work/shared/data)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path


def write_gz(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def review(user: str, item: str, time: int) -> str:
    return json.dumps({"reviewerID": user, "asin": item, "reviewerName": "x", "unixReviewTime": time})


def amazon_raw(root: Path, category: str = "Beauty") -> Path:
    """Three users, four items; u1's two reviews at t=5 keep file order (b before a)."""
    root.mkdir(parents=True, exist_ok=True)
    reviews = [
        review("u1", "b", 5), review("u1", "a", 5), review("u1", "c", 1),
        review("u2", "a", 3), review("u2", "c", 2), review("u2", "d", 9),
        review("u3", "d", 1), review("u3", "a", 2), review("u3", "b", 3),
    ]  # fmt: skip
    write_gz(root / f"reviews_{category}_5.json.gz", reviews)
    meta = [
        "{'asin': 'a', 'title': 'Lipstick Red', 'brand': 'Acme', "
        "'categories': [['Beauty', 'Makeup'], ['Beauty']]}",
        "{'asin': 'b', 'title': 'Shampoo', 'description': 'Gentle   wash', 'price': 3.5}",
        "{'asin': 'c', 'brand': 'Bolt', 'related': {'also_bought': ['a']}}",
    ]  # d has no metadata
    write_gz(root / f"meta_{category}.json.gz", meta)
    return root


def ml100k(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rows = ["1\t10\t5\t100", "1\t20\t3\t50", "2\t10\t4\t70", "1\t30\t4\t100", "2\t30\t1\t60", "2\t20\t2\t80"]
    (root / "u.data").write_text("\n".join(rows) + "\n", encoding="latin-1")
    flags = ["0"] * 19
    action = ["0", "1", *["0"] * 17]
    items = [
        "|".join(["10", "Toy Story (1995)", "01-Jan-1995", "", "http://x", *action]),
        "|".join(["20", "Café (1996)", "01-Jan-1996", "", "http://x", *flags]),
        "|".join(["30", "Heat (1995)", "01-Jan-1995", "", "http://x", *action[:18], "1"]),
    ]
    (root / "u.item").write_text("\n".join(items) + "\n", encoding="latin-1")
    return root


def review_2023(user: str, parent_asin: str, millis: int) -> str:
    """One line of ``raw/review_categories/<Category>.jsonl`` (the review's own title is not item text)."""
    return json.dumps(
        {
            "rating": 5.0, "title": "Loved it", "text": "Works", "images": [], "asin": parent_asin + "-v",
            "parent_asin": parent_asin, "user_id": user, "timestamp": millis, "helpful_vote": 0,
            "verified_purchase": True,
        }
    )  # fmt: skip


def amazon2023_raw(root: Path, category: str = "All_Beauty", gz: bool = True) -> Path:
    """Four users in the 2023 layout; u1's two reviews at 5000 ms keep file order (p2 before p1); u4's p5
    is reviewed once (a 2-core removes it, then u4 is too short); p4 has no metadata."""
    reviews = [
        review_2023("u1", "p2", 5000), review_2023("u1", "p1", 5000), review_2023("u1", "p3", 1000),
        review_2023("u2", "p1", 3000), review_2023("u2", "p3", 2000), review_2023("u2", "p4", 9000),
        review_2023("u3", "p4", 1000), review_2023("u3", "p1", 2000), review_2023("u3", "p2", 3000),
        review_2023("u4", "p1", 1000), review_2023("u4", "p5", 2000), review_2023("u4", "p2", 3000),
    ]  # fmt: skip
    meta = [
        {
            "main_category": "All Beauty", "title": "Lipstick  Red", "store": "Acme",
            "categories": ["Beauty", "Makeup"], "features": ["Matte", "Long lasting"],
            "description": ["A red lipstick."], "price": None, "details": {"Brand": "Acme"},
            "parent_asin": "p1",
        },
        {"title": "Shampoo", "features": [], "description": [], "categories": [], "store": None,
         "parent_asin": "p2"},
        {"title": "", "store": "Bolt", "features": [], "description": [], "categories": [],
         "parent_asin": "p3", "bought_together": None},
        {"title": "Never reviewed", "parent_asin": "p9"},
    ]  # fmt: skip
    write_2023(root / "raw/review_categories" / f"{category}.jsonl", reviews, gz)
    write_2023(root / "raw/meta_categories" / f"meta_{category}.jsonl", [json.dumps(m) for m in meta], gz)
    return root


def write_2023(path: Path, lines: list[str], gz: bool) -> Path:
    """``path`` (``.gz`` added when ``gz``) with ``lines``, creating its folders as the layout has them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        return write_gz(path.with_name(path.name + ".gz"), lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


Row = tuple[str, str, int]  # user_id, parent_asin, timestamp (ms)


def amazon2023_split(
    root: Path,
    rows: dict[str, list[Row]],
    folder: str = "last_out",
    category: str = "All_Beauty",
    gz: bool = True,
) -> Path:
    """The benchmark CSVs ``benchmark/5core/<folder>/<category>.{train,valid,test}.csv(.gz)`` with the
    published header; a ``*_w_his`` folder adds the history column (the user's earlier items)."""
    with_history = folder.endswith("_w_his")
    header = "user_id,parent_asin,rating,timestamp" + (",history" if with_history else "")
    seen: dict[str, list[str]] = {}
    for stage in ("train", "valid", "test"):
        lines = [header]
        for user, item, millis in rows[stage]:
            history = "," + " ".join(seen.get(user, [])) if with_history else ""
            lines.append(f"{user},{item},5.0,{millis}{history}")
            seen.setdefault(user, []).append(item)
        write_2023(root / "benchmark/5core" / folder / f"{category}.{stage}.csv", lines, gz)
    return root
