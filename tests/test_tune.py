"""python -m llmrec.tune: trials see validation only (instrumented), a failed trial is recorded and the
study goes on, a stored study resumes with only the missing trials, every search space names real keys,
LLMSeqSim's grid is covered, the best setting is re-run over seeds, and bad input is one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pytest
import pytorch_lightning as pl
from optuna.trial import TrialState

from llmrec.data.datamodule import SequenceDataModule
from llmrec.errors import ConfigError
from llmrec.models.base import SequentialRecommender
from llmrec.run import tune_study
from llmrec.run.tune import tune
from llmrec.run.tune_best import rerun_best
from llmrec.run.tune_settings import TuneSettings, parse_args
from llmrec.run.tune_space import available_spaces, check_keys, load_space
from llmrec.run.tune_study import counted, open_study, prepare, run_study
from llmrec.tune import main
from tests.conftest import CONF_DIR, compose_config

MODELS = sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml"))
FAST = ["debug=tiny", "trainer.max_epochs=1", "+trainer.limit_train_batches=2", "logger=none"]


@pytest.fixture(autouse=True)
def quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def settings(tmp_path: Path, *overrides: str, **tune_args: Any) -> TuneSettings:
    paths = [f"paths.cache_dir={tmp_path / 'cache'}", f"paths.log_dir={tmp_path / 'logs'}"]
    tune_args.setdefault("dir", str(tmp_path / "tune"))
    return TuneSettings(overrides=(*FAST, *overrides, *paths), **tune_args)


def space_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "space.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_trials_never_compute_test_metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_test = pl.Trainer.test

    def counting(name: str, real: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(pl.Trainer, "test", counting("Trainer.test", real_test))
    monkeypatch.setattr(
        SequentialRecommender, "test_step", counting("test_step", SequentialRecommender.test_step)
    )
    loader = SequenceDataModule.test_dataloader
    monkeypatch.setattr(SequenceDataModule, "test_dataloader", counting("test_dataloader", loader))
    job = prepare(settings(tmp_path, "model=sasrec", trials=2, seeds=(0,)))
    study = open_study(job)
    assert run_study(job, study) == 2
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    assert calls == []  # two trials trained and validated; nothing touched test
    rerun_best(job, study.best_trial.params)  # the instrument works: the re-run does test, once
    assert calls.count("Trainer.test") == 1 and calls.count("test_dataloader") == 1 and "test_step" in calls


def test_a_failing_trial_is_recorded_and_the_study_goes_on(tmp_path: Path) -> None:
    space = space_file(tmp_path, "_sampler_: grid\nmodel.heads: {type: categorical, choices: [2, 3]}\n")
    job = prepare(settings(tmp_path, "model=sasrec", "model.hidden=64", space=space))
    assert job.trials == 2  # a grid's size, whatever tune.trials says
    study = open_study(job)
    run_study(job, study)
    by_heads = {t.params["model.heads"]: t for t in study.trials}
    assert by_heads[2].state == TrialState.COMPLETE and by_heads[2].value > 0.0
    assert by_heads[3].state == TrialState.FAIL
    assert "model.hidden=64 must be a multiple of model.heads=3" in by_heads[3].user_attrs["error"]


def test_pruned_trial_is_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a pruner that prunes any NDCG below 1 at the first validation
    monkeypatch.setattr(
        tune_study, "_pruner", lambda job: optuna.pruners.ThresholdPruner(upper=1.0, lower=1.0)
    )
    job = prepare(settings(tmp_path, "model=sasrec", "trainer.max_epochs=3", trials=1))
    study = open_study(job)
    run_study(job, study)
    (trial,) = study.trials
    assert trial.state == TrialState.PRUNED and trial.user_attrs["pruned"].startswith("pruned after epoch 0")
    assert list(trial.intermediate_values) == [0]  # stopped after its first epoch, not at max_epochs


def test_resume_runs_only_the_missing_trials(tmp_path: Path) -> None:
    first = prepare(settings(tmp_path, "model=sasrec", trials=1))
    study = open_study(first)
    run_study(first, study)
    study.ask()  # a trial its process never finished (killed): RUNNING in the SQLite file
    again = prepare(settings(tmp_path, "model=sasrec", trials=3))
    resumed = open_study(again)  # a new connection to the same file
    assert resumed.trials[1].state == TrialState.FAIL and not counted(resumed.trials[1])
    assert run_study(again, resumed) == 2
    assert run_study(again, open_study(again)) == 0
    done = [t for t in resumed.trials if t.state == TrialState.COMPLETE]
    assert len(done) == 3 and len({json.dumps(t.params, sort_keys=True) for t in done}) == 3
    assert (tmp_path / "tune" / "study.db").is_file() and again.storage.startswith("sqlite:///")


def test_a_study_of_another_space_is_refused(tmp_path: Path) -> None:
    job = prepare(settings(tmp_path, "model=sasrec", trials=1))
    open_study(job)
    other = prepare(settings(tmp_path, "model=sasrec", "model.layers=1", trials=1))
    with pytest.raises(ConfigError, match=r"give another tune\.dir"):
        open_study(other)


def test_every_model_has_a_space_naming_only_its_config_keys(tmp_path: Path) -> None:
    assert available_spaces() == MODELS
    for model in MODELS:
        check_keys(load_space(model), compose_config([f"model={model}"], tmp_path))
    assert load_space("popularity").params == {}
    assert 0.6 in load_space("bert4rec").params["model.mask_prob"]["choices"]


def test_an_unknown_key_fails_before_any_trial(tmp_path: Path) -> None:
    space = space_file(tmp_path, "model.lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}\nmodel.lrr: "
                       "{type: categorical, choices: [1]}\n")  # fmt: skip
    with pytest.raises(ConfigError, match=r"space.yaml names model.lrr, not a key of the composed config"):
        prepare(settings(tmp_path, "model=sasrec", space=space))
    assert not (tmp_path / "tune").exists()


def test_llmseqsim_grid_covers_every_combination(tmp_path: Path) -> None:
    job = prepare(settings(tmp_path, "model=llmseqsim", "encoder=hashing"))
    assert job.space.is_grid and job.trials == 27  # 9 official decays x 3 similarities
    study = open_study(job)
    run_study(job, study)
    tried = sorted(json.dumps(t.params, sort_keys=True) for t in study.trials)
    assert tried == sorted(json.dumps(point, sort_keys=True) for point in job.space.grid_points())
    assert all(t.state == TrialState.COMPLETE for t in study.trials)


def test_best_setting_is_rerun_over_the_seeds(tmp_path: Path) -> None:
    content = tune(settings(tmp_path, "model=popularity", seeds=(0, 1)))
    assert content["trial_budget"] == 1 and content["sampling"].startswith("empty space")
    assert [run["seed"] for run in content["seeds"]] == [0, 1]
    for run in content["seeds"]:
        results = json.loads((Path(run["dir"]) / "results.json").read_text())
        assert results["seed"] == run["seed"] and "ndcg_10" in results["metrics"]["test"]
    written = json.loads((tmp_path / "tune" / "tuning.json").read_text())
    assert written["best"]["value"] == pytest.approx(written["seeds"][0]["val"]["ndcg_10"])
    assert written["cost"]["trials"] == 1 and written["cost"]["mean_seconds"] > 0.0


def test_an_interrupted_rerun_of_the_best_continues_from_its_checkpoint(tmp_path: Path) -> None:
    first = tune(settings(tmp_path, "model=sasrec", trials=1, seeds=(0,)))
    seed_dir = Path(first["seeds"][0]["dir"])
    (seed_dir / "results.json").unlink()  # killed after its last checkpoint, before the end
    again = tune(settings(tmp_path, "model=sasrec", trials=1, seeds=(0,)))
    assert again["seeds"][0]["test"] == first["seeds"][0]["test"]
    assert json.loads((seed_dir / "results.json").read_text())["timings"]["fit_attempts"] == 2


@pytest.mark.parametrize("finished", [False, True])
def test_a_rerun_folder_of_other_parameters_is_refused(tmp_path: Path, finished: bool) -> None:
    first = tune(settings(tmp_path, "model=sasrec", trials=1, seeds=(0,)))
    seed_dir = Path(first["seeds"][0]["dir"])
    if not finished:  # interrupted: it would resume; finished: its results are not the new best's
        (seed_dir / "results.json").unlink()
    (seed_dir / "best_params.json").write_text(json.dumps({"model.lr": 0.5}))  # an earlier best
    with pytest.raises(ConfigError, match=r"holds a re-run of other parameters .*delete the folder"):
        tune(settings(tmp_path, "model=sasrec", trials=1, seeds=(0,)))


def test_trials_take_their_own_epoch_cap_and_the_best_its_full_budget(tmp_path: Path) -> None:
    space = space_file(tmp_path, "model.lr: {type: float, low: 1.0e-3, high: 1.0e-2, log: true}\n")
    args = ("model=sasrec", "trainer.max_epochs=2", "callbacks=none")
    content = tune(settings(tmp_path, *args, trials=2, seeds=(0,), space=space, trial_epochs=1))
    assert [row["epochs"] for row in content["trials"]] == [1, 1] and content["trial_max_epochs"] == 1
    results = json.loads((Path(content["seeds"][0]["dir"]) / "results.json").read_text())
    assert results["timings"]["epochs"] == 2  # the re-run of the best trains the run's own budget
    with pytest.raises(ConfigError, match="trial_epochs 1"):  # a resumed study keeps its trial cap
        open_study(prepare(settings(tmp_path, *args, trials=2, space=space)))


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tune.trials=0"], "tune.trials must be a positive integer, got '0'"),
        (["tune.seeds=0"], "tune.seeds must be a positive integer, got '0'"),
        (["tune.seed_list=[1,1]"], "tune.seed_list must list distinct seeds"),
        (["tune.trial_epochs=-1"], "tune.trial_epochs must be an integer >= 0, got '-1'"),
        (["tune.trails=5"], "unknown tuner setting tune.trails"),
        (["model=sasrec", "tune.space=nope"], "no search space 'nope'"),
    ],
)
def test_bad_input_is_one_line(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_tune_arguments_and_overrides_are_split() -> None:
    parsed = parse_args(["model=bert4rec", "tune.trials=7", "tune.seed_list=[3,5]", "trainer.max_epochs=2"])
    assert (parsed.trials, parsed.seeds, parsed.overrides) == (
        7,
        (3, 5),
        ("model=bert4rec", "trainer.max_epochs=2"),
    )
