"""Amazon Reviews 2023 on tiny files in the published formats: the raw reviews + metadata reader, the
benchmark split reader, protocol=given following the files exactly, downloads, bad input, and one
``python -m llmrec`` run."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from llmrec.data.__main__ import main
from llmrec.data.download import fetch, plan_for
from llmrec.data.given_split import TEST, TRAIN, VALID, GivenSplit
from llmrec.data.preprocess import build_sequence_data
from llmrec.data.sources.amazon2023 import Amazon2023
from llmrec.errors import ConfigError, DataError
from llmrec.run.instantiate import build
from llmrec.run.pipeline import prepare_data
from tests.conftest import compose_config
from tests.data_fixtures import Row, amazon2023_raw, amazon2023_split, write_2023

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = "{title} | {store} | {categories} | {features} | {description}"  # conf/dataset/amazon2023.yaml


def last_out_rows() -> dict[str, list[Row]]:
    """Six users with five items each over p0..p5, every item five times (already a 5-core); u0's last
    train, valid and test rows share one timestamp, so only the files' stages order them."""
    rows: dict[str, list[Row]] = {"train": [], "valid": [], "test": []}
    for u in range(6):
        items = [f"p{(u + j) % 6}" for j in range(5)]
        times = [1000 * (10 * u + j) for j in range(5)]
        if u == 0:
            times[2:] = [7000, 7000, 7000]
        rows["train"] += [(f"u{u}", item, t) for item, t in zip(items[:3], times[:3], strict=True)]
        rows["valid"].append((f"u{u}", items[3], times[3]))
        rows["test"].append((f"u{u}", items[4], times[4]))
    return rows


def _texts(source: Amazon2023, k_core: int = 0) -> dict[str, str]:
    data = build_sequence_data(source.read(), k_core=k_core)
    return dict(zip(data.item_ids, data.item_text(), strict=True))


# --- raw reviews + metadata --------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [True, False])
def test_raw_reviews_by_time_ties_in_file_order_with_item_text(tmp_path: Path, gz: bool) -> None:
    source = Amazon2023(root=str(amazon2023_raw(tmp_path, gz=gz)), text_template=TEMPLATE)
    raw = source.read()
    assert raw.users == ["u1", "u2", "u3", "u4"]
    assert raw.sequences[:3] == [["p3", "p2", "p1"], ["p3", "p1", "p4"], ["p4", "p1", "p2"]]
    assert raw.times is not None and raw.times[0] == [1.0, 5.0, 5.0]  # milliseconds read as seconds
    assert raw.stages is None  # llmrec's own protocols apply
    texts = _texts(source)
    assert texts["p1"] == "Lipstick Red | Acme | Beauty, Makeup | Matte, Long lasting | A red lipstick."
    assert (texts["p2"], texts["p3"], texts["p4"]) == ("Shampoo", "Bolt", "[no text]")
    assert not any("Loved it" in text for text in texts.values())  # a review's title is not item text
    suffix = ".gz" if gz else ""
    assert [str(p.relative_to(tmp_path)) for p in source.input_files()] == [
        f"raw/review_categories/All_Beauty.jsonl{suffix}",
        f"raw/meta_categories/meta_All_Beauty.jsonl{suffix}",
    ]


def test_raw_k_core_to_a_fixed_point(tmp_path: Path) -> None:
    data = build_sequence_data(Amazon2023(root=str(amazon2023_raw(tmp_path))).read(), k_core=2)
    assert data.user_ids == ["u1", "u2", "u3"]  # u4 lost p5 (one review), then had too few items
    assert "p5" not in data.item_ids and data.notes["read_users"] == 4
    assert data.stages is None


# --- the benchmark split -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("folder", "gz"), [("last_out", True), ("last_out", False), ("last_out_w_his", True)]
)
def test_benchmark_files_keep_their_stages(tmp_path: Path, folder: str, gz: bool) -> None:
    rows = last_out_rows()
    amazon2023_split(tmp_path, rows, folder=folder, gz=gz)
    raw = Amazon2023(root=str(tmp_path), split="last_out").read()
    assert raw.users == [f"u{u}" for u in range(6)]
    assert raw.sequences[1] == ["p1", "p2", "p3", "p4", "p5"]
    assert raw.stages is not None and all(s == [TRAIN] * 3 + [VALID, TEST] for s in raw.stages)
    assert raw.item_fields == {}  # no metadata file: every item gets the empty-text marker


