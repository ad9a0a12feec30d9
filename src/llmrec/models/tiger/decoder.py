"""T5's decoder one position at a time for many code prefixes per user, for beam search and exact scoring.

Hugging Face's cache keeps the encoder's keys and values once per decoded sequence, so 20 beams (or the
thousands of prefixes exact scoring visits) copy them 20 (thousands of) times. Here each user's
cross-attention keys and values are computed once and shared by all of that user's prefixes, and each
prefix carries only its own self-attention keys and values (one per decoded position). The arithmetic
is T5's (``transformers.models.t5.modeling_t5``: RMS layer norms, unscaled dot products, the first
layer's relative position bias shared by all layers, tied-head rescaling); tests/test_tiger.py checks it
against the Hugging Face forward pass with teacher forcing.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from llmrec.models.tiger.vocab import CodeVocabulary

KeyValues = list[tuple[Tensor, Tensor]]  # per decoder layer: keys, values (B, P, H, T, d_kv)


def decoder_scale(config: Any) -> float:
    """The factor T5 applies to the decoder's output before a head tied to the token table."""
    tied = getattr(config, "scale_decoder_outputs", getattr(config, "tie_word_embeddings", True))
    return float(config.d_model) ** -0.5 if tied else 1.0


def append_position(past: KeyValues, new: KeyValues) -> KeyValues:
    """``past`` (B, P, H, T, d_kv) with the keys and values ``new`` (B, P, H, d_kv) of one more position."""
    return [
        (torch.cat([keys, k.unsqueeze(3)], dim=3), torch.cat([values, v.unsqueeze(3)], dim=3))
        for (keys, values), (k, v) in zip(past, new, strict=True)
    ]


def code_logits(t5: Any, hidden: Tensor, start: int, size: int) -> Tensor:
    """Logits (..., size) of tokens ``start .. start + size - 1`` (one level's codes) from the decoder's
    scaled output (..., D): the head restricted to that level, so no logit is spent on other tokens."""
    head = t5.lm_head
    bias = None if head.bias is None else head.bias[start : start + size]
    return F.linear(hidden, head.weight[start : start + size], bias)


class PrefixDecoder:
    """The decoder of ``t5`` over the encoder states (B, S, D) of B users (``mask`` (B, S): 1 = real),
    decoding the codes of ``vocab``."""

    def __init__(self, t5: Any, states: Tensor, mask: Tensor, vocab: CodeVocabulary) -> None:
        self.t5, self.vocab = t5, vocab
        self.decoder, self.config = t5.decoder, t5.config
        self.heads, self.d_kv = self.config.num_heads, self.config.d_kv
        batch, length, _ = states.shape
        self.cross: KeyValues = []
        for block in self.decoder.block:
            attention = block.layer[1].EncDecAttention
            keys = attention.k(states).view(batch, length, self.heads, self.d_kv).transpose(1, 2)
            values = attention.v(states).view(batch, length, self.heads, self.d_kv).transpose(1, 2)
            self.cross.append((keys, values))  # (B, H, S, d_kv) each
        low = torch.finfo(states.dtype).min
        self.cross_mask = ((1 - mask.to(states.dtype)) * low)[:, None, None, :]  # (B, 1, 1, S)
        positions = len(vocab.level_sizes)
        bias = self.decoder.block[0].layer[0].SelfAttention.compute_bias(positions, positions)
        self.position_bias = bias[0]  # (H, positions, positions)
        self.scale = decoder_scale(self.config)

    def empty_past(self, width: int) -> KeyValues:
        """Self-attention keys and values of ``width`` prefixes per user before any decoded position."""
        keys = self.cross[0][0]
        empty = keys.new_zeros(keys.shape[0], width, self.heads, 0, self.d_kv)  # (B, P, H, 0, d_kv)
        return [(empty, empty) for _ in self.cross]

    def step(self, tokens: Tensor, position: int, past: KeyValues) -> tuple[Tensor, KeyValues]:
        """Hidden states (B, P, D) after ``tokens`` (B, P) at decoder ``position``, each prefix attending
        to its ``past`` keys and values (B, P, H, position, d_kv); returns the new position's keys and
        values (B, P, H, d_kv) per layer."""
        x = self.decoder.embed_tokens(tokens)  # (B, P, D)
        new: KeyValues = []
        for block, (past_k, past_v), cross in zip(self.decoder.block, past, self.cross, strict=True):
            x, keys_values = self._self_attention(block.layer[0], x, position, past_k, past_v)
            new.append(keys_values)
            x = self._cross_attention(block.layer[1], x, *cross)
            x = block.layer[2](x)  # feed-forward with its own norm and residual
        return self.decoder.final_layer_norm(x) * self.scale, new

    def log_probs(self, hidden: Tensor, level: int) -> Tensor:
        """(..., V_level) log-probabilities of level ``level``'s codes from hidden states (..., D)."""
        logits = code_logits(self.t5, hidden, self.vocab.offsets[level], self.vocab.level_sizes[level])
        return torch.log_softmax(logits.float(), dim=-1)

    def _split(self, x: Tensor) -> Tensor:
        return x.view(*x.shape[:-1], self.heads, self.d_kv)  # (..., H, d_kv)

    def _self_attention(
        self, layer: Any, x: Tensor, position: int, past_k: Tensor, past_v: Tensor
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        attention = layer.SelfAttention
        h = layer.layer_norm(x)
        query, key, value = (self._split(proj(h)) for proj in (attention.q, attention.k, attention.v))
        keys = torch.cat([past_k, key.unsqueeze(3)], dim=3)  # (B, P, H, position + 1, d_kv)
        values = torch.cat([past_v, value.unsqueeze(3)], dim=3)
        scores = torch.einsum("bphd,bphtd->bpht", query, keys)
        scores = scores + self.position_bias[:, position, : position + 1]  # (B, P, H, position + 1)
        weights = F.softmax(scores.float(), dim=-1).to(values.dtype)
        out = torch.einsum("bpht,bphtd->bphd", weights, values).flatten(2)  # (B, P, H * d_kv)
        return x + attention.o(out), (key, value)

    def _cross_attention(self, layer: Any, x: Tensor, keys: Tensor, values: Tensor) -> Tensor:
        attention = layer.EncDecAttention
        query = self._split(attention.q(layer.layer_norm(x))).transpose(1, 2)  # (B, H, P, d_kv)
        scores = query @ keys.transpose(-1, -2) + self.cross_mask  # (B, H, P, S)
        weights = F.softmax(scores.float(), dim=-1).to(values.dtype)
        out = (weights @ values).transpose(1, 2).flatten(2)  # (B, P, H * d_kv)
        return x + attention.o(out)
