"""E4SRec's extensibility (Li et al., arXiv 2312.02443): items added to the catalog get ID embeddings and
output rows without retraining the LLM or the adapter.

1. ID rows (:func:`extend_sasrec_items`): the stage-1 SASRec's item table grows by one row per new item
   and only those rows train, on sequences that contain the new items; every other SASRec weight and every
   old row stays as it was, so the ID embeddings E4SRec was trained on do not move.
2. Output rows (:func:`add_items`): a ridge regression fitted on the known items maps an item's ID
   embedding to its row of E4SRec's item projection; a new item's row is that map applied to its new ID
   embedding. The backbone, the LoRA adapter and the input projection are untouched, and the old items'
   scores do not change.

Departures from the paper: the paper claims extensibility through the ID embeddings without a procedure
for the output layer (its ``Linear(hidden, N)`` has no row for an unseen item); the ridge map and the
new-rows-only SASRec training are this framework's choices.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from llmrec.data.batch import SeqBatch
from llmrec.errors import ConfigError
from llmrec.models.e4srec.model import E4SRec
from llmrec.models.sasrec import SASRec


def extend_sasrec_items(
    sasrec: SASRec,
    num_new: int,
    windows: Tensor,
    epochs: int = 30,
    lr: float = 1e-2,
    batch_size: int = 128,
) -> Tensor:
    """Give ``sasrec`` (in place) ``num_new`` items with ids N+1..N+M and train only their rows on
    ``windows`` (W, L+1), left-padded training windows that mention them. Returns the (N+M+1, d) table."""
    if num_new <= 0:
        raise ConfigError(f"num_new must be a positive number of new items, got {num_new}")
    old = sasrec.encoder.item_emb.weight.detach()  # (N+1, d)
    known = old.shape[0]
    if int(windows.max()) > known - 1 + num_new:
        raise ConfigError(f"windows name item {int(windows.max())}, beyond the {known - 1 + num_new} items")
    table = nn.Embedding(known + num_new, old.shape[1], padding_idx=0).to(old.device)
    with torch.no_grad():
        table.weight[:known] = old
        table.weight[known:] = torch.randn(num_new, old.shape[1], device=old.device) * old[1:].std()
    keep_old = torch.zeros(known + num_new, 1, device=old.device)
    keep_old[known:] = 1
    table.weight.register_hook(lambda grad: grad * keep_old)  # only the new rows learn
    for parameter in sasrec.parameters():
        parameter.requires_grad_(False)
    sasrec.encoder.item_emb, sasrec.num_items = table, sasrec.num_items + num_new
    optimizer = torch.optim.Adam([table.weight], lr=lr)
    sasrec.train()
    for _ in range(epochs):
        for batch in windows[torch.randperm(len(windows))].split(batch_size):
            optimizer.zero_grad()
            sasrec.loss(SeqBatch(items=batch.to(old.device))).backward()
            optimizer.step()
    sasrec.eval()
    return table.weight.detach().clone()


def ridge_map(inputs: Tensor, targets: Tensor, ridge: float) -> Tensor:
    """(d+1, h): the least-squares map with bias from ``inputs`` (n, d) to ``targets`` (n, h), with an
    L2 penalty ``ridge`` on the weights (not the bias)."""
    design = torch.cat([inputs, inputs.new_ones(len(inputs), 1)], dim=1)  # (n, d+1)
    penalty = ridge * torch.eye(design.shape[1], dtype=design.dtype, device=design.device)
    penalty[-1, -1] = 0
    return torch.linalg.solve(design.T @ design + penalty, design.T @ targets)


@torch.no_grad()
def add_items(model: E4SRec, new_id_rows: Tensor, ridge: float = 1.0) -> None:
    """Append items N+1..N+M to ``model`` (configured): their ID rows (M, d), and item-projection rows
    predicted from them by a ridge map fitted on the known items. Nothing else changes."""
    if model.item_proj is None:
        raise RuntimeError("call configure_model() before adding items")
    if new_id_rows.ndim != 2 or new_id_rows.shape[1] != model.id_table.shape[1]:
        raise ConfigError(
            f"new ID rows must be (M, {model.id_table.shape[1]}), got {tuple(new_id_rows.shape)}"
        )
    old_rows = model.item_proj.weight  # (N+1, H)
    new_ids = new_id_rows.to(model.id_table)
    mapping = ridge_map(model.id_table[1:].double(), old_rows[1:].double(), ridge)  # (d+1, H)
    new_rows = torch.cat([new_ids.double(), new_ids.new_ones(len(new_ids), 1).double()], dim=1) @ mapping
    projection = nn.Linear(old_rows.shape[1], old_rows.shape[0] + len(new_ids), bias=False)
    projection.weight.copy_(torch.cat([old_rows, new_rows.to(old_rows)]))
    model.item_proj = projection.to(old_rows.device)
    model.id_table = torch.cat([model.id_table, new_ids])
    model.num_items += len(new_ids)
