"""E4SRec: the pluggable part is all that trains and all that is saved, scores for every item in one
forward, left padding and truncation, stage 1 through the framework, and its bad inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from llmrec.data.batch import SeqBatch
from llmrec.errors import ConfigError
from llmrec.models.e4srec.model import E4SRec, transformer_body
from llmrec.run.pipeline import build_model, run
from tests.conftest import compose_config

ROOT = Path(__file__).resolve().parents[1]
NUM_ITEMS, MAX_LEN = 20, 6
PLUGGABLE = ("input_proj.", "item_proj.", "lora_")


def make(tmp_path: Path, *overrides: str, seed: int = 0) -> E4SRec:
    torch.manual_seed(seed)
    cfg = compose_config(["model=e4srec", "debug=tiny", *overrides], tmp_path)
    net = build_model(cfg, NUM_ITEMS, MAX_LEN)
    net.configure_model()
    return net.eval()


def sasrec_checkpoint(path: Path, num_items: int, dataset: str = "tiny-abc", dim: int = 64) -> Path:
    state = {"encoder.item_emb.weight": torch.randn(num_items + 1, dim)}
    torch.save({"state_dict": state, "llmrec": {"dataset": dataset}}, path)
    return path


SEQS = torch.tensor([[0, 0, 3, 5, 7, 9], [1, 2, 3, 4, 5, 6], [0, 0, 0, 0, 0, 11]])


def test_only_the_pluggable_part_has_gradients(tmp_path: Path) -> None:
    net = make(tmp_path).train()
    net.loss(SeqBatch(items=torch.cat([SEQS, torch.tensor([[4], [8], [12]])], dim=1))).backward()
    trainable = {name for name, p in net.named_parameters() if p.requires_grad}
    assert trainable and all(any(part in name for part in PLUGGABLE) for name in trainable)
    assert {"input_proj.weight", "item_proj.weight"} <= trainable
    assert all(p.grad is None for p in net.parameters() if not p.requires_grad)
    assert net.item_proj is not None and net.item_proj.weight.grad.abs().sum() > 0


def test_a_training_step_leaves_the_backbone_unchanged(tmp_path: Path) -> None:
    net = make(tmp_path).train()
    frozen = {k: v.clone() for k, v in net.state_dict().items() if not any(p in k for p in PLUGGABLE)}
    before = net.input_proj.weight.detach().clone()
    optimizer = net.configure_optimizers()
    for _ in range(2):  # LoRA's B starts at zero: the second step moves every adapter
        optimizer.zero_grad()
        net.loss(SeqBatch(items=torch.cat([SEQS, torch.tensor([[4], [8], [12]])], dim=1))).backward()
        optimizer.step()
    after = net.state_dict()
    assert all(torch.equal(value, after[key]) for key, value in frozen.items())
    assert not torch.equal(before, net.input_proj.weight)


def examples(histories: torch.Tensor, targets: torch.Tensor) -> set[tuple[tuple[int, ...], int]]:
    return {(tuple(int(i) for i in h if i != 0), int(t)) for h, t in zip(histories, targets, strict=True)}


def test_every_position_with_a_history_is_a_training_target(tmp_path: Path) -> None:
    net = make(tmp_path)
    windows = torch.tensor([[0, 0, 3, 5, 7, 9], [1, 2, 3, 4, 5, 6]])
    histories, targets = net.training_examples(windows)
    expected = {((3,), 5), ((3, 5), 7), ((3, 5, 7), 9)}
    expected |= {(tuple(range(1, t)), t) for t in range(2, 7)}
    found = examples(*net.training_examples(windows))
    assert found == expected and len(net.training_examples(windows)[1]) == len(expected)
    net.targets_per_window = 2
    histories, targets = net.training_examples(windows)
    assert len(targets) == 4 and examples(histories, targets) <= expected
    net.targets_per_window, net.max_examples_per_batch = None, 3
    histories, targets = net.training_examples(windows)
    assert len(targets) == 3 and examples(histories, targets) <= expected


def test_all_items_are_scored_in_one_backbone_forward(tmp_path: Path) -> None:
    net = make(tmp_path)
    calls: list[int] = []
    transformer_body(net.backbone).register_forward_hook(lambda *_: calls.append(1))
    with torch.no_grad():
        scores = net(SEQS)
    assert scores.shape == (3, NUM_ITEMS + 1) and len(calls) == 1


def test_left_padding_and_truncation_do_not_change_scores(tmp_path: Path) -> None:
    net = make(tmp_path)
    with torch.no_grad():
        alone = net(torch.tensor([[3, 5, 7]]))
        padded = net(torch.tensor([[0, 0, 0, 0, 3, 5, 7]]))
        in_batch = net(torch.tensor([[0, 0, 0, 3, 5, 7], [1, 2, 3, 4, 5, 6]]))[:1]
        long = net(torch.tensor([[9, 9, 9, 1, 2, 3, 4, 5, 6]]))  # only the last max_len items count
        last = net(torch.tensor([[1, 2, 3, 4, 5, 6]]))
    torch.testing.assert_close(alone, padded)
    torch.testing.assert_close(alone, in_batch)
    torch.testing.assert_close(long, last)


def test_saved_pluggable_part_reloads_to_identical_scores(tmp_path: Path) -> None:
    net = make(tmp_path, seed=0)
    with torch.no_grad():  # a trained-looking part: LoRA's B is zero at init
        for p in net.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))
    path = tmp_path / "e4srec.pt"
    net.save_pluggable(path)
    saved = torch.load(path, weights_only=True)
    assert all(any(p in k for p in PLUGGABLE) or k == "id_table" for k in saved)
    assert path.stat().st_size < 1_000_000
    fresh = make(tmp_path, seed=123)
    fresh.load_pluggable(path)
    with torch.no_grad():
        assert torch.equal(net(SEQS), fresh(SEQS))


@pytest.mark.slow
def test_saved_pluggable_part_reloads_in_a_fresh_process(tmp_path: Path) -> None:
    net = make(tmp_path, seed=0)
    with torch.no_grad():
        for p in net.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))
        net.save_pluggable(tmp_path / "e4srec.pt")
        torch.save(net(SEQS), tmp_path / "scores.pt")
    script = (
        "import sys, torch; from pathlib import Path; tmp = Path(sys.argv[1]);"
        "from tests.test_e4srec import make, SEQS;"
        "net = make(tmp, seed=7); net.load_pluggable(tmp / 'e4srec.pt'); torch.set_grad_enabled(False);"
        "assert torch.equal(net(SEQS), torch.load(tmp / 'scores.pt')), 'scores differ'"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.bad_input
def test_a_projection_for_another_hidden_size_is_one_clear_error(tmp_path: Path) -> None:
    net = make(tmp_path)
    net.save_pluggable(tmp_path / "e4srec.pt")
    wider = make(tmp_path, "model.llm.config.hidden_size=32")
    with pytest.raises(ConfigError, match=r"hidden size 64.*has 32"):
        wider.load_pluggable(tmp_path / "e4srec.pt")


@pytest.mark.bad_input
def test_lora_targets_the_backbone_lacks_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\['w_gate'\] are not modules"):
        make(tmp_path, "model.llm.lora.target_modules=[w_gate]")


@pytest.mark.bad_input
def test_a_sasrec_checkpoint_with_another_item_count_is_one_clear_error(tmp_path: Path) -> None:
    ckpt = sasrec_checkpoint(tmp_path / "sasrec.ckpt", NUM_ITEMS + 5)
    with pytest.raises(ConfigError, match=f"has {NUM_ITEMS + 5} items, this dataset has {NUM_ITEMS}"):
        make(tmp_path, f"model.id_embeddings={ckpt}")


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("target", "expected"),
    [("missing.ckpt", "does not exist"), ("empty_dir", "folder without a SASRec checkpoint")],
)
def test_a_missing_sasrec_checkpoint_is_one_clear_error(tmp_path: Path, target: str, expected: str) -> None:
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(ConfigError, match=expected):
        make(tmp_path, f"model.id_embeddings={tmp_path / target}")


@pytest.mark.bad_input
def test_a_sasrec_checkpoint_of_another_dataset_stops_the_run(tmp_path: Path) -> None:
    cfg = compose_config(["model=e4srec", "debug=tiny"], tmp_path)
    ckpt = sasrec_checkpoint(tmp_path / "sasrec.ckpt", 40, dataset="beauty-123")
    cfg.model.id_embeddings = str(ckpt)
    with pytest.raises(ConfigError, match="trained on dataset beauty-123"):
        run(cfg, tmp_path / "run")


def test_loaded_sasrec_table_is_the_frozen_id_table(tmp_path: Path) -> None:
    ckpt = sasrec_checkpoint(tmp_path / "sasrec.ckpt", NUM_ITEMS)
    net = make(tmp_path, f"model.id_embeddings={ckpt}")
    table = torch.load(ckpt, weights_only=True)["state_dict"]["encoder.item_emb.weight"]
    assert torch.equal(net.id_table, table)
    assert "id_table" not in dict(net.named_parameters())


def test_run_trains_sasrec_first_and_checkpoints_only_the_pluggable_part(tmp_path: Path) -> None:
    cfg = compose_config(
        ["model=e4srec", "debug=tiny", "trainer.max_epochs=1", "+trainer.limit_train_batches=2"], tmp_path
    )
    results = run(cfg, tmp_path / "run")
    assert 0 < results["budget"]["spent"]["loss_targets"] <= results["budget"]["spent"]["examples"]
    stage1 = json.loads((tmp_path / "run" / "stage1.json").read_text())
    assert Path(stage1["id_embeddings"]).is_file() and "val" in stage1["metrics"]
    assert (stage1["seed"], stage1["select"], Path(stage1["run_dir"]).name) == (0, "best", "stage1_sasrec_s0")
    assert results["config"]["model"]["id_embeddings"] == stage1["id_embeddings"]
    assert results["metrics"]["test"]["ndcg_10"] >= 0
    state = torch.load(results["best_checkpoint"], weights_only=True)["state_dict"]
    assert state and all(any(p in k for p in PLUGGABLE) or k == "id_table" for k in state)
    assert results["parameters"]["trainable"] < results["parameters"]["total"]


@pytest.mark.slow
def test_the_headline_command_runs_end_to_end(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HYDRA_FULL_ERROR": "0"}
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "llmrec", "model=e4srec", "debug=tiny", f"hydra.run.dir={out}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "E4SRec backbone: random LlamaConfig" in (out / "llmrec.log").read_text()
    results = json.loads((out / "results.json").read_text())
    assert results["model"] == "e4srec" and (out / "stage1_sasrec_s0" / "results.json").is_file()


@pytest.mark.bad_input
def test_a_named_backbone_that_is_not_on_disk_says_where_to_put_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"LLM weights not found at .*Llama-2-13b-hf"):
        make(tmp_path, "llm@model.llm=llama2_13b", f"paths.data_dir={tmp_path}")


def test_the_minilm_backbone_scores_every_item_and_ignores_padding(tmp_path: Path) -> None:
    net = make(tmp_path, "llm@model.llm=minilm")
    assert net.spec.pretrained and type(transformer_body(net.backbone)).__name__ == "BertModel"
    with torch.no_grad():
        torch.testing.assert_close(net(torch.tensor([[3, 5, 7]])), net(torch.tensor([[0, 0, 3, 5, 7]])))


@pytest.mark.bad_input
@pytest.mark.parametrize(
    "override", ["model.id_dim=0", "model.targets_per_window=-1", "model.max_examples_per_batch=0"]
)
def test_impossible_sizes_are_one_clear_error(tmp_path: Path, override: str) -> None:
    with pytest.raises(ConfigError, match=f"{override.split('=')[0]} must be a positive integer"):
        make(tmp_path, override)


def test_the_official_prompt_has_no_beginning_of_sequence_token(tmp_path: Path) -> None:
    plain = make(tmp_path)
    official = make(tmp_path, "model.prompt_bos=false")
    assert plain.prefix_ids[0] == plain.tokenizer.bos_id
    assert official.prefix_ids.tolist() == plain.prefix_ids[1:].tolist()
    assert official.tokenizer.bos_id not in official.prefix_ids.tolist()


def test_item_projection_can_start_from_the_projected_id_table(tmp_path: Path) -> None:
    net = make(tmp_path, "model.item_proj_init=id_table")
    assert net.item_proj is not None and net.input_proj is not None
    expected = net.id_table @ net.input_proj.weight.T  # row i: item i's ID embedding in the hidden space
    assert torch.allclose(net.item_proj.weight, expected)
    hidden = net.last_hidden(SEQS)
    assert torch.allclose(net(SEQS), hidden @ expected.T, atol=1e-5)
    official = make(tmp_path)
    assert not torch.allclose(official.item_proj.weight, official.id_table @ official.input_proj.weight.T)


def test_a_trainable_id_table_learns_and_is_saved(tmp_path: Path) -> None:
    ckpt = sasrec_checkpoint(tmp_path / "sasrec.ckpt", NUM_ITEMS)
    net = make(tmp_path, f"model.id_embeddings={ckpt}", "model.train_id_table=true").train()
    net.loss(SeqBatch(items=torch.cat([SEQS, torch.tensor([[4], [8], [12]])], dim=1))).backward()
    table = dict(net.named_parameters())["id_table"]
    assert table.grad is not None and table.grad[3].abs().sum() > 0 and table.grad[0].abs().sum() == 0
    assert "id_table" in net.pluggable_state()


@pytest.mark.bad_input
def test_an_unknown_item_projection_start_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"model\.item_proj_init='tied': choose one of"):
        make(tmp_path, "model.item_proj_init=tied")
