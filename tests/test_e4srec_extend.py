"""E4SRec's new-item path on a split where some items appear only after training: new ID rows from a
SASRec whose old rows stay fixed, output rows from a ridge map; the LLM and adapter are not retrained."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor
from transformers import LlamaConfig

from llmrec.data.batch import SeqBatch
from llmrec.errors import ConfigError
from llmrec.models.e4srec.extend import add_items, extend_sasrec_items, ridge_map
from llmrec.models.e4srec.model import E4SRec
from llmrec.models.layers.llm import LLMSpec, LoraSpec
from llmrec.models.sasrec import SASRec

TOPICS, OLD_PER_TOPIC, NEW_PER_TOPIC, LENGTH = 4, 8, 2, 8
OLD = TOPICS * OLD_PER_TOPIC  # items 1..32; new items 33..40, two per topic


def old_item(topic: Tensor, generator: torch.Generator) -> Tensor:
    return 1 + topic * OLD_PER_TOPIC + torch.randint(0, OLD_PER_TOPIC, topic.shape, generator=generator)


def new_item(topic: Tensor, generator: torch.Generator) -> Tensor:
    return 1 + OLD + topic * NEW_PER_TOPIC + torch.randint(0, NEW_PER_TOPIC, topic.shape, generator=generator)


def topic_sequences(users: int, new_share: float, seed: int) -> tuple[Tensor, Tensor]:
    """(users, LENGTH) sequences that stay in one topic, each position a new item with ``new_share``."""
    generator = torch.Generator().manual_seed(seed)
    topic = torch.randint(0, TOPICS, (users, 1), generator=generator).expand(-1, LENGTH)
    is_new = torch.rand(users, LENGTH, generator=generator) < new_share
    return torch.where(is_new, new_item(topic, generator), old_item(topic, generator)), topic[:, 0]


def tiny_llama(hidden: int) -> LlamaConfig:
    return LlamaConfig(
        hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=1, num_attention_heads=2
    )


def train(module: torch.nn.Module, windows: Tensor, epochs: int, lr: float) -> None:
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=lr)
    module.train()
    for _ in range(epochs):
        for batch in windows[torch.randperm(len(windows))].split(64):
            optimizer.zero_grad()
            module.loss(SeqBatch(items=batch)).backward()
            optimizer.step()
    module.eval()


def test_ridge_map_recovers_a_linear_map() -> None:
    inputs = torch.randn(50, 3, dtype=torch.float64)
    true = torch.randn(3, 4, dtype=torch.float64)
    mapping = ridge_map(inputs, inputs @ true + 2.0, ridge=0.0)
    torch.testing.assert_close(mapping[:3], true)
    torch.testing.assert_close(mapping[3], torch.full((4,), 2.0, dtype=torch.float64))


def test_new_items_score_above_chance_without_retraining_the_llm(tmp_path: Path) -> None:
    torch.manual_seed(0)
    history, _ = topic_sequences(400, new_share=0.0, seed=1)  # training data: old items only
    sasrec = SASRec(OLD, LENGTH - 1, hidden=16, layers=1, heads=1, inner=32, dropout=0.1, attn_dropout=0.1)
    train(sasrec, history, epochs=20, lr=1e-2)
    torch.save({"state_dict": sasrec.state_dict()}, tmp_path / "sasrec.ckpt")

    llama = tiny_llama(32)
    lora = LoraSpec(["gate_proj", "up_proj", "down_proj"], r=4, alpha=8, dropout=0.0)
    net = E4SRec(OLD, LENGTH - 1, LLMSpec(config=llama, lora=lora), str(tmp_path / "sasrec.ckpt"), lr=5e-3)
    net.configure_model()
    train(net, history, epochs=12, lr=5e-3)
    frozen_and_adapter = {k: v.clone() for k, v in net.state_dict().items() if "item_proj" not in k}

    later, _ = topic_sequences(300, new_share=0.4, seed=2)  # new items enter the catalog
    table = extend_sasrec_items(sasrec, TOPICS * NEW_PER_TOPIC, later, epochs=25)
    test_history, test_topic = topic_sequences(200, new_share=0.0, seed=3)
    with torch.no_grad():
        before = net(test_history)
    add_items(net, table[OLD + 1 :], ridge=1.0)
    with torch.no_grad():
        scores = net(test_history)  # (U, 41)

    assert scores.shape == (200, OLD + TOPICS * NEW_PER_TOPIC + 1)
    torch.testing.assert_close(scores[:, : OLD + 1], before)  # old items keep their scores
    after = net.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in frozen_and_adapter.items() if k != "id_table")
    new_scores = scores[:, OLD + 1 :].view(200, TOPICS, NEW_PER_TOPIC).mean(dim=2)  # (U, topics)
    own = new_scores.gather(1, test_topic[:, None])  # (U, 1)
    others = (new_scores.sum(dim=1, keepdim=True) - own) / (TOPICS - 1)
    share = (own > others).float().mean().item()
    assert share > 0.75, f"own-topic new items beat other topics' for only {share:.2f} of users (chance 0.5)"


def test_new_id_rows_of_the_wrong_width_are_one_clear_error() -> None:
    llama = tiny_llama(16)
    lora = LoraSpec(["gate_proj"], r=2)
    net = E4SRec(10, 5, LLMSpec(config=llama, lora=lora), id_dim=8)
    net.configure_model()
    with pytest.raises(ConfigError, match=r"new ID rows must be \(M, 8\)"):
        add_items(net, torch.randn(3, 5))
