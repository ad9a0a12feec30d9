"""Protocols through the runner: a tiny run per protocol, results.json carrying the protocol and the
users per split, identical sampled candidates for every model and for a re-evaluation, config errors,
and interaction timestamps kept through a reader and the dataset cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hydra.errors import MissingConfigException
from omegaconf import OmegaConf
from pytorch_lightning import seed_everything

from llmrec.data.cache import load_sequence_data
from llmrec.data.sources.movielens import MovieLens100K
from llmrec.errors import LlmrecError
from llmrec.run.pipeline import prepare_data, run
from llmrec.run.protocols import _find_sample_file, protocol_settings
from llmrec.run.reevaluate import reevaluate
from tests.bad_input_helpers import expect_error
from tests.conftest import compose_config
from tests.data_fixtures import ml100k

TINY = ["debug=tiny", "logger=none", "trainer.max_epochs=1"]
SAMPLED = ["protocol=sampled", "protocol.negatives=20"]  # tiny's users leave at least 26 items unseen
EXTRA = {"sampled": SAMPLED[1:], "user_holdout": ["protocol.order=random"]}


def _run(root: Path, name: str, *overrides: str) -> dict[str, Any]:
    return run(compose_config([*TINY, *overrides], root), root / name)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Popularity under each protocol, and a 1-epoch SASRec under the sampled one, sharing one cache."""
    root = tmp_path_factory.mktemp("protocols")
    results = {
        name: _run(root, name, "model=popularity", f"protocol={name}", *EXTRA.get(name, []))
        for name in ("loo", "loo_unmasked", "sampled", "user_holdout")
    }
    results["sampled_sasrec"] = _run(root, "sampled_sasrec", "model=sasrec", *SAMPLED)
    return results


@pytest.mark.parametrize("name", ["loo", "loo_unmasked", "sampled", "user_holdout"])
def test_results_carry_the_protocol_and_users_per_split(runs: dict[str, dict[str, Any]], name: str) -> None:
    results = runs[name]
    assert results["protocol"]["name"] == name
    written = json.loads((Path(results["config"]["paths"]["output_dir"]) / "results.json").read_text())
    assert written["protocol"] == results["protocol"]
    data = results["data"]
    tested = results["per_user"]["test"]["user"]
    if name == "user_holdout":
        assert (data["train_users"], data["val_users"], data["test_users"]) == (96, 12, 12)
        assert len(tested) == 12 and results["protocol"]["order"] == "random"
    else:
        assert data["train_users"] == data["val_users"] == data["test_users"] == data["users"] == len(tested)
    for metric in ("hr_10", "ndcg_10", "coverage_10"):
        assert 0.0 <= results["metrics"]["test"][metric] <= 1.0


def test_protocols_change_the_numbers(runs: dict[str, dict[str, Any]]) -> None:
    test = {name: runs[name]["metrics"]["test"] for name in ("loo", "loo_unmasked", "sampled")}
    assert test["loo_unmasked"]["hr_10"] <= test["loo"]["hr_10"]  # seen items only add competitors
    assert test["sampled"]["hr_10"] > test["loo"]["hr_10"]  # 21 candidates instead of the catalog
    assert runs["loo"]["protocol"] == {"name": "loo", "mask_history": True}
    assert runs["loo_unmasked"]["protocol"] == {"name": "loo_unmasked", "mask_history": False}


