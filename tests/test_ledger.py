"""The reproduction ledger (python -m llmrec.report.ledger) on hand-made results.json files: byte-identical
regeneration, the numbers and groups of a hand-made case, protocol matching, bad published files."""

from __future__ import annotations

import inspect
import shutil
from pathlib import Path

import pytest
import yaml

from llmrec.errors import LlmrecError
from llmrec.models.llmseqprompt import LLMSeqPrompt
from llmrec.report.ledger import main, write_ledger
from llmrec.report.ledger_groups import ADDED_LATER, config_summary, study_of
from llmrec.report.published import load_published
from tests.run_records import write_result

REPO = Path(__file__).resolve().parents[1]
FIGURE = {
    "paper": "Someone 2023",
    "table": "Table 2",
    "source": "https://example.org/paper",
    "dataset": "beauty",
    "model": "sasrec",
    "protocol": "loo",
    "metric": "ndcg_10",
    "value": 0.0511,
    "note": "Full ranking, history masked.",
}


def _published(path: Path, *entries: dict) -> Path:
    path.write_text(yaml.safe_dump(list(entries), sort_keys=False), encoding="utf-8")
    return path


def _runs(root: Path) -> Path:
    """sasrec on beauty: two loo seeds (0.04, 0.06), two user_holdout seeds; one sampled seed; a bert4rec
    run and an ml100k sasrec run that no beauty sasrec figure may count."""
    for seed, value in enumerate((0.04, 0.06)):
        write_result(root / f"loo_sasrec_s{seed}", model="sasrec", value=value, seed=seed)
        write_result(
            root / f"uh_sasrec_s{seed}", model="sasrec", value=value / 2, seed=seed, protocol="user_holdout"
        )
    write_result(root / "sampled_sasrec_s0", model="sasrec", value=0.5, protocol="sampled")
    write_result(root / "loo_bert4rec_s0", model="bert4rec", value=0.9)
    write_result(root / "ml100k_sasrec_s0", model="sasrec", value=0.9, dataset="ml100k")
    return root


def test_the_ledger_regenerates_byte_identically_from_anywhere(tmp_path: Path) -> None:
    published = _published(tmp_path / "published.yaml", FIGURE, FIGURE | {"protocol": "user_holdout"})
    runs = _runs(tmp_path / "a" / "runs")
    first = write_ledger(published, [runs], tmp_path / "one.md")
    second = write_ledger(published, [runs], tmp_path / "two.md")
    moved = tmp_path / "b" / "elsewhere" / "runs"
    shutil.copytree(runs, moved)
    third = write_ledger(published, [moved], tmp_path / "three.md")
    assert (tmp_path / "one.md").read_bytes() == (tmp_path / "two.md").read_bytes()
    assert (tmp_path / "one.md").read_bytes() == (tmp_path / "three.md").read_bytes()
    assert first == second == third
    assert str(tmp_path) not in first  # no absolute path


def test_a_hand_made_case(tmp_path: Path) -> None:
    published = _published(tmp_path / "published.yaml", FIGURE, FIGURE | {"protocol": "user_holdout"})
    markdown = write_ledger(published, [_runs(tmp_path / "runs")], tmp_path / "LEDGER.md")
    # loo: seeds 0.04 and 0.06 -> 0.0500 ± 0.0141 (2); user_holdout: 0.02 and 0.03 -> 0.0250 ± 0.0071 (2)
    # a figure published under loo shows its runs once: the main-protocol column would repeat them
    assert (
        "| beauty | sasrec | ndcg_10 | Someone 2023 | 0.0511 | loo | 0.0500 ± 0.0141 (2) | as left |"
        in markdown
    )
    assert (
        "| beauty | sasrec | ndcg_10 | Someone 2023 | 0.0511 | user_holdout | 0.0250 ± 0.0071 (2) | "
        "0.0500 ± 0.0141 (2) |"
    ) in markdown
    detail = (
        "- under loo: 0.0500 ± 0.0141 (2); model `sasrec`; data `beauty-0123456789abcdef`; commit "
        "`0123456789`; config `datamodule.batch_size=128, dataset.max_len=50, hidden=64, lr=0.001, "
        "trainer.max_epochs=100`; runs `runs/loo_sasrec_s0`, `runs/loo_sasrec_s1`"
    )
    assert detail in markdown
    assert (
        "0.5000" not in markdown and "0.9000" not in markdown
    )  # sampled, bert4rec and ml100k runs not counted


def test_protocol_matching_and_no_run(tmp_path: Path) -> None:
    sampled = FIGURE | {"protocol": "sampled", "model": "bert4rec"}
    published = _published(tmp_path / "published.yaml", FIGURE | {"protocol": "sampled"}, sampled)
    markdown = write_ledger(published, [_runs(tmp_path / "runs")], tmp_path / "LEDGER.md")
    assert "| sampled | 0.5000 (1) | 0.0500 ± 0.0141 (2) |" in markdown  # sasrec: its sampled run
    assert "| bert4rec | ndcg_10 | Someone 2023 | 0.0511 | sampled | no run | 0.9000 (1) |" in markdown
    alone = write_ledger(published, [], tmp_path / "empty.md")
    assert alone.count("| no run | no run |") == 2 and "the runs below: none" in alone


