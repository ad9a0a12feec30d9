"""E4SRec stage 2 (Li et al., arXiv 2312.02443): instruction tuning of the backbone on a recommendation
instruction set built from the training data, saved as its own LoRA adapter folder. Stage 3 loads the
backbone, merges this adapter into it (frozen), and adds its own LoRA on top (``model.instruct_adapter``).

Each training window gives one instruction: the titles of the user's last ``max_history`` items, and the
next item's title as the response (loss on the response only). The folder holds the peft adapter, a
``manifest.json`` and, for a backbone built with random weights, ``vocab.json``: the word tokenizer (item
titles and E4SRec's prompt words), which stage 3 reuses so the backbone is rebuilt with the same
vocabulary and therefore the same random weights.

Departures from the paper: the official repository ships an instruction-tuned LLaMA-2 (its own corpus,
many hours on GPUs); here a short tuning on the dataset's own training windows, sized by
``model.stage2.steps``. The runner (run/stages.py) runs it inside an E4SRec run, by a Lightning Trainer
built from the run's trainer settings (:class:`InstructionTuning` is the module it fits).
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Sampler

from llmrec.data.batch import pad_batch
from llmrec.errors import ConfigError
from llmrec.io import make_temp_dir, replace_dir_atomic, write_json_atomic
from llmrec.models.layers.llm import LLMSpec
from llmrec.models.layers.tokenizers import SPECIALS, HFTokenizer, WordTokenizer

INSTRUCTION = "Instruction : given the items a user bought : {history} . Which item comes next ? Response :"
MANIFEST, VOCAB = "manifest.json", "vocab.json"


def read_vocab(adapter_dir: Path) -> WordTokenizer:
    """The word tokenizer saved with a stage-2 adapter (backbones built with random weights)."""
    path = adapter_dir / VOCAB
    if not path.is_file():
        raise ConfigError(
            f"model.instruct_adapter={adapter_dir} has no {VOCAB}: it is not a stage-2 adapter for a "
            "randomly built backbone (train one with model.stage2.steps=N)"
        )
    return WordTokenizer([" ".join(json.loads(path.read_text()))])


def merged_backbone(backbone: Any, adapter_dir: Path) -> Any:
    """``backbone`` with the stage-2 LoRA adapter merged into its weights."""
    from peft import PeftModel

    if not (adapter_dir / "adapter_config.json").is_file():
        raise ConfigError(
            f"model.instruct_adapter={adapter_dir} is not a LoRA adapter folder (no adapter_config.json)"
        )
    try:
        return PeftModel.from_pretrained(backbone, str(adapter_dir)).merge_and_unload()
    except (RuntimeError, ValueError) as error:  # size mismatch: another backbone
        raise ConfigError(
            f"the stage-2 adapter in {adapter_dir} does not fit this backbone ({error}); use the llm config "
            "it was tuned with"
        ) from None


def instruction_examples(
    windows: torch.Tensor, titles: list[str], tokenizer: Any, max_history: int
) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, response ids + eos) for each window with at least two items."""
    examples = []
    for row in windows.tolist():
        items = [i for i in row if i != 0]
        if len(items) < 2:
            continue
        history = " ; ".join(titles[i - 1] for i in items[:-1][-max_history:])
        prompt = tokenizer.encode(INSTRUCTION.format(history=history))
        examples.append((prompt, [*tokenizer.encode(titles[items[-1] - 1]), tokenizer.eos_id]))
    if not examples:
        raise ConfigError("no training window has two items: nothing to instruction-tune on")
    return examples


def _batch(examples: list[tuple[list[int], list[int]]], pad: int) -> tuple[torch.Tensor, ...]:
    ids, mask = pad_batch([p + r for p, r in examples], pad, left=False)
    labels, _ = pad_batch([[-100] * len(p) + r for p, r in examples], -100, left=False)
    return ids, mask, labels


class RandomBatches(Sampler[list[int]]):
    """``steps`` batches of ``size`` distinct examples out of ``count``, each drawn afresh (``random``)."""

    def __init__(self, count: int, size: int, steps: int) -> None:
        self.count, self.size, self.steps = count, min(size, count), steps

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[list[int]]:
        for _ in range(self.steps):
            yield random.sample(range(self.count), self.size)


