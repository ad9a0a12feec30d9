"""LLMSeqPrompt's training step: the loss on the completion positions' logits only (the model as it runs)
against the language model's own loss over every position's logits (the usual ``lm(labels=...)`` call), on
the same real training windows. Prints a Markdown table.

    flock /tmp/llmrec-cpu.lock env PYTHONPATH=src python benchmarks/llmseqprompt_train_step.py
    PYTHONPATH=src python benchmarks/llmseqprompt_train_step.py --dataset synthetic --steps 10

The model is 013 part 6's stand-in: the tiny random LLaMA with a word tokenizer over the catalog titles,
trained whole (no LoRA) at batch 64. The batches are spread evenly over one epoch of leave-one-out training
windows, grouped by length as a run groups them. Each step is forward, backward and an AdamW update; the two
variants run interleaved on the same batch, after a warm-up step of each, and the table gives the summed
time of the timed steps.
Both losses are the same number (up to float rounding; the table gives the largest difference): only the
vocabulary projection of the prompt positions, which the loss never reads, is left out.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torch import Tensor

from llmrec.configs import config_dir
from llmrec.data.batch import SeqBatch
from llmrec.data.cache import load_sequence_data
from llmrec.data.datamodule import SequenceDataModule
from llmrec.data.split import LeaveOneOut
from llmrec.models.layers.encoder import position_ids
from llmrec.models.llmseqprompt import LLMSeqPrompt
from llmrec.run.pipeline import build_model


def full_logits_loss(model: LLMSeqPrompt, batch: SeqBatch) -> Tensor:
    """The reference: every position projected onto the vocabulary, the LM's own shifted loss."""
    ids, mask, labels = model.training_examples(batch.items)
    positions = position_ids(mask == 0, mask.shape[1], from_start=True)
    return model.lm(input_ids=ids, attention_mask=mask, position_ids=positions, labels=labels).loss


def build(args: argparse.Namespace, cache: Path) -> tuple[LLMSeqPrompt, list[SeqBatch]]:
    overrides = [
        f"dataset={args.dataset}",
        "model=llmseqprompt",
        "encoder=hashing",
        f"paths.cache_dir={cache}",
    ]
    overrides += ["model.llm.freeze=false", "model.llm.lora=null", f"paths.output_dir={cache}"]
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    data, _ = load_sequence_data(instantiate(cfg.dataset.source), int(cfg.dataset.k_core), cache / "data")
    max_len = int(cfg.dataset.max_len)
    torch.manual_seed(0)
    model = build_model(cfg, data.num_items, max_len)
    model.bind_data(torch.ones(data.num_items + 1), data.item_text())
    model.configure_model()
    epoch = list(SequenceDataModule(LeaveOneOut(data), max_len, batch_size=args.batch).train_dataloader())
    spread = np.linspace(0, len(epoch) - 1, args.steps + 1).round().astype(int)  # short and long windows
    return model.train(), [epoch[i] for i in spread]


LossOf = Callable[[LLMSeqPrompt, SeqBatch], Tensor]


def step(
    model: LLMSeqPrompt, optimizer: torch.optim.Optimizer, loss_of: LossOf, batch: SeqBatch
) -> tuple[float, float]:
    """(seconds, loss) of one forward, backward and update; the same targets for both variants."""
    random.seed(0)
    start = time.perf_counter()
    loss = loss_of(model, batch)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return time.perf_counter() - start, loss.item()


def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        model, batches = build(args, Path(tmp))
        # No update may change the weights between the two variants' steps: the learning rate is 0, while
        # AdamW still does all its work.
        optimizer = torch.optim.AdamW(model.lm.parameters(), lr=0.0)
        variants: dict[str, LossOf] = {
            "completion positions only (llmrec)": LLMSeqPrompt.loss,
            "every position (lm labels)": full_logits_loss,
        }
        times: dict[str, list[float]] = {name: [] for name in variants}
        gaps = []
        for index, batch in enumerate(batches):
            losses = []
            for name, loss_of in variants.items():
                seconds, loss = step(model, optimizer, loss_of, batch)
                losses.append(loss)
                if index > 0:  # the first batch warms up
                    times[name].append(seconds)
            gaps.append(abs(losses[0] - losses[1]))
        vocabulary = len(model.tokenizer)
    reference = sum(times["every position (lm labels)"])
    setting = f"{args.dataset}, tiny random LLaMA trained whole, a vocabulary of {vocabulary} words"
    print(f"LLMSeqPrompt training step: {setting}, batch {args.batch} windows, {args.steps} steps,")
    print(f"{torch.get_num_threads()} thread(s)")
    print("")
    print("| loss over | seconds | speed-up |")
    print("|---|---:|---:|")
    for name, seconds in times.items():
        print(f"| {name} | {sum(seconds):.1f} | {reference / sum(seconds):.1f}x |")
    print("")
    print(f"Largest difference between the two losses on a batch: {max(gaps):.2e}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="beauty", help="a dataset config (beauty reads ../shared/data)")
    parser.add_argument("--batch", type=int, default=64, help="training windows a step (013 part 6: 64)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps of each variant")
    main(parser.parse_args())