def test_protocol_given_follows_the_files_exactly(tmp_path: Path) -> None:
    rows = last_out_rows()
    amazon2023_split(tmp_path, rows)
    amazon2023_raw(tmp_path)  # its metadata gives p1..p3 their text
    cfg = compose_config(
        ["dataset=amazon2023", f"dataset.root={tmp_path}", "dataset.split=last_out", "protocol=given"],
        tmp_path,
    )
    prepared = prepare_data(cfg)  # k_core=5 as configured: the files are a 5-core already
    data, module = prepared.data, prepared.datamodule
    assert data.num_interactions == 30 and prepared.protocol is not None
    counts = {"val_rows": 6, "val_targets": 6, "test_rows": 6, "test_targets": 6}
    assert prepared.protocol.params == {"name": "given", "mask_history": True, **counts}
    for stage, dataset in (("valid", module.val_set), ("test", module.test_set)):
        users = [data.user_ids[u] for u in dataset.users.tolist()]
        targets = [data.item_ids[i - 1] for i in dataset.rows[:, -1].tolist()]
        assert sorted(zip(users, targets, strict=True)) == sorted((u, i) for u, i, _ in rows[stage])
    trained = {(data.user_ids[u], data.item_ids[i - 1]) for u, i in _train_pairs(prepared.split)}
    assert trained == {(u, i) for u, i, _ in rows["train"]}  # every train row, nothing else
    test_row = module.test_set.rows[0].tolist()  # u0: its train items and its valid item, then the target
    assert [data.item_ids[i - 1] for i in test_row if i] == ["p0", "p1", "p2", "p3", "p4"]
    assert dict(zip(data.item_ids, data.item_text(), strict=True))["p1"].startswith("Lipstick Red")


def _train_pairs(split: GivenSplit) -> list[tuple[int, int]]:
    starts, ends = split.train_bounds()
    return [(u, int(split.data.items[p])) for u in range(len(starts)) for p in range(starts[u], ends[u])]


def test_timestamp_split_evaluates_each_users_first_target_after_each_cutoff(tmp_path: Path) -> None:
    rows: dict[str, list[Row]] = {
        "train": [("a", "p1", 1), ("a", "p2", 2), ("b", "p1", 1), ("b", "p3", 2)],
        "valid": [("a", "p3", 5), ("a", "p4", 6), ("b", "p2", 5), ("c", "p1", 5)],  # c: no item before
        "test": [("a", "p5", 9), ("c", "p2", 9), ("c", "p3", 10)],
    }
    amazon2023_split(tmp_path, rows, folder="timestamp_w_his", gz=False)
    data = build_sequence_data(Amazon2023(root=str(tmp_path), split="timestamp").read(), k_core=0)
    split = GivenSplit(data)
    named = {}
    for stage in ("val", "test"):
        users, ends = split.eval_bounds(stage)
        named[stage] = [
            (data.user_ids[u], data.item_ids[data.items[end - 1] - 1])
            for u, end in zip(users, ends, strict=True)
        ]
    assert named == {"val": [("a", "p3"), ("b", "p2")], "test": [("a", "p5"), ("c", "p2")]}
    assert split.target_counts() == {"val_rows": 4, "val_targets": 2, "test_rows": 3, "test_targets": 2}
    assert split.num_train_users == 2  # c has no train rows


# --- protocol and dataset settings -------------------------------------------------------------------
@pytest.mark.bad_input
def test_protocol_and_split_must_match(tmp_path: Path) -> None:
    amazon2023_split(tmp_path, last_out_rows())
    benchmark = ["dataset=amazon2023", f"dataset.root={tmp_path}", "dataset.split=last_out"]
    with pytest.raises(
        ConfigError, match=r"published train/valid/test split.*protocol=given.*dataset.split=raw"
    ):
        prepare_data(compose_config([*benchmark, "protocol=loo"], tmp_path))
    with pytest.raises(ConfigError, match=r"protocol=given .*dataset.split=last_out"):
        prepare_data(compose_config(["dataset=tiny", "protocol=given"], tmp_path))


@pytest.mark.bad_input
def test_unknown_category_says_how_to_pass_one(tmp_path: Path) -> None:
    cfg = compose_config(["dataset=amazon2023", "dataset.category=all_beauty"], tmp_path)
    expected = (
        r"'all_beauty' is not .* \(did you mean All_Beauty\?\); pass one as dataset.category=<Category>"
    )
    with pytest.raises(ConfigError, match=expected + ".*Video_Games"):
        build(cfg.dataset.source)
    with pytest.raises(ConfigError, match=r"dataset.split='leave_one_out' is not a split; choose one of raw"):
        Amazon2023(root=str(tmp_path), split="leave_one_out")


@pytest.mark.bad_input
def test_missing_file_names_what_to_put_where_and_the_download(tmp_path: Path) -> None:
    (tmp_path / "amazon2023").mkdir()
    source = Amazon2023(root=str(tmp_path / "amazon2023"), category="Video_Games", split="last_out")
    with pytest.raises(DataError) as info:
        source.read()
    message = str(info.value)
    assert "put 'benchmark/5core/last_out/Video_Games.train.csv.gz'" in message
    assert f"in {tmp_path / 'amazon2023'}" in message
    assert "python -m llmrec.data download amazon2023-Video_Games-last_out --root" in message


