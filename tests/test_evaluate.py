"""``python -m llmrec.evaluate``: a finished run evaluated again next to itself, never over it, and the
bad inputs it refuses with one ``error:`` line and exit code 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from llmrec.errors import LlmrecError
from llmrec.evaluate import main
from llmrec.report.runs import collect
from llmrec.run.pipeline import run
from tests.bad_input_helpers import expect_cli_error
from tests.conftest import compose_config


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny SASRec run (1 epoch); tests copy it before changing anything in it."""
    root = tmp_path_factory.mktemp("trained")
    overrides = ["debug=tiny", "model=sasrec", "trainer.max_epochs=1", "logger=none"]
    run(compose_config(overrides, root), root / "run")
    return root / "run"


def _copy(trained: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained, tmp_path / "run"))


def _edit_results(run_dir: Path, change: Any) -> None:
    path = run_dir / "results.json"
    results = json.loads(path.read_text())
    change(results)
    path.write_text(json.dumps(results))


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def test_same_settings_give_the_same_numbers_next_to_the_run(trained: Path, tmp_path: Path) -> None:
    run_dir = _copy(trained, tmp_path)
    before = (run_dir / "results.json").read_bytes()
    assert main([f"run_dir={run_dir}", "name=again"]) == 0
    again = _read(run_dir / "evaluations" / "again" / "results.json")
    original = _read(run_dir / "results.json")
    assert (run_dir / "results.json").read_bytes() == before  # never written over
    assert again["metrics"]["test"] == pytest.approx(original["metrics"]["test"], abs=1e-6)
    assert again["metrics"]["val"] == pytest.approx(original["metrics"]["val"], abs=1e-6)
    assert again["evaluation"]["eval"]["ks"] == [5, 10, 20] and again["evaluation"]["overrides"] == []
    assert again["best_checkpoint"].endswith("best.ckpt")
    assert (again["budget"], again["converged"]) == (original["budget"], original["converged"])
    assert again["budget"]["spent"]["epochs"] == 1  # the training's, not re-run


def test_other_cutoffs_unmasked_and_export(trained: Path, tmp_path: Path) -> None:
    run_dir = _copy(trained, tmp_path)
    argv = [f"run_dir={run_dir}", "eval.ks=[1,3]", "eval.mask_history=false", "eval.export_topk=4"]
    assert main(argv) == 0
    (folder,) = list((run_dir / "evaluations").iterdir())  # a timestamped folder
    results = _read(folder / "results.json")
    assert set(results["metrics"]["test"]) >= {"hr_1", "ndcg_3"} and "hr_10" not in results["metrics"]["test"]
    assert results["evaluation"]["eval"]["mask_history"] is False
    assert results["protocol"] == {"name": "loo_unmasked", "mask_history": False}  # the loaders unmasked
    assert results["topk_export"]["k"] == 4 and (folder / results["topk_export"]["file"]).is_file()
    assert not list(run_dir.glob("topk_test.*"))  # the run's own folder is left as it was
    assert main([f"run_dir={run_dir}", "eval.ks=[1,3]", "eval.mask_history=false"]) == 0
    assert len(list((run_dir / "evaluations").iterdir())) == 2  # a second evaluation, a second folder


def test_unmasked_differs_from_masked(trained: Path, tmp_path: Path) -> None:
    """History masking removes seen items from the ranking: unmasked HR@20 cannot be higher."""
    run_dir = _copy(trained, tmp_path)
    assert main([f"run_dir={run_dir}", "name=u", "eval.mask_history=false"]) == 0
    unmasked = _read(run_dir / "evaluations" / "u" / "results.json")["metrics"]["test"]
    masked = _read(run_dir / "results.json")["metrics"]["test"]
    assert unmasked["hr_20"] <= masked["hr_20"] and unmasked != masked


def test_validation_alone_then_test_alone(trained: Path, tmp_path: Path) -> None:
    """splits=val chooses a setting without a test pass; its file cannot pass for a test result."""
    run_dir = _copy(trained, tmp_path)
    original = _read(run_dir / "results.json")
    assert main([f"run_dir={run_dir}", "name=val", "splits=val"]) == 0
    val = _read(run_dir / "evaluations" / "val" / "results.json")
    assert val["metrics"]["val"] == pytest.approx(original["metrics"]["val"], abs=1e-6)
    assert "test" not in val["metrics"] and "per_user" not in val and val["evaluation"]["splits"] == ["val"]
    assert "test_seconds" not in val["timings"] and val["timings"]["val_seconds"] > 0
    with pytest.raises(LlmrecError, match="validation only"):
        collect(run_dir / "evaluations" / "val")
    assert main([f"run_dir={run_dir}", "name=test", "splits=test"]) == 0
    test = _read(run_dir / "evaluations" / "test" / "results.json")
    assert test["metrics"]["test"] == pytest.approx(original["metrics"]["test"], abs=1e-6)
    assert "val" not in test["metrics"] and "val_seconds" not in test["timings"]
    assert test["per_user"]["test"]["rank"] == original["per_user"]["test"]["rank"]