class InstructionTuning(pl.LightningModule):
    """A causal LM with LoRA (``lm``) trained on (prompt, response) examples, loss on the response only."""

    def __init__(
        self,
        lm: Any,
        examples: list[tuple[list[int], list[int]]],
        pad_id: int,
        steps: int,
        batch_size: int,
        lr: float,
    ) -> None:
        super().__init__()
        self.lm, self.examples, self.pad_id = lm, examples, pad_id
        self.steps, self.batch_size, self.lr = steps, batch_size, lr
        self.losses: list[torch.Tensor] = []

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.examples,  # type: ignore[arg-type]  # a list is a map-style dataset
            batch_sampler=RandomBatches(len(self.examples), self.batch_size, self.steps),
            collate_fn=functools.partial(_batch, pad=self.pad_id),
        )

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        ids, mask, labels = batch  # (B, T) each
        loss = self.lm(input_ids=ids, attention_mask=mask, labels=labels).loss
        self.losses.append(loss.detach())
        self.log("stage2/loss", loss, prog_bar=True, batch_size=ids.shape[0])
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW([p for p in self.lm.parameters() if p.requires_grad], lr=self.lr)


def default_trainer(steps: int, root: Path) -> pl.Trainer:
    """A plain Trainer for ``steps`` optimizer steps (direct use; a run passes one built from its config)."""
    return pl.Trainer(
        max_steps=steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(root),
    )


def trainer_settings(trainer: pl.Trainer) -> dict[str, Any]:
    """What a stage-2 manifest records of the Trainer that ran it."""
    return {
        "accelerator": type(trainer.accelerator).__name__,
        "devices": trainer.num_devices,
        "precision": trainer.precision,
        "gradient_clip_val": trainer.gradient_clip_val,
        "accumulate_grad_batches": trainer.accumulate_grad_batches,
    }


def instruction_tune(
    spec: LLMSpec,
    windows: torch.Tensor,
    titles: list[str],
    out_dir: Path,
    prompt_words: list[str],
    steps: int,
    batch_size: int = 16,
    lr: float = 5e-4,
    max_history: int = 10,
    trainer: pl.Trainer | None = None,
) -> dict[str, Any]:
    """Tune ``spec`` (a causal LM with ``lora``) for ``steps`` optimizer steps of ``trainer`` (built with
    ``max_steps=steps``; a plain one when None); write the adapter to ``out_dir``."""
    words = WordTokenizer([*titles, INSTRUCTION, *prompt_words]) if not spec.pretrained else None
    tokenizer = words or HFTokenizer(spec.tokenizer())
    overrides = {"vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_id}
    lm = spec.load({**overrides, "eos_token_id": tokenizer.eos_id, "bos_token_id": tokenizer.bos_id})
    if spec.lora is None or lm.get_output_embeddings() is None:
        raise ConfigError(
            "stage 2 tunes a causal LM with LoRA: use an llm config with model_class "
            "transformers.AutoModelForCausalLM and a lora section (e.g. llm=tiny_llama), not an encoder"
        )
    examples = instruction_examples(windows, titles, tokenizer, max_history)
    trainer = trainer or default_trainer(steps, out_dir.parent)
    if trainer.max_steps != steps:
        raise ValueError(
            f"the stage-2 trainer runs {trainer.max_steps} steps, not model.stage2.steps={steps}"
        )
    lm.train()  # from_pretrained returns eval mode (no dropout), and Lightning keeps a module's mode
    module = InstructionTuning(lm, examples, tokenizer.pad_id, steps, batch_size, lr)
    trainer.fit(module)
    losses = [float(loss) for loss in module.losses]
    manifest = {"backbone": spec.source or "random", "steps": trainer.global_step, "examples": len(examples)}
    manifest |= {"first_loss": losses[0], "last_loss": losses[-1], "trainer": trainer_settings(trainer)}
    if trainer.is_global_zero:
        tmp = make_temp_dir(out_dir.parent, prefix=f".{out_dir.name}.")
        lm.save_pretrained(str(tmp))
        if words is not None:
            (tmp / VOCAB).write_text(json.dumps(words.vocab[len(SPECIALS) :]))
        write_json_atomic(tmp / MANIFEST, manifest)
        replace_dir_atomic(tmp, out_dir)
    trainer.strategy.barrier("stage2_adapter")  # every process reads the adapter rank zero wrote
    return manifest