@pytest.mark.bad_input
def test_record_without_parent_asin_names_file_and_line(tmp_path: Path) -> None:
    amazon2023_raw(tmp_path, gz=False)
    path = tmp_path / "raw/review_categories/All_Beauty.jsonl"
    lines = path.read_text().splitlines()
    lines[2] = json.dumps({"user_id": "u1", "asin": "p3-v", "timestamp": 1000})
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"All_Beauty.jsonl:3: the record has no 'parent_asin'"):
        Amazon2023(root=str(tmp_path)).read()
    amazon2023_split(tmp_path, {"train": [("u1", "", 1)], "valid": [], "test": []}, gz=False)
    with pytest.raises(DataError, match=r"All_Beauty.train.csv:2: the row has no parent_asin"):
        Amazon2023(root=str(tmp_path), split="last_out").read()


@pytest.mark.bad_input
def test_corrupt_json_line_names_file_and_line(tmp_path: Path) -> None:
    amazon2023_raw(tmp_path)
    write_2023(
        tmp_path / "raw/meta_categories/meta_All_Beauty.jsonl", ['{"parent_asin": "p1"}', "{'title"], True
    )
    with pytest.raises(DataError, match=r"meta_All_Beauty.jsonl.gz:2: not a JSON object"):
        Amazon2023(root=str(tmp_path)).read()


# --- downloads ---------------------------------------------------------------------------------------
def test_download_plans_use_the_publishers_layout(tmp_path: Path) -> None:
    plan = plan_for("amazon2023-Toys_and_Games-last_out")
    base = "https://mcauleylab.ucsd.edu/public_datasets/data/amazon_2023/"
    assert (
        [f.url.removeprefix(base) for f in plan.files]
        == [f.name for f in plan.files]
        == [
            "benchmark/5core/last_out/Toys_and_Games.train.csv.gz",
            "benchmark/5core/last_out/Toys_and_Games.valid.csv.gz",
            "benchmark/5core/last_out/Toys_and_Games.test.csv.gz",
            "raw/meta_categories/meta_Toys_and_Games.jsonl.gz",
        ]
    )
    assert [f.name for f in plan_for("amazon2023-All_Beauty").files] == [
        "raw/review_categories/All_Beauty.jsonl.gz",
        "raw/meta_categories/meta_All_Beauty.jsonl.gz",
    ]
    fetch(plan, tmp_path, opener=lambda request, timeout: _Response(b"x"))
    assert (tmp_path / "benchmark/5core/last_out/Toys_and_Games.test.csv.gz").read_bytes() == b"x"
    with pytest.raises(ConfigError, match=r"'Beauty' is not .*amazon2023-<Category>"):
        plan_for("amazon2023-Beauty")


def test_download_true_offline_lists_the_files_by_their_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(request: object, timeout: float) -> object:
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    source = Amazon2023(root=str(tmp_path), split="timestamp", download=True)
    with pytest.raises(DataError, match=r"benchmark/5core/timestamp/All_Beauty.train.csv.gz  <- https://"):
        source.read()


def test_download_command_defaults_to_the_configs_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def offline(request: object, timeout: float) -> object:
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.setenv("LLMREC_DATA_DIR", str(tmp_path / "data"))
    assert main(["download", "amazon2023-Video_Games"]) == 2
    err = capsys.readouterr().err
    assert f"by hand in {(tmp_path / 'data' / 'amazon2023').resolve()}/" in err
    assert "raw/review_categories/Video_Games.jsonl.gz  <- https://mcauleylab.ucsd.edu/" in err


class _Response(io.BytesIO):
    status = 200

    def __init__(self, body: bytes) -> None:
        super().__init__(body)
        self.headers = {"Content-Length": str(len(body))}


# --- end to end --------------------------------------------------------------------------------------
def test_python_m_llmrec_on_the_benchmark_split_writes_results(tmp_path: Path) -> None:
    data = tmp_path / "data"
    amazon2023_split(data / "amazon2023", last_out_rows())
    out = tmp_path / "run"
    args = [
        "model=popularity", "dataset=amazon2023", "dataset.split=last_out", "protocol=given", "debug=tiny",
        "logger=none", f"hydra.run.dir={out}",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "LLMREC_DATA_DIR": str(data)}
    proc = subprocess.run(
        [sys.executable, "-m", "llmrec", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["dataset"] == "amazon2023-All_Beauty" and results["protocol"]["name"] == "given"
    assert results["data"]["test_users"] == 6 and len(results["per_user"]["test"]["rank"]) == 6
    assert np.isfinite(results["metrics"]["test"]["ndcg_10"])