def test_every_model_ranks_against_the_same_stored_candidates(
    runs: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    popularity, sasrec = runs["sampled"]["protocol"], runs["sampled_sasrec"]["protocol"]
    assert popularity == sasrec
    assert (popularity["negatives"], popularity["sampling"], popularity["seed"]) == (20, "uniform", 0)
    cache = Path(runs["sampled"]["config"]["paths"]["cache_dir"]) / "datasets" / "candidates"
    fingerprint = runs["sampled"]["data"]["fingerprint"]
    stored = np.load(cache / f"{fingerprint}-uniform-20-0.npy")
    # a fresh cache (another machine) draws the same array again: the protocol's seed fixes it
    fresh = prepare_data(compose_config([*TINY, *SAMPLED, "model=sasrec", "seed=5"], tmp_path))
    assert np.array_equal(fresh.protocol.candidates, stored)
    assert np.array_equal(fresh.datamodule.test_set.candidates.numpy(), stored)
    other = prepare_data(compose_config([*TINY, *SAMPLED, "protocol.seed=1"], tmp_path))
    assert not np.array_equal(other.protocol.candidates, stored)


def test_reevaluation_uses_the_runs_candidates(runs: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    run_dir = Path(runs["sampled_sasrec"]["config"]["paths"]["output_dir"])
    again, _ = reevaluate(run_dir, [], name="again")
    assert again["protocol"] == runs["sampled_sasrec"]["protocol"]
    assert again["metrics"]["test"] == pytest.approx(runs["sampled_sasrec"]["metrics"]["test"], abs=1e-6)
    expect_error(lambda: reevaluate(run_dir, ["eval.mask_history=false"], name="u"), "sampled", "history")
    cache = Path(runs["sampled"]["config"]["paths"]["cache_dir"]) / "datasets" / "candidates"
    (stored,) = cache.glob("*.npy")
    original = np.load(stored)
    try:
        np.save(stored, original[:, ::-1])  # the same items in another order: another checksum
        expect_error(lambda: reevaluate(run_dir, [], name="changed"), "candidates", "cannot be rebuilt")
    finally:
        np.save(stored, original)


def test_unmasked_reevaluation_of_a_loo_run_is_loo_unmasked(runs: dict[str, dict[str, Any]]) -> None:
    root = Path(runs["loo"]["config"]["paths"]["output_dir"]).parent
    trained = _run(root, "loo_sasrec", "model=sasrec")
    results, _ = reevaluate(Path(trained["config"]["paths"]["output_dir"]), ["eval.mask_history=false"])
    assert results["protocol"] == {"name": "loo_unmasked", "mask_history": False}
    assert results["metrics"]["test"]["hr_20"] <= trained["metrics"]["test"]["hr_20"]


@pytest.mark.parametrize("protocol", [["protocol=loo"], ["protocol=user_holdout", "protocol.order=random"]])
def test_validation_ranks_a_fixed_sample_of_its_users_and_the_test_all(
    tmp_path: Path, protocol: list[str]
) -> None:
    every = prepare_data(compose_config([*TINY, *protocol], tmp_path)).protocol
    picks = {}
    for seed in (0, 1):
        cfg = compose_config([*TINY, *protocol, "protocol.val_users=7", f"seed={seed}"], tmp_path)
        prepared = prepare_data(cfg).protocol
        assert prepared.params["val_users"] == 7 and prepared.users_per_split()["val_users"] == 7
        picks[seed] = prepared.split.eval_users("val").tolist()
        assert set(picks[seed]) <= set(every.split.eval_users("val").tolist())
        assert prepared.split.eval_users("test").tolist() == every.split.eval_users("test").tolist()
    assert picks[0] == picks[1]  # drawn once for every model and seed of a study
    assert "val_users" not in every.params  # null: the plain protocol, recorded as before


def test_a_run_validated_on_a_sample_is_re_evaluated_on_every_validation_user(tmp_path: Path) -> None:
    trained = _run(tmp_path, "run", "model=sasrec", "protocol.val_users=9")
    assert trained["data"]["val_users"] == 9 and trained["data"]["test_users"] == 120
    again, _ = reevaluate(tmp_path / "run", ["protocol.val_users=null"], name="all")
    assert again["data"]["val_users"] == 120 and "val_users" not in again["protocol"]
    assert again["metrics"]["test"] == pytest.approx(trained["metrics"]["test"], abs=1e-6)


def test_a_config_from_before_protocols_reads_as_loo() -> None:
    cfg = OmegaConf.create({"eval": {"mask_history": False}})
    assert protocol_settings(cfg) == {"name": "loo_unmasked", "mask_history": False}
    cfg = OmegaConf.create({"eval": {"mask_history": True}})
    assert protocol_settings(cfg)["name"] == "loo"


# --- bad input ---------------------------------------------------------------------------------------
@pytest.mark.bad_input
def test_unknown_protocol_names_the_options() -> None:
    with pytest.raises(MissingConfigException, match=r"protocol/nope") as info:
        compose_config(["protocol=nope"])
    assert "user_holdout" in str(info.value)  # Hydra lists the protocols


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("overrides", "needles"),
    [
        (
            ["protocol=loo", "eval.mask_history=false"],
            ["conflicts with protocol=loo", "protocol=loo_unmasked"],
        ),
        (["protocol=loo_unmasked", "protocol.mask_history=true"], ["does not mask", "protocol=loo"]),
        (["protocol=sampled", "protocol.sampling=zipf"], ["protocol.sampling", "uniform"]),
        (["protocol=sampled", "protocol.negatives=99"], ["negatives=99", "120 users", "at most"]),
        (["protocol=sampled", "protocol.seed=-1"], ["protocol.seed"]),
        (["protocol=sampled", "+protocol.negative=5"], ["negative", "known"]),
        (
            ["protocol=sampled", "protocol.sample_file=/nonexistent/x_sample.txt"],
            ["sample_file", "not a file"],
        ),
        (["protocol=user_holdout"], ["timestamps", "protocol.order=random"]),
        (["protocol.eval_users=0"], ["protocol.eval_users", "positive integer"]),
        (["protocol.eval_users=true"], ["protocol.eval_users", "positive integer"]),
        (["protocol.eval_users=121"], ["eval_users=121", "120 users", "null"]),
        (["protocol.val_users=0"], ["protocol.val_users", "positive integer"]),
        (["protocol.eval_users=50", "protocol.val_users=51"], ["val_users=51", "50 validation users"]),
        (
            ["protocol=user_holdout", "protocol.order=random", "protocol.val_users=13"],
            ["val_users=13", "12 validation users"],
        ),
        (
            ["protocol=user_holdout", "protocol.order=random", "+protocol.eval_users=10"],
            ["eval_users", "known"],
        ),
        (["protocol=user_holdout", "protocol.order=random", "protocol.test_fraction=1.5"], ["(0, 1)"]),
        (["protocol=user_holdout", "protocol.order=random", "protocol.val_fraction=0.9"], ["training"]),
    ],
)
def test_bad_protocol_settings_are_one_error(
    tmp_path: Path, overrides: list[str], needles: list[str]
) -> None:
    cfg = compose_config([*TINY, *overrides], tmp_path)
    expect_error(lambda: prepare_data(cfg), *needles)


@pytest.mark.bad_input
def test_a_sample_file_of_another_dataset_is_refused(tmp_path: Path) -> None:
    sample = tmp_path / "Other_sample.txt"
    sample.write_text("someone 1 2 3\n", encoding="utf-8")
    cfg = compose_config([*TINY, "protocol=sampled", f"protocol.sample_file={sample}"], tmp_path)
    with pytest.raises(LlmrecError, match="not in the dataset; wrong sample file"):
        prepare_data(cfg)


# --- timestamps ----------------------------------------------------------------------------------------
def test_timestamps_survive_the_reader_and_the_cache(tmp_path: Path) -> None:
    source = MovieLens100K(root=str(ml100k(tmp_path / "ml")))
    built, key = load_sequence_data(source, 0, tmp_path / "cache")
    cached, again = load_sequence_data(source, 0, tmp_path / "cache")
    assert key == again
    for data in (built, cached):
        assert data.user_ids == ["1", "2"]
        assert data.times.tolist() == [50.0, 100.0, 100.0, 60.0, 70.0, 80.0]  # chronological per user
        assert [data.item_ids[i - 1] for i in data.items] == ["20", "10", "30", "30", "10", "20"]


def test_outdated_cache_entry_without_times_is_rebuilt_under_the_same_key(tmp_path: Path) -> None:
    source = MovieLens100K(root=str(ml100k(tmp_path / "ml")))
    _, fingerprint = load_sequence_data(source, 0, tmp_path / "cache")
    meta_path = tmp_path / "cache" / fingerprint / "meta.json"
    meta = json.loads(meta_path.read_text())
    del meta["has_times"]  # as written before timestamps were kept
    meta_path.write_text(json.dumps(meta))
    data, again = load_sequence_data(source, 0, tmp_path / "cache")
    assert again == fingerprint and data.times is not None
    assert "has_times" in json.loads(meta_path.read_text())


# --- presets -------------------------------------------------------------------------------------------
def test_e4srec_paper_ranks_99_sampled_negatives_or_the_s3rec_file(tmp_path: Path) -> None:
    cfg = compose_config(["experiment=e4srec_paper", "dataset=beauty", f"dataset.root={tmp_path}"], tmp_path)
    assert protocol_settings(cfg) == {
        "name": "sampled", "negatives": 99, "sampling": "uniform", "seed": 0, "sample_file": "auto"
    }  # fmt: skip
    assert _find_sample_file("auto", cfg) is None  # no Name_sample.txt: drawn
    (tmp_path / "Beauty_sample.txt").write_text("u 1\n", encoding="utf-8")
    assert _find_sample_file("auto", cfg) == tmp_path / "Beauty_sample.txt"
    (tmp_path / "Other_sample.txt").write_text("u 1\n", encoding="utf-8")
    expect_error(lambda: _find_sample_file("auto", cfg), "several sample files")
    # the official inference.py
    inference = compose_config(["experiment=e4srec_paper", "protocol=loo"], tmp_path)
    assert protocol_settings(inference) == {"name": "loo", "mask_history": True}


def test_harte_paper_holds_users_out(tmp_path: Path) -> None:
    cfg = compose_config(["experiment=harte_paper"], tmp_path)
    settings = protocol_settings(cfg)
    assert settings["name"] == "user_holdout" and settings["order"] == "random"
    assert (settings["test_fraction"], settings["val_fraction"]) == (0.1, 0.1)


def test_user_holdout_random_is_user_holdout_in_a_seeded_order(tmp_path: Path) -> None:
    settings = protocol_settings(compose_config(["protocol=user_holdout_random"], tmp_path))
    assert settings["name"] == "user_holdout" and settings["order"] == "random"
    timed = protocol_settings(compose_config(["protocol=user_holdout"], tmp_path))
    assert {k: v for k, v in settings.items() if k != "order"} == {
        k: v for k, v in timed.items() if k != "order"
    }


def test_a_loo_run_reevaluated_under_sampled_equals_the_same_training_run_under_sampled(
    runs: dict[str, dict[str, Any]],
) -> None:
    """loo and sampled share one training split: one epoch trains the same model, so switching the
    protocol of the loo run's checkpoint gives the sampled run's numbers, against the same candidates."""
    root = Path(runs["loo"]["config"]["paths"]["output_dir"]).parent
    seed_everything(0)  # as `python -m llmrec` seeds every run
    sampled = _run(root, "sampled_sasrec_seeded", "model=sasrec", *SAMPLED)
    seed_everything(0)
    trained = _run(root, "loo_sasrec_seeded", "model=sasrec")
    run_dir = Path(trained["config"]["paths"]["output_dir"])
    switched, folder = reevaluate(run_dir, ["protocol.negatives=20", "protocol=sampled"], name="sampled")
    assert switched["protocol"] == sampled["protocol"]
    assert switched["metrics"]["test"] == pytest.approx(sampled["metrics"]["test"], abs=1e-6)
    assert switched["metrics"]["test"]["hr_10"] > trained["metrics"]["test"]["hr_10"]
    assert json.loads((folder / "results.json").read_text())["protocol"]["name"] == "sampled"
    back, _ = reevaluate(run_dir, ["protocol=loo"], name="loo_again")
    assert back["metrics"]["test"] == pytest.approx(trained["metrics"]["test"], abs=1e-6)


@pytest.mark.parametrize(
    ("run_name", "override", "needle"),
    [
        ("loo", "protocol=user_holdout", "share one leave-one-out split"),
        ("user_holdout", "protocol=sampled", "train again with protocol=sampled"),
        ("loo", "protocol.negatives=20", "protocol.mask_history"),
    ],
)
def test_a_protocol_switch_stays_within_the_training_split(
    runs: dict[str, dict[str, Any]], run_name: str, override: str, needle: str
) -> None:
    run_dir = Path(runs[run_name]["config"]["paths"]["output_dir"])
    expect_error(lambda: reevaluate(run_dir, [override]), needle)


def test_eval_users_ranks_one_fixed_subset_with_the_full_runs_numbers(
    runs: dict[str, dict[str, Any]],
) -> None:
    """protocol.eval_users=n evaluates n users drawn once (not by the run's seed): the same users for every
    model and seed, each ranked exactly as in the run over every user; training is untouched."""
    root = Path(runs["loo"]["config"]["paths"]["output_dir"]).parent
    subset = {
        seed: _run(root, f"loo_40_s{seed}", "model=popularity", "protocol.eval_users=40", f"seed={seed}")
        for seed in (0, 1)
    }
    users = subset[0]["per_user"]["test"]["user"]
    assert len(users) == 40 and users == sorted(set(users))
    assert subset[1]["per_user"]["test"]["user"] == users
    assert subset[0]["protocol"] == {"name": "loo", "mask_history": True, "eval_users": 40}
    data = subset[0]["data"]
    assert (data["val_users"], data["test_users"], data["train_users"]) == (40, 40, 120)
    full = runs["loo"]["per_user"]["test"]
    rank_of = dict(zip(full["user"], full["rank"], strict=True))
    assert subset[0]["per_user"]["test"]["rank"] == [rank_of[user] for user in users]
    sampled = _run(root, "sampled_40", "model=popularity", *SAMPLED, "protocol.eval_users=40")
    assert sampled["per_user"]["test"]["user"] == users
    full = runs["sampled"]["per_user"]["test"]  # the same candidates per user as the run over every user
    rank_of = dict(zip(full["user"], full["rank"], strict=True))
    assert sampled["per_user"]["test"]["rank"] == [rank_of[user] for user in users]


def test_a_protocol_switch_keeps_the_runs_evaluated_users(runs: dict[str, dict[str, Any]]) -> None:
    root = Path(runs["loo"]["config"]["paths"]["output_dir"]).parent
    trained = _run(root, "loo_sasrec_40", "model=sasrec", "protocol.eval_users=40")
    run_dir = Path(trained["config"]["paths"]["output_dir"])
    switched, _ = reevaluate(run_dir, ["protocol=sampled", "protocol.negatives=20"], name="sampled")
    assert switched["protocol"]["eval_users"] == 40
    assert switched["per_user"]["test"]["user"] == trained["per_user"]["test"]["user"]
    every, _ = reevaluate(run_dir, ["protocol.eval_users=null"], name="every_user")
    assert len(every["per_user"]["test"]["user"]) == 120 and "eval_users" not in every["protocol"]
