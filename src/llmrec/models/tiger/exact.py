"""Exact scoring: the log-likelihood of every catalog item's code sequence for each user, so TIGER goes
through the same full ranking as every other model.

An item's log-likelihood is the sum over levels of log p(code_l | user, codes_<l). The decoder runs once
per distinct prefix of the catalog and user (level ``l``'s distribution is computed once per node of the
trie's level ``l``, not once per item): level by level, every node's self-attention reads its ancestors'
keys and values, kept per level. Users go in chunks so that one chunk holds at most ``max_rows``
prefix rows.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from llmrec.models.tiger.decoder import KeyValues, PrefixDecoder, append_position
from llmrec.models.tiger.trie import CodeTrie
from llmrec.models.tiger.vocab import START


def _ancestors_past(stored: list[KeyValues], trie: CodeTrie, level: int) -> KeyValues:
    """Keys and values (b, P_level, H, level, d_kv) per layer: each node's ancestors', position by position
    (``level`` >= 1)."""
    past = []
    for layer in range(len(stored[0])):
        ancestors = trie.ancestors[level]  # (level, P_level)
        keys = torch.stack([stored[j][layer][0][:, ancestors[j]] for j in range(level)], dim=3)
        values = torch.stack([stored[j][layer][1][:, ancestors[j]] for j in range(level)], dim=3)
        past.append((keys, values))
    return past


def exact_log_likelihoods(
    decoder: PrefixDecoder,
    trie: CodeTrie,
) -> Tensor:
    """(b, N) log-likelihood of each catalog item's codes for the b users of ``decoder``."""
    codes = trie.codes  # (N, C)
    batch, device = decoder.cross_mask.shape[0], codes.device
    total = torch.zeros(batch, codes.shape[0], device=device)
    stored: list[KeyValues] = []
    for level in range(trie.num_levels):
        if level == 0:
            tokens = torch.full((batch, 1), START, dtype=torch.long, device=device)
            past = decoder.empty_past(1)
        else:
            tokens = (decoder.vocab.offsets[level - 1] + trie.edge_codes[level]).expand(
                batch, -1
            )  # (b, P_level)
            past = _ancestors_past(stored, trie, level)
        hidden, new = decoder.step(tokens, level, past)  # (b, P_level, D)
        stored.append(new)
        scores = decoder.log_probs(hidden, level).flatten(1)  # (b, P_level * V_level)
        total += scores[:, trie.node[level] * trie.level_sizes[level] + codes[:, level]]
    return total


def item_log_likelihoods(decoder: PrefixDecoder, trie: CodeTrie, items: Tensor) -> Tensor:
    """(B, P) log-likelihood of the codes of ``items`` (B, P) for the users of ``decoder``, decoded along
    each item's own path (teacher forcing); the value at item 0 (padding) is meaningless."""
    codes = trie.codes[(items - 1).clamp(min=0)]  # (B, P, C)
    batch, width = items.shape
    start = torch.full((batch, 1), START, dtype=torch.long, device=items.device)
    hidden, new = decoder.step(start, 0, decoder.empty_past(1))  # position 0 is the same for every item
    first = [(k.expand(-1, width, -1, -1), v.expand(-1, width, -1, -1)) for k, v in new]
    past = append_position(decoder.empty_past(width), first)
    total = decoder.log_probs(hidden, 0).expand(-1, width, -1).gather(2, codes[:, :, :1]).squeeze(2)
    for level in range(1, trie.num_levels):
        tokens = decoder.vocab.offsets[level - 1] + codes[:, :, level - 1]  # (B, P)
        hidden, new = decoder.step(tokens, level, past)  # (B, P, D)
        total = total + decoder.log_probs(hidden, level).gather(2, codes[:, :, level : level + 1]).squeeze(2)
        past = append_position(past, new)
    return total


def user_chunk(trie: CodeTrie, max_rows: int) -> int:
    """How many users one chunk of exact scoring takes: its widest level holds at most ``max_rows`` rows."""
    return max(1, max_rows // max(trie.num_nodes))


def exact_scores(
    make_decoder: Callable[[slice], PrefixDecoder],
    batch: int,
    trie: CodeTrie,
    max_rows: int,
) -> Tensor:
    """(B, N+1) item log-likelihoods of ``batch`` users, column 0 (padding) -inf; ``make_decoder(rows)``
    builds the decoder of a chunk of users."""
    step = user_chunk(trie, max_rows)
    parts = [
        exact_log_likelihoods(make_decoder(slice(start, start + step)), trie)
        for start in range(0, batch, step)
    ]
    scores = torch.cat(parts)  # (B, N)
    return torch.cat([scores.new_full((batch, 1), float("-inf")), scores], dim=1)