def test_settings_that_differ_make_separate_groups(tmp_path: Path) -> None:
    write_result(tmp_path / "runs" / "small", model="sasrec", value=0.04)
    write_result(tmp_path / "runs" / "large", model="sasrec", value=0.06, model_config={"hidden": 128})
    markdown = write_ledger(_published(tmp_path / "p.yaml", FIGURE), [tmp_path / "runs"], tmp_path / "L.md")
    # groups sorted by their config text: "hidden=128" before "hidden=64"
    assert "| 0.0600 (1); 0.0400 (1) |" in markdown
    assert "hidden=128" in markdown and "hidden=64" in markdown


def test_each_entry_names_the_study_that_ran_it(tmp_path: Path) -> None:
    study = tmp_path / "experiments"
    write_result(study / "013_harte" / "runs" / "loo_sasrec_s0", model="sasrec", value=0.04)
    write_result(
        study / "014_e4srec" / "runs" / "starved_s0", model="sasrec", value=0.002, model_config={"lr": 0.1}
    )
    write_result(tmp_path / "loose" / "sasrec_s0", model="sasrec", value=0.05, model_config={"hidden": 32})
    published = _published(tmp_path / "p.yaml", FIGURE | {"protocol": "user_holdout"})
    markdown = write_ledger(published, [study, tmp_path / "loose"], tmp_path / "L.md", root=tmp_path)
    # groups sorted by config: hidden=32 (no study), then lr=0.001 (013), then lr=0.1 (014)
    cell = "0.0500 (1); 013: 0.0400 (1); 014: 0.0020 (1) |"
    assert f"| user_holdout | no run | {cell}" in markdown


@pytest.mark.parametrize(
    ("folders", "study"),
    [
        (["experiments/013_harte/runs/a", "experiments/013_harte/runs_converged/b"], "013"),
        (["experiments/013_harte/runs/a", "experiments/014_e4srec/runs/b"], ""),
        (["runs/a"], ""),
        (["experiments/017_tuning/runs/trial_cap8/sasrec/best/seed_0"], "017"),
    ],
)
def test_study_of(folders: list[str], study: str) -> None:
    assert study_of(folders) == study


def test_the_same_seed_twice_is_an_error(tmp_path: Path) -> None:
    write_result(tmp_path / "one" / "r", model="sasrec", value=0.04)
    write_result(tmp_path / "two" / "r", model="sasrec", value=0.05)
    with pytest.raises(LlmrecError, match=r"seed\(s\) \[0\] appear twice"):
        write_ledger(
            _published(tmp_path / "p.yaml", FIGURE), [tmp_path / "one", tmp_path / "two"], tmp_path / "L.md"
        )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({k: v for k, v in FIGURE.items() if k != "metric"}, "entry 1 lacks metric"),
        (FIGURE | {"value": "high"}, "value must be a number"),
        (FIGURE | {"protocol": "sampled 1+99"}, "protocol 'sampled 1\\+99' is not one of"),
        (FIGURE | {"paper": ""}, "paper must be non-empty text"),
        (FIGURE | {"year": 2023}, "unknown field\\(s\\) year"),
    ],
)
def test_a_bad_published_entry_is_one_clear_error(tmp_path: Path, entry: dict, message: str) -> None:
    with pytest.raises(LlmrecError, match=message):
        load_published(_published(tmp_path / "published.yaml", entry))


def test_a_missing_or_malformed_published_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(LlmrecError, match="not found; give the YAML of published figures"):
        load_published(tmp_path / "nowhere.yaml")
    (tmp_path / "map.yaml").write_text("paper: x\n", encoding="utf-8")
    with pytest.raises(LlmrecError, match="must hold a non-empty list"):
        load_published(tmp_path / "map.yaml")
    assert main(["--published", str(tmp_path / "nowhere.yaml"), "--out", str(tmp_path / "L.md")]) == 2
    assert "not found" in capsys.readouterr().err and not (tmp_path / "L.md").exists()


def test_the_repository_published_figures_load_and_name_their_sources() -> None:
    figures = load_published(REPO / "experiments" / "published.yaml")
    assert len(figures) >= 5 and all(f.source and f.note for f in figures)
    assert any(f.protocol == "user_holdout" for f in figures)


def test_relative_to_names_run_folders_from_a_root(tmp_path: Path) -> None:
    runs = _runs(tmp_path / "outputs" / "sweeps" / "beauty")
    published = _published(tmp_path / "published.yaml", FIGURE)
    markdown = write_ledger(published, [runs], tmp_path / "L.md", root=tmp_path)
    assert "the runs below: `outputs/sweeps/beauty`" in markdown
    assert "`outputs/sweeps/beauty/loo_sasrec_s0`" in markdown
    with pytest.raises(LlmrecError, match="is not below --relative-to"):
        write_ledger(published, [runs], tmp_path / "L.md", root=tmp_path / "elsewhere")


