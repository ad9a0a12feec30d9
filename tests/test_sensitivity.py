"""Protocol sensitivity (python -m llmrec.report.sensitivity) on hand-made results.json files: per-protocol
means and rankings, Kendall's tau against hand computations, swapped pairs, ties, missing models, several
datasets, bad input; and the multirun preset that runs it."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from llmrec.errors import LlmrecError
from llmrec.report.rankings import kendall_tau, protocol_name, rank_models, sensitivity_tables, swapped_pairs
from llmrec.report.runs import collect
from llmrec.report.sensitivity import main, write_sensitivity
from tests.conftest import CONF_DIR
from tests.run_records import write_grid, write_result

# loo: a > b > c > d; sampled swaps b and c; user_holdout reverses everything.
MEANS = {
    "loo": {"a": 0.40, "b": 0.30, "c": 0.20, "d": 0.10},
    "sampled": {"a": 0.90, "b": 0.70, "c": 0.80, "d": 0.60},
    "user_holdout": {"a": 0.20, "b": 0.30, "c": 0.40, "d": 0.50},
}


def _tables(root: Path, metric: str = "ndcg_10"):
    return sensitivity_tables(collect(root)[0], metric)


def test_cells_are_mean_and_sample_std_over_seeds(tmp_path: Path) -> None:
    (table,) = _tables(write_grid(tmp_path, MEANS))
    cell = table.cells[("b", "sampled")]
    assert cell.seeds == 2
    assert cell.mean == pytest.approx(0.70)
    assert cell.std == pytest.approx(0.01 * math.sqrt(2))  # values 0.69 and 0.71
    assert table.protocols == ("loo", "sampled", "user_holdout")  # the fixed protocol order, not alphabetical


def test_rankings_tau_and_swaps_against_hand_computation(tmp_path: Path) -> None:
    (table,) = _tables(write_grid(tmp_path, MEANS))
    assert table.ranks["loo"] == {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}
    assert table.ranks["sampled"] == {"a": 1.0, "c": 2.0, "b": 3.0, "d": 4.0}
    pairs = {(p.first, p.second): p for p in table.pairs}
    # 6 pairs; loo vs sampled: only (b, c) discordant -> (5 - 1) / 6
    assert pairs[("loo", "sampled")].tau == pytest.approx(4 / 6)
    assert pairs[("loo", "sampled")].swapped == (("b", "c"),)
    # a full reversal: every pair discordant, tau -1, all six pairs listed with the loo leader first
    assert pairs[("loo", "user_holdout")].tau == pytest.approx(-1.0)
    assert len(pairs[("loo", "user_holdout")].swapped) == 6
    assert ("a", "d") in pairs[("loo", "user_holdout")].swapped
    # sampled (a > c > b > d) vs user_holdout (d > c > b > a): concordant only (c, b): (1 - 5) / 6
    assert pairs[("sampled", "user_holdout")].tau == pytest.approx(-4 / 6)


def test_ties_share_a_rank_tau_b_and_no_swap() -> None:
    first = {"a": 0.4, "b": 0.3, "c": 0.2, "d": 0.1}
    tied = {"a": 0.4, "b": 0.25, "c": 0.25, "d": 0.1}
    assert rank_models(tied) == {"a": 1.0, "b": 2.5, "c": 2.5, "d": 4.0}
    # tau-b: 5 concordant, 0 discordant, one pair tied in the second ranking only: 5 / sqrt(5 * 6)
    assert kendall_tau(first, tied) == pytest.approx(5 / math.sqrt(30))
    assert swapped_pairs(first, tied) == ()
    assert math.isnan(kendall_tau({"a": 0.1}, {"a": 0.2}))  # one model: nothing to correlate


def test_a_model_missing_under_one_protocol_is_shown_and_not_ranked(tmp_path: Path) -> None:
    write_grid(tmp_path, MEANS)
    write_result(tmp_path / "loo_e", model="e", value=0.9, protocol="loo")
    (table,) = _tables(tmp_path)
    assert table.models == ("a", "b", "c", "d", "e") and table.shared == ("a", "b", "c", "d")
    assert "e" not in table.ranks["loo"]  # else it would lead loo and shift every rank there
    markdown = write_sensitivity([tmp_path], tmp_path)
    assert "| e | 0.9000 (1) | missing | missing |" in markdown
    assert "e is not ranked: no run under sampled, user_holdout." in markdown
    assert "| loo | a > b > c > d |" in markdown
    assert "| loo vs sampled | +0.667 | b > c |" in markdown


def test_files_written_and_ties_marked_in_the_ranking(tmp_path: Path) -> None:
    write_grid(tmp_path, {"loo": {"a": 0.4, "b": 0.3, "c": 0.3}, "sampled": {"a": 0.5, "b": 0.6, "c": 0.7}})
    markdown = write_sensitivity([tmp_path], tmp_path / "out")
    assert "| loo | a > b = c |" in markdown
    assert (tmp_path / "out" / "sensitivity.md").read_text(encoding="utf-8") == markdown
    rows = list(csv.DictReader((tmp_path / "out" / "sensitivity.csv").open(encoding="utf-8")))
    assert {(r["model"], r["protocol"]): r["rank"] for r in rows}[("b", "loo")] == "2.5"
    (pair,) = csv.DictReader((tmp_path / "out" / "sensitivity_pairs.csv").open(encoding="utf-8"))
    # loo (a, b=c) vs sampled (c > b > a): pairs with a are discordant, (b, c) tied in loo only
    assert float(pair["kendall_tau"]) == pytest.approx(-2 / math.sqrt(2 * 3))
    assert pair["swapped"] == "a > b; a > c"


def test_one_table_per_dataset(tmp_path: Path) -> None:
    write_grid(tmp_path / "beauty", MEANS)
    write_grid(tmp_path / "ml100k", {"loo": {"a": 0.1, "b": 0.2}}, dataset="ml100k")
    tables = _tables(tmp_path)
    assert [t.dataset for t in tables] == ["beauty", "ml100k"]
    markdown = write_sensitivity([tmp_path / "beauty", tmp_path / "ml100k"], tmp_path)
    assert "## beauty" in markdown and "## ml100k" in markdown
    assert "One protocol only: nothing to compare rankings with." in markdown


def test_results_without_a_protocol_key_read_as_loo_or_loo_unmasked(tmp_path: Path) -> None:
    write_result(tmp_path / "old_masked", model="a", value=0.1, protocol=None)
    write_result(tmp_path / "old_unmasked", model="a", value=0.2, protocol=None, mask_history=False, seed=1)
    protocols = sorted(protocol_name(r) for r in collect(tmp_path)[0])
    assert protocols == ["loo", "loo_unmasked"]


def test_bad_input_is_one_clear_error(tmp_path: Path) -> None:
    write_grid(tmp_path / "one", {"loo": {"a": 0.1}})
    with pytest.raises(LlmrecError, match="no test metric 'hr_99'"):
        _tables(tmp_path / "one", metric="hr_99")
    write_grid(tmp_path / "two", {"loo": {"a": 0.1}})
    with pytest.raises(LlmrecError, match="two runs of a under protocol loo with seed 0"):
        sensitivity_tables([*collect(tmp_path / "one")[0], *collect(tmp_path / "two")[0]], "ndcg_10")
    write_result(tmp_path / "three" / "x", model="a", value=0.1, samples="tiled")
    write_result(tmp_path / "three" / "y", model="b", value=0.1, samples="prefixes")
    with pytest.raises(LlmrecError, match="different sample schemas"):
        _tables(tmp_path / "three")
    write_result(tmp_path / "four" / "x", model="a", value=0.1, protocol="sampled")
    write_result(
        tmp_path / "four" / "y", model="b", value=0.1, protocol="sampled", protocol_settings={"seed": 1}
    )
    with pytest.raises(LlmrecError, match="under protocol sampled differ in its settings"):
        _tables(tmp_path / "four")


def test_cli_prints_the_table_and_reports_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_grid(tmp_path, MEANS)
    assert main([str(tmp_path), "--metric", "ndcg_10"]) == 0
    assert "# Protocol sensitivity: test ndcg_10" in capsys.readouterr().out
    assert (tmp_path / "sensitivity.csv").exists()
    assert main([str(tmp_path / "nowhere")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_the_report_modules_import_no_torch() -> None:
    code = (
        "import sys, llmrec.report.sensitivity, llmrec.report.ledger; "
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('llmrec.evaluation')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_preset_sweeps_models_protocols_and_seeds_and_ends_with_the_table() -> None:
    preset = OmegaConf.load(CONF_DIR / "experiment" / "protocol_sensitivity.yaml")
    params = preset.hydra.sweeper.params
    assert str(params.protocol).split(",") == ["loo", "loo_unmasked", "sampled", "user_holdout"]
    assert str(params.model).split(",") == ["sasrec", "bert4rec", "llmseqsim"]
    assert len(str(params.seed).split(",")) == 3
    assert (
        preset.hydra.callbacks.sensitivity._target_
        == "llmrec.run.sensitivity_callback.SensitivityOnMultirunEnd"
    )
    raw = OmegaConf.to_container(preset, resolve=False)
    assert "${protocol.name}" in raw["hydra"]["sweep"]["subdir"]  # two sweeps into one folder never collide
    assert preset.trainer.max_time is None and preset.trainer.max_epochs == 100  # compute, not a clock


def test_failed_jobs_are_listed(tmp_path: Path) -> None:
    write_grid(tmp_path / "sweep", {"loo": {"a": 0.1, "b": 0.2}})
    broken = tmp_path / "sweep" / "3_user_holdout_a_s0"
    broken.mkdir()
    (broken / "failed.json").write_text('{"status": "failed", "error": "no timestamps"}', encoding="utf-8")
    markdown = write_sensitivity([tmp_path / "sweep"], tmp_path)
    assert "1 failed job(s), not in the tables:\n- sweep/3_user_holdout_a_s0: no timestamps\n" in markdown


def test_runs_that_did_not_converge_are_counted_in_their_cell(tmp_path: Path) -> None:
    write_result(tmp_path / "s0", model="a", value=0.1, seed=0, converged=False)
    write_result(tmp_path / "s1", model="a", value=0.2, seed=1, converged=None)  # unknown is not "no"
    markdown = write_sensitivity([tmp_path], tmp_path)
    assert "| a | 0.1500 ± 0.0707 (2; 1 not converged) |" in markdown
    (row,) = csv.DictReader((tmp_path / "sensitivity.csv").open(encoding="utf-8"))
    assert row["unconverged"] == "1"
