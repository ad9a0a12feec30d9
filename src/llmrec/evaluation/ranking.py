"""Fast full-catalog ranking: the reference metrics' numbers, computed in the score matrix itself where
it may be written, so that evaluation costs little more than the model's forward pass.

:func:`rank_and_top_k` returns exactly ``target_ranks(masked, targets)`` and ``top_k(masked, k)`` of
``masked = mask_scores(scores, targets, seen)`` (:mod:`llmrec.evaluation.metrics`, the reference): same
pessimistic ranks, same top-k lists with -1 in empty slots, same refusal of NaN scores. It picks one path:

- ``_rank_fresh``: scores nobody reads afterwards (``disposable``) are masked and overwritten;
- ``_rank_in_place``: dense float32 scores are masked, ranked and restored bit for bit;
- ``_rank_on_a_copy``: views (Popularity's expanded counts), other dtypes and wide histories are ranked
  on a private float32 copy;
- ``_reference``: the reference functions themselves, wherever a value is not finite.

:func:`rank_on_device` gives the same numbers without ever waiting for the device (no value is read back
to decide a path), for accelerators, where each such read stalls the queue of kernels: it maps values
as the reference does instead of checking them, and marks rows holding NaN with rank -1 for the
evaluator to refuse once, at the end of the pass.

Why the paths agree with the reference: after masking, the pessimistic rank ``higher + other ties`` equals
``count(score >= target's) - 1`` (the target counts itself once). Masked items are -inf and never reach a
finite target's score. The reference maps a model's own -inf to the lowest float so that it stays apart
from masked items; the fast paths cannot, so wherever a target or a top-k value is not finite (or NaN hides
in a masked column) they hand the batch to the reference functions instead. tests/test_eval_fast_path.py
checks every path against the reference, ties and non-finite scores included.
"""

from __future__ import annotations

import torch
from torch import Tensor

from llmrec.evaluation.metrics import mask_scores, target_ranks, top_k


def rank_and_top_k(
    scores: Tensor,
    targets: Tensor,
    seen: Tensor | None,
    k: int,
    workspace: Workspace | None = None,
    disposable: bool = False,
) -> tuple[Tensor, Tensor]:
    """``target_ranks`` and ``top_k`` of ``mask_scores(scores, targets, seen)``, identical values.

    ``disposable=True`` says nobody reads ``scores`` afterwards (a model's fresh output): they are masked
    and then overwritten by the count, with nothing saved or restored (``_rank_fresh``).

    Dense float32 scores (what models return) are masked in place, ranked with two passes (top-k, then
    ``count(score >= target's) - 1``, the pessimistic rank) and restored exactly afterwards: no copy of
    the (B, N+1) matrix. That holds while the targets' scores and the top-k values are finite: a NaN or
    +inf anywhere unmasked sorts into the top-k (top-k puts NaN above everything), a -inf there ranks
    below every finite target as the reference's lowest float would, and the masked-away history and
    padding values are checked for NaN directly. Otherwise, and for expanded views and other dtypes,
    ``_rank_on_a_copy`` runs, which falls back to the reference functions (they raise on NaN and keep a
    model's -inf apart).

    The count goes through a float32 scratch matrix (``score >= target`` as 1.0/0.0, then a float sum):
    on CPU that is several times faster than comparing into a bool tensor and counting it. Passing the
    same ``workspace`` for every batch of a pass reuses one scratch matrix instead of faulting in a fresh
    one per batch.
    """
    workspace = workspace if workspace is not None else Workspace()
    writable = (
        scores.dtype == torch.float32
        and scores.is_contiguous()
        and not scores.requires_grad
        and scores.shape[1] < 2**24
    )
    if writable and disposable:  # nothing to save or restore, whatever the history's width
        return _rank_fresh(scores, targets, seen, k)
    # Saving and restoring the history is random access: past ~1/8 of the catalog, a copy is cheaper.
    if writable and (seen is None or seen.shape[1] * 8 < scores.shape[1]):
        ranked = _rank_in_place(scores, targets, seen, k, workspace.matrix(scores))
        if ranked is not None:
            return ranked
    return _rank_on_a_copy(scores, targets, seen, k, workspace.matrix(scores))


def rank_on_device(
    scores: Tensor,
    targets: Tensor,
    seen: Tensor | None,
    k: int,
    workspace: Workspace | None = None,
    disposable: bool = False,
) -> tuple[Tensor, Tensor]:
    """``target_ranks`` and ``top_k`` of ``mask_scores(scores, targets, seen)`` with no host
    synchronisation; rank -1 in the rows with a NaN score (the reference refuses those).

    The masked matrix is the reference's own: ``nan_to_num`` maps -inf to the lowest float and +inf to
    the largest, as ``mask_scores`` does, then padding and history become -inf. The pessimistic rank is
    ``count(score >= target's) - 1`` counted as integers (exact at any catalog size). Two more passes over
    the matrix than the CPU fast paths, which cost little on a GPU and spare a stall per check."""
    workspace = workspace if workspace is not None else Workspace()
    fresh = disposable and scores.dtype == torch.float32 and scores.is_contiguous()
    masked = scores.detach() if fresh else workspace.matrix(scores).copy_(scores.detach())
    refused = masked.isnan().any(dim=1)  # (B,)
    masked.nan_to_num_(nan=0.0, neginf=torch.finfo(torch.float32).min)
    target_scores = _mask_in_place(masked, targets, seen)  # (B, 1)
    lists = top_k(masked, k)  # (B, k)
    at_least = torch.ge(masked, target_scores).sum(dim=1)  # (B,) int64
    return torch.where(refused, -1, at_least - 1), lists