def test_a_run_on_a_subset_of_users_says_so_in_its_setting() -> None:
    config = {"model": {"lr": 0.001}, "protocol": {"name": "loo", "mask_history": True}}
    assert "eval_users" not in config_summary(config)
    config["protocol"]["eval_users"] = 5000
    assert config_summary(config) == "lr=0.001, protocol.eval_users=5000"
    config["protocol"]["val_users"] = 2000
    assert config_summary(config) == "lr=0.001, protocol.eval_users=5000, protocol.val_users=2000"


def test_a_figure_also_counts_the_runs_of_the_presets_it_names(tmp_path: Path) -> None:
    """also_models: llmrec presets of the paper's model (BERT4Rec with its authors' Beauty values) stand
    for it; other labels still do not."""
    runs = tmp_path / "runs"
    for seed, value in enumerate((0.02, 0.04)):
        write_result(runs / f"loo_bert4rec_beauty_s{seed}", model="bert4rec_beauty", value=value, seed=seed)
    write_result(runs / "loo_sasrec_s0", model="sasrec", value=0.9)
    bert4rec = FIGURE | {"model": "bert4rec"}
    plain = write_ledger(_published(tmp_path / "plain.yaml", bert4rec), [runs], tmp_path / "plain.md")
    assert "| beauty | bert4rec | ndcg_10 | Someone 2023 | 0.0511 | loo | no run | as left |" in plain
    named = _published(tmp_path / "named.yaml", bert4rec | {"also_models": ["bert4rec_beauty"]})
    markdown = write_ledger(named, [runs], tmp_path / "named.md")
    assert "| loo | 0.0300 ± 0.0141 (2) | as left |" in markdown
    assert "model `bert4rec_beauty`" in markdown


def test_a_run_on_another_backbone_is_named_in_its_cell(tmp_path: Path) -> None:
    """A figure of a LLaMA-2-7B model that counts runs on a tiny random LLaMA says so in the table row, not
    only in the section below it; a preset on the same backbone is not named."""
    runs = tmp_path / "runs"
    minilm = {"encoder": {"_target_": "llmrec.embeddings.encoders.minilm"}}
    tiny_llama = {
        "_target_": "llmrec.models.layers.llm.LLMSpec",
        "config": {"_target_": "x.LlamaConfig", "hidden_size": 64},
    }
    stand_in = "llmseqprompt[tiny-llama,random+minilm]"
    write_result(
        runs / "loo_tiny_s0",
        model="llmseqprompt",
        model_config={"llm": tiny_llama, "embeddings": minilm},
        value=0.02,
    )
    write_result(
        runs / "loo_preset_s0",
        model="llm2bert4rec_beauty",
        model_config={"item_embeddings": minilm},
        value=0.03,
    )
    figures = [
        FIGURE | {"model": "llmseqprompt[llama-2-7b-hf+minilm]", "also_models": [stand_in]},
        FIGURE | {"model": "llm2bert4rec[minilm]", "also_models": ["llm2bert4rec_beauty[minilm]"]},
    ]
    markdown = write_ledger(_published(tmp_path / "p.yaml", *figures), [runs], tmp_path / "l.md")
    assert f"| loo | 0.0200 (1) on `{stand_in}` | as left |" in markdown
    assert "| loo | 0.0300 (1) | as left |" in markdown


@pytest.mark.parametrize("also", ["bert4rec_beauty", [""], [3]])
def test_also_models_must_be_a_list_of_labels(tmp_path: Path, also: object) -> None:
    path = _published(tmp_path / "p.yaml", FIGURE | {"also_models": also})
    with pytest.raises(LlmrecError, match="also_models must be a list"):
        load_published(path)


def test_a_setting_that_follows_the_seed_does_not_split_the_seeds() -> None:
    summaries = {
        config_summary({"seed": seed, "model": {"name": "tiger", "init_seed": seed, "lr": 0.001}})
        for seed in (0, 1, 2)
    }
    assert summaries == {"lr=0.001"}
    fixed = config_summary({"seed": 1, "model": {"name": "tiger", "init_seed": 7, "lr": 0.001}})
    assert fixed == "init_seed=7, lr=0.001"


def test_a_run_saved_before_a_setting_existed_groups_with_its_default() -> None:
    old = {"seed": 1, "model": {"name": "llmseqprompt", "num_beams": 5}}
    decode = {"decoding": "beam", "temperature": 0.5, "top_p": 1.0, "sample_seed": 2}
    new = {"seed": 2, "model": {"name": "llmseqprompt", "num_beams": 5} | decode}
    assert config_summary(old) == config_summary(new)
    sampled = {"seed": 2, "model": new["model"] | {"decoding": "sample"}}
    assert config_summary(sampled) != config_summary(new)


def test_the_added_settings_are_the_models_defaults() -> None:
    parameters = inspect.signature(LLMSeqPrompt.__init__).parameters
    added = ADDED_LATER["llmseqprompt"]
    assert {key: parameters[key].default for key in added} == added
