"""TIGER's token vocabulary: special tokens, hashed user tokens, then each level's codes (offset per level).

Layout: 0 padding, 1 end of input, 2 decoder start, 3 unknown user (rows without user ids), then
``user_buckets`` user tokens, then level 0's codes, level 1's, ... Each level's codes have their own
token range, so the same code at two levels is two tokens (as in the paper).
"""

from __future__ import annotations

import torch
from torch import Tensor

PAD, EOS, START, UNKNOWN_USER = 0, 1, 2, 3
SPECIAL = 4
# A fixed multiplicative hash (Knuth's), so a user's bucket does not depend on the run or the process.
HASH_MULTIPLIER, HASH_MODULUS = 2654435761, 2**32


class CodeVocabulary:
    def __init__(self, level_sizes: tuple[int, ...], user_buckets: int) -> None:
        self.level_sizes = tuple(level_sizes)
        self.user_buckets = user_buckets
        starts = torch.tensor((0, *self.level_sizes[:-1])).cumsum(0) + SPECIAL + user_buckets
        self.offsets = [int(s) for s in starts]
        self.size = SPECIAL + user_buckets + sum(self.level_sizes)

    def code_tokens(self, codes: Tensor) -> Tensor:
        """Tokens of codes (..., C), one level per column."""
        return codes + torch.tensor(self.offsets, device=codes.device)

    def user_tokens(self, users: Tensor | None, batch: int, device: torch.device) -> Tensor:
        """(B,) the token of each row's user: its hash bucket, or the unknown-user token without ids."""
        if users is None:
            return torch.full((batch,), UNKNOWN_USER, dtype=torch.long, device=device)
        bucket = (users.long().to(device) * HASH_MULTIPLIER) % HASH_MODULUS % self.user_buckets
        return torch.where(users.to(device) < 0, UNKNOWN_USER, SPECIAL + bucket)

    def encoder_inputs(self, codes: Tensor, real: Tensor, user_tokens: Tensor) -> tuple[Tensor, Tensor]:
        """(ids, attention mask), each (B, T): the user token, the history's codes, end of input, all
        moved to the right edge so that left padding never shifts a token's position relative to another
        (T5's encoder sees relative positions). ``codes`` (B, M, C) of the history items, ``real`` (B, M)
        marking real items, ``user_tokens`` (B,)."""
        batch, _, levels = codes.shape
        tokens = self.code_tokens(codes).flatten(1)  # (B, M * C)
        keep = real.repeat_interleave(levels, dim=1)  # (B, M * C)
        column = torch.ones(batch, 1, dtype=torch.bool, device=codes.device)
        end = torch.full((batch, 1), EOS, dtype=torch.long, device=codes.device)
        ids = torch.cat([user_tokens[:, None], tokens, end], dim=1)
        mask = torch.cat([column, keep, column], dim=1)
        order = torch.argsort(mask.int(), dim=1, stable=True)  # padding first, real tokens in order
        ids, mask = ids.gather(1, order), mask.gather(1, order)
        width = int(mask.sum(dim=1).max())
        return torch.where(mask, ids, PAD)[:, -width:], mask[:, -width:].long()
