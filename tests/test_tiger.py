"""TIGER (Rajput et al., NeurIPS 2023): constrained beam search, exact scoring against a brute-force
likelihood, history handling, the model contract with a deterministic tokenizer, and one pipeline run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import T5Config

from llmrec.data.batch import SeqBatch
from llmrec.errors import ConfigError
from llmrec.models.base import LOW_SCORE
from llmrec.models.tiger import TIGER
from llmrec.models.tiger.vocab import START
from llmrec.report.summary import write_report
from llmrec.run.pipeline import build_model, run
from tests.conftest import compose_config
from tests.digit_tokenizer import DigitTokenizer

NUM_ITEMS = 20  # of 27 code tuples (3 levels of 3 codes): the trie has to rule 7 out
DIGITS = ["~model.item_tokenizer", "+model.item_tokenizer={_target_:tests.digit_tokenizer.DigitTokenizer}"]
ROWS = torch.tensor([[0, 0, 3, 5, 7], [1, 2, 3, 4, 5], [9, 9, 9, 9, 9]])  # (B, L)


def make(num_beams: int = 20, cutoffs: tuple[int, ...] = (5, 10), **options: object) -> TIGER:
    torch.manual_seed(0)
    t5 = T5Config(d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4, dropout_rate=0.0)
    model = TIGER(
        NUM_ITEMS, 6, DigitTokenizer(), t5=t5, user_buckets=5, num_beams=num_beams, cutoffs=cutoffs, **options
    )
    model.bind_data(torch.ones(NUM_ITEMS + 1), [f"item {i}" for i in range(1, NUM_ITEMS + 1)])
    model.configure_model()
    return model.eval()


def brute_force(model: TIGER, rows: torch.Tensor) -> torch.Tensor:
    """(B, N) each item's log-likelihood from the Hugging Face forward pass on its whole code sequence."""
    states, mask = model.encode(rows)
    codes = model.item_codes[1:]  # (N, C)
    inputs = torch.cat([torch.full_like(codes[:, :1], START), model.vocab.code_tokens(codes)[:, :-1]], dim=1)
    out = []
    for b in range(rows.shape[0]):
        logits = model.t5(
            encoder_outputs=(states[b : b + 1].expand(NUM_ITEMS, -1, -1),),
            attention_mask=mask[b : b + 1].expand(NUM_ITEMS, -1),
            decoder_input_ids=inputs,
        ).logits  # (N, C, vocab)
        total = torch.zeros(NUM_ITEMS)
        for level, (offset, size) in enumerate(
            zip(model.vocab.offsets, model.vocab.level_sizes, strict=True)
        ):
            level_logits = logits[:, level, offset : offset + size].log_softmax(-1)
            total += level_logits.gather(1, codes[:, level : level + 1]).squeeze(1)
        out.append(total)
    return torch.stack(out)


