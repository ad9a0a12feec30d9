"""Training examples (history, next item) cut from the framework's training windows, shared by the models
that train on one target per example (Lite-LLM4Rec, TIGER; LLMSeqPrompt checks the same settings).

``train_targets`` comes from the study's sample schema (``check_train_targets``); ``train_positions``
says which targets of a window become examples: ``full`` every one, ``sample`` one drawn afresh per
window and epoch (a subsampling). ``train_targets: last`` trains on each window's last target only.
"""

from __future__ import annotations

import torch
from torch import Tensor

from llmrec.data.batch import trim_left_padding
from llmrec.errors import ConfigError
from llmrec.models.base import check_train_targets

TRAIN_POSITIONS = ("full", "sample")


def check_train_positions(value: object) -> str:
    """``value`` if it is one of :data:`TRAIN_POSITIONS`, else one error saying what they mean."""
    if value not in TRAIN_POSITIONS:
        raise ConfigError(
            f"model.train_positions={value!r} is not one of {TRAIN_POSITIONS} "
            "(full traversal of every position, or one sampled position per window)"
        )
    return str(value)


def example_mode(model: str, train_targets: object, train_positions: object) -> str:
    """The mode of :func:`training_examples`: ``last``, ``full`` or ``sample``, both settings checked."""
    last = check_train_targets(model, train_targets) == "last"
    positions = check_train_positions(train_positions)
    return "last" if last else positions


def example_positions(items: Tensor, mode: str) -> tuple[Tensor, Tensor]:
    """(rows, ends), each (E,): example e predicts ``items[rows[e], ends[e] + 1]`` from the items up to
    ``ends[e]``; ``mode`` ``full`` every position, ``sample`` one random position per window, ``last`` the
    last position. Windows ``items`` (B, L+1) are left-padded."""
    inputs, targets = items[:, :-1], items[:, 1:]  # (B, L) each
    valid = (inputs != 0) & (targets != 0)  # a position with an item before it and a target
    if mode == "last":
        chosen = valid.clone()
        chosen[:, :-1] = False
    elif mode == "sample":
        pick = torch.multinomial(valid.float() + 1e-12 * (~valid.any(1, keepdim=True)), 1)  # (B, 1)
        chosen = torch.zeros_like(valid).scatter_(1, pick, True) & valid
    else:
        chosen = valid
    rows, ends = chosen.nonzero(as_tuple=True)
    return rows, ends


def cap_examples(rows: Tensor, ends: Tensor, limit: int | None) -> tuple[Tensor, Tensor]:
    """At most ``limit`` of the examples ``rows``, ``ends`` (a random subset, drawn afresh each batch, when
    there are more; all when ``limit`` is None): a memory bound when a batch holds long windows, each of
    which expands to one example per target."""
    if limit is None or len(rows) <= limit:
        return rows, ends
    keep = torch.randperm(len(rows), device=rows.device)[:limit]
    return rows[keep], ends[keep]


def prefixes_at(items: Tensor, rows: Tensor, ends: Tensor) -> tuple[Tensor, Tensor]:
    """Prefixes (E, L) left-padded, and their targets (E,): the examples at ``rows``, ``ends`` of windows
    ``items`` (B, L+1), as :func:`example_positions` gives them."""
    inputs = items[:, :-1]
    width = inputs.shape[1]
    shift = (width - 1 - ends)[:, None]  # move each prefix to the right edge
    column = torch.arange(width, device=items.device)[None, :] - shift  # (E, L)
    prefixes = torch.where(column >= 0, inputs[rows[:, None], column.clamp(min=0)], 0)
    return trim_left_padding(prefixes), items[rows, ends + 1]


def training_examples(items: Tensor, mode: str) -> tuple[Tensor, Tensor]:
    """Prefixes (E, L) left-padded, and their targets (E,), from windows ``items`` (B, L+1)."""
    return prefixes_at(items, *example_positions(items, mode))
