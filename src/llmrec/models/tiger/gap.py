"""How far beam search is from exact scoring, over one test pass (``model.compare_decodes``): the share of
the exact top-K (the K most likely items outside the excluded ones) that the beam's top-K holds, and both
decodes' HR and NDCG at one cutoff, ranked as the evaluation ranks them (history masked where it masks).
"""

from __future__ import annotations

import torch
from torch import Tensor

from llmrec.data.batch import SeqBatch
from llmrec.evaluation.metrics import mask_scores, rank_metrics, target_ranks


class DecodeGap:
    def __init__(self, k: int, cutoff: int = 10) -> None:
        self.k, self.cutoff = k, min(cutoff, k)
        self.reset()

    def reset(self) -> None:
        self.found = self.exact_listed = self.users = 0
        self.sums: dict[str, float] = {}

    def update(
        self, beam_top: Tensor, beam_scores: Tensor, exact: Tensor, excluded: Tensor, batch: SeqBatch
    ) -> None:
        """``beam_top`` (B, K) beam items (0: empty slot), ``beam_scores`` and ``exact`` (B, N+1) the two
        decodes' scores, ``excluded`` (B, N+1) the items neither may list. Reads its inputs only."""
        masked = exact.masked_fill(excluded, float("-inf"))
        values, exact_top = masked.topk(min(self.k, masked.shape[1]), dim=1)  # (B, K)
        listed = torch.isfinite(values)
        hits = (exact_top[:, :, None] == beam_top[:, None, :]).any(dim=2) & listed
        self.found += int(hits.sum())
        self.exact_listed += int(listed.sum())
        targets = batch.items[:, -1]
        for name, scores in (("beam", beam_scores), ("exact", exact)):
            ranks = target_ranks(mask_scores(scores, targets, batch.seen), targets)
            for metric, per_user in rank_metrics(ranks, [self.cutoff]).items():
                if not metric.startswith("mrr"):
                    key = f"{name}_{metric}"
                    self.sums[key] = self.sums.get(key, 0.0) + float(per_user.sum())
        self.users += len(targets)

    def metrics(self) -> dict[str, float]:
        """``beam_exact_recall_at_k`` and ``{beam,exact}_{hr,ndcg}_<cutoff>``; empty before any update."""
        if not self.users:
            return {}
        recall = self.found / self.exact_listed if self.exact_listed else 1.0
        return {"beam_exact_recall_at_k": recall, **{k: v / self.users for k, v in self.sums.items()}}
