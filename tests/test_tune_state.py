"""tune.state: the tuner keeps a copy of its study and finished re-runs up to date, a fresh tune.dir continues
from it (no trial or finished seed is trained again), a local study behind the state is refused, and a bad
state is one clear error."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import optuna
import pytest

from llmrec.errors import ConfigError
from llmrec.run import tune_state
from llmrec.run.tune import tune
from llmrec.run.tune_settings import TuneSettings, parse_args
from llmrec.run.tune_study import open_study, prepare, run_study
from llmrec.tune import main

FAST = ["debug=tiny", "trainer.max_epochs=1", "+trainer.limit_train_batches=2", "logger=none", "model=sasrec"]


@pytest.fixture(autouse=True)
def quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def settings(tmp_path: Path, folder: str, trials: int, seeds: tuple[int, ...]) -> TuneSettings:
    paths = [f"paths.cache_dir={tmp_path / 'cache'}", f"paths.log_dir={tmp_path / 'logs'}"]
    return TuneSettings(
        overrides=(*FAST, *paths),
        dir=str(tmp_path / folder),
        state=str(tmp_path / "state"),
        trials=trials,
        seeds=seeds,
    )


def test_the_state_follows_the_study_and_a_fresh_folder_continues_from_it(tmp_path: Path) -> None:
    first = tune(settings(tmp_path, "machine_a", trials=2, seeds=(0,)))
    state = tmp_path / "state"
    assert (state / "study.db").is_file()
    saved_seed = sorted(p.name for p in (state / "best" / "seed_0").iterdir())
    assert saved_seed == ["best_params.json", "results.json"]
    assert not list(state.rglob("*.ckpt"))  # checkpoints stay behind

    second = tune(settings(tmp_path, "machine_b", trials=2, seeds=(0, 1)))
    assert not (tmp_path / "machine_b" / "trials").exists()  # both trials came from the state
    assert second["trials"] == first["trials"] and second["best"] == first["best"]
    assert not (tmp_path / "machine_b" / "best" / "seed_0" / "checkpoints").exists()  # read, not trained
    assert second["seeds"][0]["test"] == first["seeds"][0]["test"]
    assert (state / "best" / "seed_1" / "results.json").is_file()  # the new seed went into the state

    third = prepare(settings(tmp_path, "machine_c", trials=3, seeds=(0,)))
    tune_state.restore(third.settings.state, third.folder)
    assert run_study(third, open_study(third)) == 1  # only the missing trial
    with closing(sqlite3.connect(state / "study.db")) as db:
        assert db.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 3


def test_a_local_study_behind_the_state_is_refused(tmp_path: Path) -> None:
    tune(settings(tmp_path, "machine_a", trials=1, seeds=(0,)))
    tune(settings(tmp_path, "machine_b", trials=2, seeds=(0,)))  # went on from the state: 2 trials there
    before = (tmp_path / "state" / "study.db").read_bytes()
    with pytest.raises(ConfigError, match=r"holds 2 trials, .*only 1: the state went on elsewhere"):
        tune(settings(tmp_path, "machine_a", trials=2, seeds=(0,)))
    assert (tmp_path / "state" / "study.db").read_bytes() == before


def test_a_study_without_a_state_writes_none(tmp_path: Path) -> None:
    tune_state.save("", tmp_path)
    tune_state.restore("", tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert parse_args(["tune.state=keep/here"]).state == "keep/here"


@pytest.mark.bad_input
def test_a_corrupt_state_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "study.db").write_text("not a database")
    args = [*FAST, f"paths.log_dir={tmp_path / 'logs'}", f"tune.dir={tmp_path / 'run'}"]
    assert main([*args, f"tune.state={tmp_path / 'state'}", "tune.trials=1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "is not an Optuna study" in err and err.count("\n") == 1
    assert not (tmp_path / "run" / "study.db").exists()
    assert main([*args, f"tune.state={tmp_path / 'run'}"]) == 2
    assert "tune.state must name another folder than tune.dir" in capsys.readouterr().err


def test_the_results_in_the_state_are_the_runs_own(tmp_path: Path) -> None:
    first = tune(settings(tmp_path, "machine_a", trials=1, seeds=(0,)))
    saved = json.loads((tmp_path / "state" / "best" / "seed_0" / "results.json").read_text())
    assert saved["metrics"]["test"] == first["seeds"][0]["test"]