@torch.no_grad()
def test_exact_scores_equal_the_brute_force_likelihood() -> None:
    model = make(decode="exact", exact_rows=7)  # several user chunks
    scores = model(ROWS)
    assert scores.shape == (3, NUM_ITEMS + 1) and torch.isneginf(scores[:, 0]).all()
    torch.testing.assert_close(scores[:, 1:], brute_force(model, ROWS), atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_beam_returns_distinct_catalog_items_outside_the_row() -> None:
    model = make(num_beams=8, cutoffs=(8,))
    states, mask = model.encode(ROWS)
    top, _ = model.beam_scores(ROWS, states, mask, model.excluded(ROWS, None))  # (B, 8)
    for row, items in zip(ROWS.tolist(), top.tolist(), strict=True):
        assert len(set(items)) == 8 and all(1 <= i <= NUM_ITEMS for i in items)
        assert not set(items) & set(row)


@torch.no_grad()
def test_a_beam_as_wide_as_the_catalog_finds_the_exact_top_k() -> None:
    model = make(num_beams=NUM_ITEMS, cutoffs=(NUM_ITEMS,))
    states, mask = model.encode(ROWS)
    excluded = model.excluded(ROWS, None)
    top, _ = model.beam_scores(ROWS, states, mask, excluded)
    exact = model.exact_scores(states, mask).masked_fill(excluded, float("-inf"))
    values, best = exact.topk(NUM_ITEMS, dim=1)
    assert top.tolist() == torch.where(torch.isfinite(values), best, 0).tolist()


@torch.no_grad()
def test_the_beam_skips_the_history_and_scores_the_items_read_at_their_likelihood() -> None:
    model = make(num_beams=10, cutoffs=(10,))
    favourite = int(model(torch.zeros(1, 0, dtype=torch.long))[0].argmax())  # best after no history
    row, seen = (
        torch.tensor([[0, 0, favourite]]),
        torch.tensor([[favourite, 1, 2]]),
    )  # seen: wider than the row
    states, mask = model.encode(row)
    top, scores = model.beam_scores(row, states, mask, model.excluded(row, seen))
    listed = top[0].tolist()
    assert len(set(listed)) == 10 and not set(listed) & {favourite, 1, 2}  # K items outside the history
    exact = model.exact_scores(states, mask)[0]
    torch.testing.assert_close(scores[0, [*listed, favourite]], exact[[*listed, favourite]])  # a repeat ranks
    assert all(scores[0, i] == LOW_SCORE for i in {1, 2} - {favourite})  # history not read: behind all


@torch.no_grad()
@pytest.mark.parametrize("decode", ["beam", "exact"])
def test_left_padding_and_users_change_scores_only_as_they_should(decode: str) -> None:
    model = make(decode=decode)
    short, padded = torch.tensor([[3, 5, 7]]), torch.tensor([[0, 0, 0, 3, 5, 7]])
    torch.testing.assert_close(model(short), model(padded))
    users = torch.tensor([1])
    torch.testing.assert_close(model(short, users), model(padded, users))
    if decode == "exact":  # a user token instead of the unknown user: other likelihoods
        assert not torch.allclose(model(short, users), model(short))


def test_loss_falls_on_a_learnable_pattern() -> None:
    model = make(train_targets="last").train()  # each window's last target: 20 examples a step
    windows = torch.stack([(torch.arange(7) + s) % NUM_ITEMS + 1 for s in range(NUM_ITEMS)])  # next = +1
    batch = SeqBatch(items=windows, users=torch.arange(NUM_ITEMS))
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-2)
    first = float(model.loss(batch).detach())
    for _ in range(30):
        optimizer.zero_grad()
        model.loss(batch).backward()
        optimizer.step()
    assert float(model.loss(batch).detach()) < 0.4 * first  # from above uniform (ln 3 a level) to well below


def test_beams_below_k_and_an_oversized_exact_catalog_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"num_beams=5 is below K=10.*model.num_beams>=10"):
        make(num_beams=5)
    with pytest.raises(ConfigError, match=r"exact_max_items=10.*model.decode=beam"):
        make(decode="exact", exact_max_items=10)
    with pytest.raises(ConfigError, match="exact_max_items=10"):
        make(compare_decodes=True, exact_max_items=10)
    make(exact_max_items=10)  # beam alone never holds the whole trie


def test_a_local_t5_folder_is_loaded_with_its_token_table_resized(tmp_path: Path) -> None:
    from transformers import T5ForConditionalGeneration

    torch.manual_seed(0)
    config = T5Config(d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=2, vocab_size=100)
    T5ForConditionalGeneration(config).save_pretrained(tmp_path / "t5")
    model = make(backbone=str(tmp_path / "t5"))
    assert model.t5.config.d_model == 16  # the folder's architecture, not model.t5's
    assert model.t5.get_input_embeddings().num_embeddings == model.vocab.size
    assert model.t5.config.decoder_start_token_id == START
    with torch.no_grad():
        assert torch.isfinite(model(ROWS)[:, 1:]).all()


# --- the model contract (tests/test_model_contract.py) with the digit tokenizer -------------------
def contract_model(tmp_path: Path, seed: int) -> TIGER:
    torch.manual_seed(seed)
    cfg = compose_config(["model=tiger", "debug=tiny", "encoder=hashing", *DIGITS], tmp_path)
    net = build_model(cfg, NUM_ITEMS, 6)
    net.bind_data(torch.ones(NUM_ITEMS + 1), [f"item {i}" for i in range(1, NUM_ITEMS + 1)])
    net.configure_model()
    return net.eval()


def test_the_model_contract_holds_with_a_tokenizer(tmp_path: Path) -> None:
    net = contract_model(tmp_path, seed=0)
    torch.manual_seed(1)
    windows = torch.randint(1, NUM_ITEMS + 1, (4, 7))
    windows[0, :3] = 0
    with torch.no_grad():
        scores = net(windows[:, :-1])
    assert scores.shape == (4, NUM_ITEMS + 1) and torch.isfinite(scores[:, 1:]).all()
    loss = net.train().loss(SeqBatch(items=windows))
    loss.backward()
    assert torch.isfinite(loss) and any(
        p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters()
    )
    path = tmp_path / "model.pt"
    torch.save(net.eval().state_dict(), path)
    fresh = contract_model(tmp_path, seed=123)
    fresh.load_state_dict(torch.load(path, weights_only=True))
    with torch.no_grad():
        torch.testing.assert_close(net(windows[:, :-1]), fresh(windows[:, :-1]))


