"""E4SRec's instruction prompts (Li et al., arXiv 2312.02443): the words around the item tokens, by name.
Stage 2's instruction tuning adds them to its vocabulary, so a randomly built backbone knows them in stage 3.

- ``llmrec``: a short prompt of llmrec's own (``conf/model/e4srec.yaml``'s default).
- ``alpaca``: the official code's (HestiaSky/E4SRec): the Alpaca-LoRA "prompt_input" template of
  templates/alpaca.json with the sequential task's instruction of utils/prompter.py, the item tokens as
  its input, then the template's "response_split". ``conf/experiment/e4srec_paper.yaml`` uses it.

Also the prompt's layout: padding moved to the left of each row, and position ids counted from its first
real token, so padding never changes a row's scores.
"""

from __future__ import annotations

import torch
from torch import Tensor

PREFIX = "Below is a user's purchase history . Predict the next item the user will buy . History :"
SUFFIX = "Next item :"

ALPACA_INSTRUCTION = "Given the user\u2019s purchase history, predict next possible item to be purchased."
ALPACA_PREFIX = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    f"### Instruction:\n{ALPACA_INSTRUCTION}\n\n### Input:\n"
)
ALPACA_SUFFIX = "\n### Response:\n"

TEMPLATES: dict[str, tuple[str, str]] = {
    "llmrec": (PREFIX, SUFFIX),
    "alpaca": (ALPACA_PREFIX, ALPACA_SUFFIX),
}


def prompt_positions(mask: Tensor) -> Tensor:
    """Position ids counted from each row's first real token; padding gets 0 (it is masked anyway)."""
    return (mask.long().cumsum(dim=1) - 1).clamp(min=0)


def move_padding_left(embeds: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Reorder each row so its masked positions come first and real ones keep their order."""
    order = torch.argsort(mask.int(), dim=1, stable=True)  # (B, T): padding (0) first
    embeds = torch.gather(embeds, 1, order[..., None].expand_as(embeds))
    return embeds, torch.gather(mask, 1, order)
