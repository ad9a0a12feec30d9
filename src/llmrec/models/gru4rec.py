"""GRU4Rec: Hidasi et al., "Session-based Recommendations with Recurrent Neural Networks", ICLR 2016, in
the setting that makes it competitive: cross-entropy over the whole catalog (Hidasi & Karatzoglou, CIKM
2018; Hidasi & Czapp, "The effect of third party implementations on reproducibility", RecSys 2023).

Departures from the paper (and from the authors' official code, hidasib/GRU4Rec):
- Trained on left-padded windows of each user's history, the loss at every position (as SASRec is, same
  ``samples`` schemas), not on session-parallel mini-batches carrying the hidden state across sessions.
  The window's left padding is invisible: each row is right-aligned before the GRU, so a position's state
  has seen only the real items up to it (a GRU is causal: padding after them changes nothing).
- Full-softmax cross-entropy over the catalog by default (``layers.losses.FullSoftmaxCE``); the paper's
  TOP1/BPR losses and the official code's BPR-max are not provided. ``layers.losses.SampledSoftmaxCE``
  (the official code's cross-entropy with sampled negatives and logQ) or ``SampledBCE`` are chosen by
  ``loss``.
- The item embedding is the output table (``tied_output``, the official code's ``constrained_embedding``,
  on by default) plus a per-item output bias as in the official code; ``tied_output: false`` gives a
  separate output table. The paper's one-hot input is not provided. Embeddings are initialised as
  SASRec's (normal, std 0.02), the GRU as PyTorch's, and AdamW replaces Adagrad.
- ``dropout`` acts on the input embeddings (``dropout_p_embed``), ``hidden_dropout`` on each GRU layer's
  output (``dropout_p_hidden``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from llmrec.data.batch import SeqBatch
from llmrec.models.base import SequentialRecommender, check_train_targets, next_item_positions
from llmrec.models.layers.dropout import Dropout
from llmrec.models.layers.encoder import check_sizes
from llmrec.models.layers.losses import FullSoftmaxCE, bind_loss_counts


def shift_rows(x: Tensor, shift: Tensor) -> Tensor:
    """Rotate each row of ``x`` (B, L, ...) left by ``shift`` (B,) positions along dimension 1."""
    length = x.shape[1]
    index = (torch.arange(length, device=x.device)[None, :] + shift[:, None]) % length  # (B, L)
    index = index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, index)


class GRUEncoder(nn.Module):
    """Item embeddings and a stack of GRU layers: (B, L) left-padded ids -> (B, L, D) states, zero at
    padding. Rows are right-aligned for the GRU and aligned back after, so left padding changes nothing."""

    def __init__(self, vocab_size: int, max_len: int, hidden: int, layers: int, dropout: float,
                 hidden_dropout: float) -> None:  # fmt: skip
        super().__init__()
        check_sizes(
            {"hidden": hidden, "layers": layers}, {"dropout": dropout, "hidden_dropout": hidden_dropout}
        )
        self.item_emb = nn.Embedding(vocab_size, hidden, padding_idx=0)
        nn.init.normal_(self.item_emb.weight, std=0.02)
        self.item_emb.weight.data[0].zero_()
        self.drop = Dropout(dropout)
        self.gru = nn.GRU(
            hidden, hidden, layers, batch_first=True, dropout=hidden_dropout if layers > 1 else 0.0
        )
        self.hidden_drop = Dropout(hidden_dropout)
        self.max_len = max_len

    def forward(self, item_seq: Tensor) -> Tensor:
        item_seq = item_seq[:, -self.max_len :]
        pad = item_seq == 0  # (B, L)
        padding = pad.sum(dim=1)  # (B,): left-padded, the first ``padding`` positions
        items = shift_rows(item_seq, padding)  # (B, L) right-padded: real items first
        states, _ = self.gru(self.drop(self.item_emb(items)))  # (B, L, D)
        states = shift_rows(self.hidden_drop(states), -padding)  # back to left-padded
        return states.masked_fill(pad[..., None], 0.0)


class GRU4Rec(SequentialRecommender):
    honours_new_targets = True

    def __init__(
        self,
        num_items: int,
        max_len: int,
        hidden: int = 64,
        layers: int = 1,
        dropout: float = 0.2,
        hidden_dropout: float = 0.2,
        tied_output: bool = True,
        output_bias: bool = True,
        loss: nn.Module | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        train_targets: str = "all",
    ) -> None:
        super().__init__(num_items, max_len, lr, weight_decay)
        self.last_target_only = check_train_targets(type(self).__name__, train_targets) == "last"
        self.encoder = GRUEncoder(num_items + 1, max_len, hidden, layers, dropout, hidden_dropout)
        self.output_emb = None
        if not tied_output:
            self.output_emb = nn.Embedding(num_items + 1, hidden, padding_idx=0)
            nn.init.normal_(self.output_emb.weight, std=0.02)
            self.output_emb.weight.data[0].zero_()
        self.bias = nn.Parameter(torch.zeros(num_items + 1)) if output_bias else None
        self.objective = loss if loss is not None else FullSoftmaxCE()

    def bind_data(self, item_counts: Tensor, item_text: list[str]) -> None:
        bind_loss_counts(self.objective, item_counts)

    def _output_table(self) -> Tensor:
        table = self.encoder.item_emb if self.output_emb is None else self.output_emb
        return table.weight  # (N+1, D)

    def forward(self, item_seq: Tensor) -> Tensor:
        h = self.encoder(item_seq)[:, -1]  # (B, D)
        scores = h @ self._output_table().T  # (B, N+1)
        return scores if self.bias is None else scores + self.bias

    def loss(self, batch: SeqBatch) -> Tensor:
        inputs, targets = batch.items[:, :-1], batch.items[:, 1:]  # (B, L) each
        h = self.encoder(inputs)  # (B, L, D)
        if self.last_target_only:  # one target per window (samples=prefixes)
            return self.objective(h[:, -1], targets[:, -1], self._output_table(), self.bias)
        train = next_item_positions(inputs, batch.new_targets)
        return self.objective(h[train], targets[train], self._output_table(), self.bias)
