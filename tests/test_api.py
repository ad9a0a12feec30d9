"""The Python API (llmrec.train, llmrec.load_run, llmrec.results_frame) and the README's example."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

import llmrec
from llmrec.errors import ConfigError
from tests.bad_input_helpers import expect_error

README = Path(__file__).resolve().parents[1] / "README.md"
TINY = ["model=sasrec", "debug=tiny", "trainer.max_epochs=1", "logger=none"]


def _overrides(root: Path, *extra: str) -> list[str]:
    return [*TINY, f"paths.cache_dir={root / 'cache'}", f"paths.log_dir={root / 'logs'}", *extra]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runs through the API in one folder, as a sweep leaves them: SASRec seed 0 and popularity."""
    root = tmp_path_factory.mktemp("api")
    llmrec.train(_overrides(root), output_dir=root / "sweep" / "sasrec")
    llmrec.train(_overrides(root, "model=popularity", "seed=1"), output_dir=root / "sweep" / "popularity")
    return root / "sweep"


def test_import_loads_no_torch() -> None:
    code = "import sys, llmrec; assert not {'torch', 'pytorch_lightning'} & set(sys.modules)"
    code += "; print(llmrec.train)"  # the API itself arrives on first use
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "function train" in out


def test_run_returns_and_writes_the_results(sweep: Path) -> None:
    written = json.loads((sweep / "sasrec" / "results.json").read_text())
    assert written["status"] == "ok" and written["model"] == "sasrec" and written["seed"] == 0
    assert 0.0 <= written["metrics"]["test"]["ndcg_10"] <= 1.0


def test_run_is_seeded_like_the_command_line(sweep: Path, tmp_path: Path) -> None:
    root = sweep.parent
    again = llmrec.train(_overrides(root), output_dir=tmp_path / "again")
    first = json.loads((sweep / "sasrec" / "results.json").read_text())
    assert again["metrics"] == first["metrics"]


def test_run_default_folder_is_under_log_dir(tmp_path: Path) -> None:
    results = llmrec.train(_overrides(tmp_path, "model=popularity"))
    (folder,) = list((tmp_path / "logs" / "runs").iterdir())
    assert folder.name.endswith("_popularity_tiny") and (folder / "results.json").is_file()
    assert results["config"]["paths"]["output_dir"] == str(folder)


def test_load_run_scores_and_recommends(sweep: Path) -> None:
    trained = llmrec.load_run(sweep / "sasrec")
    assert not trained.model.training and trained.checkpoint is not None
    assert trained.checkpoint.name == "best.ckpt" and trained.config.model.name == "sasrec"
    scores = trained.score([[1, 2, 3], [4]])
    assert scores.shape == (2, trained.data.num_items + 1)
    with torch.no_grad():
        direct = trained.model(torch.tensor([[1, 2, 3]]))
    assert torch.allclose(scores[0], direct[0].float(), atol=1e-5)
    top = trained.recommend(users=[0, 3], k=5)
    assert list(top.columns) == ["user", "user_index", "rank", "item", "item_index", "score"]
    assert len(top) == 10 and top["rank"].tolist() == [1, 2, 3, 4, 5] * 2
    for user, rows in top.groupby("user_index"):
        assert not set(rows["item_index"]) & set(trained.data.sequence(int(user)).tolist())  # seen excluded
        assert rows["score"].is_monotonic_decreasing
    assert top["item"].iloc[0] == trained.data.item_ids[int(top["item_index"].iloc[0]) - 1]


def test_load_run_of_a_model_without_training(sweep: Path) -> None:
    trained = llmrec.load_run(sweep / "popularity")
    assert trained.checkpoint is None and trained.score([[1]]).shape[1] == trained.data.num_items + 1


def test_results_frame(sweep: Path) -> None:
    frame = llmrec.results_frame(sweep)
    assert sorted(frame["model"]) == ["popularity", "sasrec"] and sorted(frame["seed"]) == [0, 1]
    assert {"val/ndcg_10", "test/hr_20", "fit_seconds", "epochs", "run_dir", "dataset"} <= set(frame.columns)
    sasrec = frame[frame["model"] == "sasrec"].iloc[0]
    written = json.loads((sweep / "sasrec" / "results.json").read_text())
    assert sasrec["test/ndcg_10"] == written["metrics"]["test"]["ndcg_10"]


# --- bad input ----------------------------------------------------------------------------------------
def _copy(sweep: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(sweep / "sasrec", tmp_path / "run"))


@pytest.mark.bad_input
def test_load_run_without_results(sweep: Path, tmp_path: Path) -> None:
    run_dir = _copy(sweep, tmp_path)
    (run_dir / "results.json").unlink()  # a run killed during training keeps only its checkpoints
    expect_error(lambda: llmrec.load_run(run_dir), "no results.json", "not a finished run")


@pytest.mark.bad_input
def test_load_run_without_checkpoint(sweep: Path, tmp_path: Path) -> None:
    run_dir = _copy(sweep, tmp_path)
    (run_dir / "checkpoints" / "best.ckpt").unlink()
    expect_error(lambda: llmrec.load_run(run_dir), "no checkpoint", "best.ckpt")


@pytest.mark.bad_input
def test_load_run_with_truncated_checkpoint(sweep: Path, tmp_path: Path) -> None:
    run_dir = _copy(sweep, tmp_path)
    path = run_dir / "checkpoints" / "best.ckpt"
    path.write_bytes(path.read_bytes()[:100])
    expect_error(lambda: llmrec.load_run(run_dir), "best.ckpt", "cannot be read")


@pytest.mark.bad_input
def test_load_run_with_damaged_results(sweep: Path, tmp_path: Path) -> None:
    run_dir = _copy(sweep, tmp_path)
    (run_dir / "results.json").write_text('{"status": "ok", "metr')
    expect_error(lambda: llmrec.load_run(run_dir), "not valid JSON")


@pytest.mark.bad_input
def test_results_frame_of_an_empty_folder(tmp_path: Path) -> None:
    expect_error(lambda: llmrec.results_frame(tmp_path), "no results.json")


@pytest.mark.bad_input
def test_run_with_a_misspelt_override(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        llmrec.train(["model.hiden=3"], output_dir=tmp_path)
    expect_error(lambda: llmrec.train(["model.hiden=3"], output_dir=tmp_path), "model.hiden")


@pytest.mark.bad_input
def test_score_with_unknown_items(sweep: Path) -> None:
    trained = llmrec.load_run(sweep / "popularity")
    expect_error(lambda: trained.score([[0, 10_000]]), "item indices")


# --- the README's example ------------------------------------------------------------------------------
def readme_example() -> str:
    """The first ```python block of the README's "Python API" section."""
    section = README.read_text(encoding="utf-8").split("## Python API", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "README.md: no python block in the Python API section"
    return match.group(1)


def test_readme_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.chdir(tmp_path)  # the example writes under ./runs and caches under ./.cache
    exec(compile(readme_example(), str(README), "exec"), {"__name__": "readme"})
    assert list((tmp_path / "runs").rglob("results.json")) and list((tmp_path / "runs").rglob("topk_test.*"))
    assert "ndcg_10" in capsys.readouterr().out