class Workspace:
    """One float32 scratch matrix, grown to the largest (B, N+1) asked for, reused; ``release`` frees it."""

    def __init__(self) -> None:
        self._buffer: Tensor | None = None

    def matrix(self, like: Tensor) -> Tensor:
        needed = like.shape[0] * like.shape[1]
        buffer = self._buffer
        if buffer is None or buffer.device != like.device or buffer.numel() < needed:
            buffer = self._buffer = torch.empty(needed, dtype=torch.float32, device=like.device)
        return buffer[:needed].view(like.shape[0], like.shape[1])

    def release(self) -> None:
        self._buffer = None


def _rank_fresh(scores: Tensor, targets: Tensor, seen: Tensor | None, k: int) -> tuple[Tensor, Tensor]:
    """``rank_and_top_k`` on dense float32 scores nobody reads afterwards, with the fast path's checks:
    NaN among the padding's and the history's scores (looked up before masking hides them), and
    non-finite top-k values or targets. Where one fails, the reference functions run on the masked
    matrix, which gives what they give on the original (they mask the same columns again)."""
    hidden = [scores[:, 0]] if seen is None else [scores[:, 0], scores.gather(1, seen)]
    if any(bool(values.isnan().any()) for values in hidden):
        return _reference(scores, targets, seen, k)  # refuses the NaN
    target_scores = _mask_in_place(scores, targets, seen)
    values, items = torch.topk(scores, min(k, scores.shape[1]), dim=1)
    if not _finite(values, target_scores):
        return _reference(scores, targets, seen, k)
    return scores.ge_(target_scores).sum(dim=1).long() - 1, items


def _mask_in_place(scores: Tensor, targets: Tensor, seen: Tensor | None) -> Tensor:
    """Set padding and history to -inf in ``scores`` itself, the target keeping its score; (B, 1) targets'
    scores."""
    column = targets.unsqueeze(1)
    target_scores = scores.gather(1, column)
    if seen is not None:
        scores.scatter_(1, seen, float("-inf"))
    scores[:, 0] = float("-inf")
    scores.scatter_(1, column, target_scores)
    return target_scores


def _finite(top_values: Tensor, target_scores: Tensor) -> bool:
    """Top-k values and targets the fast paths can rank exactly as the reference does (which maps a
    model's -inf to the lowest float)."""
    lowest = torch.finfo(torch.float32).min
    return bool(torch.isfinite(top_values).all()) and bool(
        ((target_scores > lowest) & (target_scores < float("inf"))).all()
    )


def _reference(scores: Tensor, targets: Tensor, seen: Tensor | None, k: int) -> tuple[Tensor, Tensor]:
    """The reference functions themselves, on a masked copy (they refuse NaN)."""
    masked = mask_scores(scores.detach(), targets, seen)
    return target_ranks(masked, targets), top_k(masked, k)


def _rank_and_overwrite(
    scores: Tensor, targets: Tensor, seen: Tensor | None, k: int
) -> tuple[Tensor, Tensor]:
    """``rank_and_top_k`` on finite, dense float32 scores nobody reads afterwards (a model's fresh output, or
    a private copy): mask, top-k, then the scores become ``score >= target's`` as 1.0/0.0 and are summed
    (exact while the catalog is below 2**24 items). With every score finite, a -inf among the top-k
    values can only be a masked item: ``top_k`` gives -1 there."""
    target_scores = _mask_in_place(scores, targets, seen)
    lists = top_k(scores, k)
    at_least = scores.ge_(target_scores).sum(dim=1)
    return at_least.long() - 1, lists


def _rank_in_place(
    scores: Tensor, targets: Tensor, seen: Tensor | None, k: int, scratch: Tensor
) -> tuple[Tensor, Tensor] | None:
    """The fast path of ``rank_and_top_k`` on dense float32 scores; None where a value is not finite."""
    padding_scores = scores[:, 0].clone()
    seen_scores = scores.gather(1, seen) if seen is not None else None
    try:
        target_scores = _mask_in_place(scores, targets, seen)
        values, items = torch.topk(scores, min(k, scores.shape[1]), dim=1)
        at_least = torch.ge(scores, target_scores, out=scratch).sum(dim=1)
    finally:  # the caller's scores (possibly a model's own state) come back exactly as they were
        if seen is not None and seen_scores is not None:
            scores.scatter_(1, seen, seen_scores)
        scores[:, 0] = padding_scores
    hidden_values = [padding_scores] if seen_scores is None else [padding_scores, seen_scores]
    if not _finite(values, target_scores) or any(bool(v.isnan().any()) for v in hidden_values):
        return None
    return at_least.long() - 1, items


def _rank_on_a_copy(
    scores: Tensor, targets: Tensor, seen: Tensor | None, k: int, scratch: Tensor
) -> tuple[Tensor, Tensor]:
    """Ranks on a private float32 copy (``scratch``), three passes over it, when the scores may not be
    written (Popularity returns an expanded view of its own counts) or hold non-finite values.

    When every score is finite (one sum reduction tells: NaN or an infinity makes the sum non-finite),
    no -inf of the model's can meet a masked item, so masking writes -inf into the copy, and once the
    top-k is taken the pessimistic rank is ``count(score >= target's) - 1``, counted by turning the copy
    itself into 1.0/0.0 (exact while the catalog is below 2**24 items). Otherwise the reference
    functions run.
    """
    if not bool(torch.isfinite(scores.detach().sum())) or scores.shape[1] >= 2**24:
        return _reference(scores, targets, seen, k)
    return _rank_and_overwrite(scratch.copy_(scores.detach()), targets, seen, k)