def test_a_re_evaluation_reports_with_its_training_clock(trained: Path, tmp_path: Path) -> None:
    run_dir = _copy(trained, tmp_path)
    assert main([f"run_dir={run_dir}", "name=again"]) == 0
    (again,), _ = collect(run_dir / "evaluations" / "again")
    original = _read(run_dir / "results.json")["timings"]
    assert again["timings"]["fit_seconds"] == original["fit_seconds"]
    assert again["timings"]["epochs"] == original["epochs"]


def test_other_code_version_needs_the_flag(trained: Path, tmp_path: Path, capsys: Any) -> None:
    run_dir = _copy(trained, tmp_path)
    _edit_results(run_dir, lambda r: r["code_version"].update(package="0.0.1"))
    expect_cli_error(main, [f"run_dir={run_dir}"], capsys, "another code version", "allow_code_change=true")
    assert main([f"run_dir={run_dir}", "name=forced", "allow_code_change=true"]) == 0
    forced = _read(run_dir / "evaluations" / "forced" / "results.json")["evaluation"]
    assert forced["allow_code_change"] is True and forced["trained_code_version"]["package"] == "0.0.1"


# --- bad input: one `error:` line, exit code 2 -------------------------------------------------------
@pytest.mark.bad_input
def test_no_run_dir(capsys: Any) -> None:
    expect_cli_error(main, ["eval.ks=[1]"], capsys, "run_dir=", "required")


@pytest.mark.bad_input
def test_run_dir_not_a_folder(tmp_path: Path, capsys: Any) -> None:
    expect_cli_error(main, [f"run_dir={tmp_path / 'nope'}"], capsys, "not a folder")


@pytest.mark.bad_input
def test_folder_without_results(tmp_path: Path, capsys: Any) -> None:
    expect_cli_error(main, [f"run_dir={tmp_path}"], capsys, "no results.json", "not a finished run")


@pytest.mark.bad_input
def test_folder_without_checkpoint(trained: Path, tmp_path: Path, capsys: Any) -> None:
    run_dir = _copy(trained, tmp_path)
    shutil.rmtree(run_dir / "checkpoints")
    expect_cli_error(main, [f"run_dir={run_dir}"], capsys, "no checkpoint", "best.ckpt")
    assert not (run_dir / "evaluations").exists()


@pytest.mark.bad_input
def test_corrupt_checkpoint(trained: Path, tmp_path: Path, capsys: Any) -> None:
    run_dir = _copy(trained, tmp_path)
    (run_dir / "checkpoints" / "best.ckpt").write_bytes(b"not a checkpoint")
    expect_cli_error(main, [f"run_dir={run_dir}"], capsys, "best.ckpt", "cannot be read")


@pytest.mark.bad_input
def test_other_dataset_fingerprint(trained: Path, tmp_path: Path, capsys: Any) -> None:
    run_dir = _copy(trained, tmp_path)
    _edit_results(run_dir, lambda r: r["data"].update(fingerprint="0" * 16))
    expect_cli_error(main, [f"run_dir={run_dir}"], capsys, "data changed", "fingerprint")


@pytest.mark.bad_input
@pytest.mark.parametrize("value", ["0", "-2"])
def test_export_topk_not_positive(trained: Path, tmp_path: Path, capsys: Any, value: str) -> None:
    run_dir = _copy(trained, tmp_path)
    expect_cli_error(main, [f"run_dir={run_dir}", f"eval.export_topk={value}"], capsys, "eval.export_topk")


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("model.lr=0.1", "only eval.*"),
        ("eval.kz=[1]", "eval.kz"),
        ("eval.ks=[0]", "eval.ks"),
        ("allow_code_change=maybe", "allow_code_change"),
        ("eval.ks", "key=value"),
        ("splits=train", "splits=train"),
        ("splits=", "choose from val,test"),
    ],
)
def test_bad_overrides(trained: Path, tmp_path: Path, capsys: Any, override: str, needle: str) -> None:
    expect_cli_error(main, [f"run_dir={trained}", override], capsys, needle)


@pytest.mark.bad_input
def test_export_needs_the_test_split(trained: Path, tmp_path: Path, capsys: Any) -> None:
    run_dir = _copy(trained, tmp_path)
    argv = [f"run_dir={run_dir}", "splits=val", "eval.export_topk=3"]
    expect_cli_error(main, argv, capsys, "eval.export_topk", "splits=test")
    assert not (run_dir / "evaluations").exists()  # refused before anything was written


@pytest.mark.bad_input
def test_existing_name_is_never_overwritten(trained: Path, tmp_path: Path, capsys: Any) -> None:
    run_dir = _copy(trained, tmp_path)
    (run_dir / "evaluations" / "mine").mkdir(parents=True)
    expect_cli_error(main, [f"run_dir={run_dir}", "name=mine"], capsys, "exists", "name=")


def test_help(capsys: Any) -> None:
    assert main(["--help"]) == 0 and "run_dir=" in capsys.readouterr().out
