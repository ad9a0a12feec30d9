"""Constrained beam search over the catalog's code trie (TIGER, Rajput et al., NeurIPS 2023, section 3.2):
at each level only continuations that some catalog item has are kept, so every finished beam is a real,
distinct item. Batched over users x beams on :class:`PrefixDecoder`, each beam carrying only its own
self-attention keys and values.

Branches whose every item is excluded for the row (its history) are cut during the search, so the beams
return ``width`` items outside the history whenever the catalog has that many; the excluded items go
behind every listed item. So a target the user had seen before (the evaluation keeps a repeated target's
score) is never a beam hit: none of the leave-one-out targets of Beauty or ML-1M repeats, while the
synthetic default's do (exact scoring, ``model.decode=exact``, ranks them).
"""

from __future__ import annotations

import torch
from torch import Tensor

from llmrec.models.tiger.decoder import KeyValues, PrefixDecoder, append_position
from llmrec.models.tiger.trie import CodeTrie
from llmrec.models.tiger.vocab import START


def _follow(past: KeyValues, parents: Tensor) -> KeyValues:
    """Each new beam's keys and values: its parent's (``parents`` (B, W) beam indices)."""
    rows = torch.arange(parents.shape[0], device=parents.device)[:, None]
    return [(keys[rows, parents], values[rows, parents]) for keys, values in past]


def beam_search(
    decoder: PrefixDecoder,
    trie: CodeTrie,
    excluded: Tensor,
    width: int,
) -> tuple[Tensor, Tensor]:
    """(items, log-likelihoods), each (B, width), best first; item 0 with -inf where fewer than ``width``
    items are reachable. ``excluded`` (B, N+1) bool: the items each row must not return."""
    batch, device = excluded.shape[0], excluded.device
    blocked = trie.exhausted(excluded)  # per level (B, nodes of the next level)
    nodes = torch.zeros(batch, 1, dtype=torch.long, device=device)  # every row at the root
    total = torch.zeros(batch, 1, device=device)
    tokens = torch.full((batch, 1), START, dtype=torch.long, device=device)
    past = decoder.empty_past(1)
    for level in range(trie.num_levels):
        hidden, new = decoder.step(tokens, level, past)  # (B, W', D)
        past = append_position(past, new)
        children = trie.children[level][nodes]  # (B, W', V_l)
        cut = blocked[level].gather(1, children.clamp(min=0).flatten(1)).view_as(children)
        reachable = (children >= 0) & ~cut
        scores = torch.where(reachable, total.unsqueeze(2) + decoder.log_probs(hidden, level), float("-inf"))
        total, flat = scores.flatten(1).topk(min(width, scores[0].numel()), dim=1)  # (B, W)
        size = trie.level_sizes[level]
        nodes = children.flatten(1).gather(1, flat).clamp(min=0)  # a dead beam (-inf) sits at node 0
        if level + 1 < trie.num_levels:
            past = _follow(past, torch.div(flat, size, rounding_mode="floor"))
            tokens = decoder.vocab.offsets[level] + flat % size
    items = torch.where(torch.isfinite(total), nodes, 0)
    return items, total
