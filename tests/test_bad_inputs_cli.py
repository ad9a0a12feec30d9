"""Bad-input campaign, part 2: the data CLI and the report (in-process ``main([...])`` calls)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmrec.data.__main__ import main as data_main
from llmrec.report.summary import main as report_main
from tests.bad_input_helpers import expect_cli_error, processed

pytestmark = pytest.mark.bad_input


# --- the data CLI ------------------------------------------------------------------------------------
def test_data_stats_unknown_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    expect_cli_error(data_main, ["stats", "nosuch"], capsys, "no dataset config 'nosuch'", "known")


def test_data_stats_misspelt_override(capsys: pytest.CaptureFixture[str]) -> None:
    expect_cli_error(data_main, ["stats", "tiny", "dataset.rot=/x"], capsys, "dataset.rot", "overrides")


def test_data_stats_bad_override_syntax(capsys: pytest.CaptureFixture[str]) -> None:
    expect_cli_error(data_main, ["stats", "tiny", "dataset.max_len=[1,"], capsys, "overrides")


def test_data_stats_missing_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["stats", "beauty", f"dataset.root={tmp_path / 'none'}", f"paths.cache_dir={tmp_path}"]
    expect_cli_error(data_main, argv, capsys, "does not exist", "dataset.root")


def test_data_stats_malformed_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    processed(tmp_path, "u1 1 2 3\nu2\n")
    argv = ["stats", "beauty", f"dataset.root={tmp_path / 'data'}", f"paths.cache_dir={tmp_path}"]
    expect_cli_error(data_main, argv, capsys, "Beauty.txt:2")


def test_data_stats_binary_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "interactions.csv").write_bytes(bytes(range(256)) * 16)
    argv = ["stats", "custom", f"dataset.root={tmp_path}", f"paths.cache_dir={tmp_path / 'cache'}"]
    expect_cli_error(data_main, argv, capsys, "interactions.csv", "NUL bytes")


def test_data_download_unknown_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expect_cli_error(data_main, ["download", "nosuch", "--root", str(tmp_path)], capsys, "nosuch")


# --- the report --------------------------------------------------------------------------------------
def _results_dir(tmp_path: Path, text: str | bytes, name: str = "results.json") -> Path:
    (tmp_path / "job").mkdir(parents=True, exist_ok=True)
    path = tmp_path / "job" / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return tmp_path


GOOD_RESULT = {"model": "m", "dataset": "d", "seed": 0, "metrics": {"test": {"hr_10": 0.5}, "val": {}}}
GOOD_RESULT["timings"] = {"fit_seconds": 1.0}
REPORT_ERRORS = [
    ("", "not valid JSON"),
    ('{"model": "m", "metr', "not valid JSON"),
    (b"\xff\xfe\x00garbage", "not valid JSON"),
    ("[1, 2]", "not a JSON object"),
    ("{}", "lacks model"),
    (json.dumps({**GOOD_RESULT, "metrics": {"val": {}}}), "metrics.test"),
]


@pytest.mark.parametrize(("text", "needle"), REPORT_ERRORS)
def test_report_refuses_bad_results(
    text: str, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = _results_dir(tmp_path, text)
    expect_cli_error(report_main, [str(folder)], capsys, needle, "re-run")


def test_report_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expect_cli_error(report_main, [str(tmp_path / "none")], capsys, "not a folder")


def test_report_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expect_cli_error(report_main, [str(tmp_path)], capsys, "no results.json", "run `python -m llmrec`")


def test_report_bad_failed_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _results_dir(tmp_path, "{oops", name="failed.json")
    expect_cli_error(report_main, [str(folder)], capsys, "failed.json", "not valid JSON")


def test_report_unknown_metric(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _results_dir(tmp_path, json.dumps(GOOD_RESULT))
    expect_cli_error(report_main, [str(folder), "--metrics", "hr_11"], capsys, "hr_11", "available")


def test_report_out_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _results_dir(tmp_path, json.dumps(GOOD_RESULT))
    (tmp_path / "taken").write_text("keep me")
    argv = [str(folder), "--out", str(tmp_path / "taken")]
    expect_cli_error(report_main, argv, capsys, "is a file", "folder")
    assert (tmp_path / "taken").read_text() == "keep me"
