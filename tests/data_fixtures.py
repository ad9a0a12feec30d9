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
