"""A small transformer encoder over item sequences, causal (SASRec) or bidirectional (BERT4Rec): item and
position embeddings and ``layers`` blocks of a layout from :mod:`llmrec.models.layers.blocks`.

Attention masks combine key padding with (optionally) causality; every position may always attend to
itself, so an all-padding row never produces NaN from an empty softmax (:func:`attention_mask`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from llmrec.errors import ConfigError
from llmrec.models.layers.blocks import Block, BlockFactory, PostNormBlock
from llmrec.models.layers.dropout import Dropout
from llmrec.models.layers.feed_forward import FeedForwardFactory, GeluMLP
from llmrec.models.layers.transformer import attention_mask

POSITIONS = ("from_end", "from_start")


def check_sizes(sizes: dict[str, int], rates: dict[str, float]) -> None:
    """Positive sizes and dropout rates in [0, 1), named as the config keys ``model.<name>``."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"model.{name} must be a positive integer, got {value!r}")
    for name, value in rates.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
            raise ConfigError(f"model.{name} must be in [0, 1), got {value!r}")


def position_ids(pad: Tensor, max_len: int, from_start: bool) -> Tensor:
    """(B, L) or (L,) position ids of a left-padded (B, L) window whose padding is ``pad``: counted from
    the first real item (``from_start``) or so that the last item has position ``max_len - 1``."""
    length = pad.shape[1]
    if from_start:
        return ((~pad).cumsum(1) - 1).clamp(min=0)
    return torch.arange(max_len - length, max_len, device=pad.device)


class SequenceEncoder(nn.Module):
    """Item + position embeddings and a stack of ``layers`` blocks built by ``block``.

    ``positions="from_end"`` counts positions from the right end, so the most recent item always has the
    same position however much padding precedes it (Kang & McAuley's left-padded code). ``"from_start"``
    counts from the first real item of the window, as right-padded ports do (Klenitskiy & Vasilev's
    SASRec+, the published ML-1M full-ranking figure); left padding changes neither."""

    def __init__(
        self,
        vocab_size: int,
        max_len: int,
        hidden: int,
        layers: int,
        heads: int,
        inner: int,
        dropout: float,
        attn_dropout: float,
        causal: bool,
        block: BlockFactory = PostNormBlock,
        feed_forward: FeedForwardFactory = GeluMLP,
        positions: str = "from_end",
    ) -> None:
        super().__init__()
        if positions not in POSITIONS:
            raise ConfigError(f"model.positions must be one of {', '.join(POSITIONS)}; got {positions!r}")
        check_sizes(
            {"hidden": hidden, "layers": layers, "heads": heads, "inner": inner},
            {"dropout": dropout, "attn_dropout": attn_dropout},
        )
        # creation order fixes the initialisation's random draws: keep it
        self.item_emb = nn.Embedding(vocab_size, hidden, padding_idx=0)
        self.pos_emb = nn.Embedding(max_len, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)
        self.drop = Dropout(dropout)
        sizes = dict(hidden=hidden, heads=heads, inner=inner, dropout=dropout, attn_dropout=attn_dropout)
        self.blocks = nn.ModuleList(block(**sizes, feed_forward=feed_forward) for _ in range(layers))
        layout = self.blocks[0]
        if not isinstance(layout, Block):
            raise ConfigError(
                f"model.block must build a llmrec.models.layers.blocks.Block, got {type(layout).__name__}; "
                "e.g. model.block._target_=llmrec.models.layers.blocks.PreNormBlock"
            )
        self.scale_embeddings = layout.scale_embeddings
        self.final_norm = layout.final_norm
        self.positions_from_start = positions == "from_start"
        self.causal = causal
        self.max_len = max_len
        self.apply(self._init)
        for each in self.blocks:
            if each.xavier_attention:  # the authors' and LiGR's nn.MultiheadAttention: Xavier in-projection
                nn.init.xavier_uniform_(each.attn.qkv.weight)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
            if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()

    def position_ids(self, pad: Tensor) -> Tensor:
        """(B, L) or (L,) position ids of a left-padded (B, L) window."""
        return position_ids(pad, self.max_len, self.positions_from_start)

    def forward(self, item_seq: Tensor) -> Tensor:
        item_seq = item_seq[:, -self.max_len :]
        pad = item_seq == 0  # (B, L)
        items = self.item_emb(item_seq)
        if self.scale_embeddings:
            items = items * items.shape[-1] ** 0.5
        x = items + self.pos_emb(self.position_ids(pad))  # (B, L, D)
        x = self.drop(x if self.final_norm else self.norm(x))
        mask = attention_mask(pad, self.causal)
        for block in self.blocks:
            x = block(x, mask)
        return self.norm(x) if self.final_norm else x  # (B, L, D)