def test_a_tiny_run_reports_the_beam_exact_gap(tmp_path: Path) -> None:
    overrides = ["model=tiger", "debug=tiny", "encoder=hashing", "logger=none", "trainer.max_epochs=1"]
    overrides += [*DIGITS, "+model.item_tokenizer.base=4", "model.compare_decodes=true"]
    results = run(compose_config(overrides, tmp_path), tmp_path / "out")
    test = results["metrics"]["test"]
    assert (tmp_path / "out" / "results.json").is_file() and 0.0 <= test["ndcg_10"] <= 1.0
    spent = results["budget"]["spent"]
    assert 0 < spent["loss_targets"] <= spent["examples"]  # full traversal, capped per batch
    assert 0.0 <= test["beam_exact_recall_at_k"] <= 1.0
    assert {"beam_ndcg_10", "exact_ndcg_10", "beam_hr_10", "exact_hr_10"} <= set(test)
    assert test["beam_ndcg_10"] == pytest.approx(test["ndcg_10"])  # decode=beam: the beam is what is ranked
    assert test["beam_hr_10"] <= test["exact_hr_10"] + 1e-6 or test["beam_exact_recall_at_k"] < 1.0
    report = write_report(tmp_path / "out")  # the report's table of the gap, from this results.json
    gap = report.split("Beam search against exact ranking")[1]
    assert f"{test['beam_exact_recall_at_k']:.4f}" in gap and f"{test['exact_ndcg_10']:.4f}" in gap


def test_a_batch_expands_to_at_most_max_examples_per_batch() -> None:
    model = make(max_examples_per_batch=3).train()
    encoded: list[int] = []
    encode = model.encode

    def counting(prefixes: torch.Tensor, users: torch.Tensor | None) -> object:
        encoded.append(len(prefixes))
        return encode(prefixes, users)

    model.encode = counting  # type: ignore[method-assign]
    windows = torch.tensor([[1, 2, 3, 4, 5, 6], [0, 0, 7, 8, 9, 10]])  # 5 + 3 targets
    assert torch.isfinite(model.loss(SeqBatch(items=windows)))
    assert sum(encoded) == 3
    with pytest.raises(ConfigError, match="max_examples_per_batch"):
        make(max_examples_per_batch=0)


def test_length_groups_give_the_loss_of_one_group_with_less_padding() -> None:
    windows = torch.tensor([[1, 2, 3, 4, 5, 6], [0, 0, 0, 0, 7, 8], [0, 0, 0, 9, 10, 11]])
    batch = SeqBatch(items=windows, users=torch.tensor([0, 1, 2]))
    one, grouped = make(length_groups=1), make(length_groups=3)
    widths: list[int] = []
    encode = grouped.encode

    def recording(prefixes: torch.Tensor, users: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        states, mask = encode(prefixes, users)
        widths.append(mask.shape[1])
        return states, mask

    grouped.encode = recording  # type: ignore[method-assign]
    torch.testing.assert_close(grouped.loss(batch), one.loss(batch))
    assert len(widths) == 3 and min(widths) < max(widths)  # the short histories' group is not padded
    with pytest.raises(ConfigError, match="length_groups"):
        make(length_groups=0)


def test_a_finished_run_is_re_evaluated_with_the_beam_exact_gap(tmp_path: Path) -> None:
    from llmrec.run.reevaluate import reevaluate

    overrides = ["model=tiger", "debug=tiny", "encoder=hashing", "logger=none", "trainer.max_epochs=1"]
    overrides += [*DIGITS, "+model.item_tokenizer.base=4"]
    trained = run(compose_config(overrides, tmp_path), tmp_path / "out")
    assert "beam_exact_recall_at_k" not in trained["metrics"]["test"]
    results, _ = reevaluate(tmp_path / "out", ["model.compare_decodes=true", "protocol.eval_users=5"])
    test = results["metrics"]["test"]
    assert 0.0 <= test["beam_exact_recall_at_k"] <= 1.0 and results["data"]["test_users"] == 5
    assert test["beam_ndcg_10"] == pytest.approx(test["ndcg_10"])  # still ranked by the beam
    with pytest.raises(ConfigError, match=r"model\.decode, model\.compare_decodes"):
        reevaluate(tmp_path / "out", ["model.lr=0.1"])
