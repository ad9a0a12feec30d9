"""SASRec's training step on a CPU: llmrec's step (fp32 and bf16 autocast) against the same model built
from stock PyTorch pieces, on training batches shaped like MovieLens-1M and Beauty.

    PYTHONPATH=src python benchmarks/train_step.py                # ~2 minutes on 2 cores
    PYTHONPATH=src python benchmarks/train_step.py --sizes ml1m

"stock" is the same SASRec with ``nn.Dropout``'s own kernel, dropout inside
``F.scaled_dot_product_attention`` and ``F.cross_entropy`` over the whole (M, N) logit matrix, the way
a PyTorch model is usually written; "llmrec" is the code as it runs (the cheap CPU dropout of
``layers.dropout``, attention weights dropped in ``explicit_attention``, the chunked single-exp
``FullSoftmaxCE``). Batches are real training windows of random data with the dataset's shape
(``synthetic_shapes``), grouped by length as the app does. Each step is forward, backward and an
AdamW update; the variants run interleaved, batch by batch, over one whole epoch (after two warm-up
steps), and the table gives each variant's summed step time: seconds per epoch, data loading aside.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext

import torch
import torch.nn.functional as F
from synthetic_shapes import SHAPES, random_sequences
from torch import Tensor, nn

from llmrec.data.datamodule import SequenceDataModule
from llmrec.data.split import LeaveOneOut
from llmrec.models.layers import dropout as dropout_module
from llmrec.models.layers import transformer
from llmrec.models.layers.blocks import OriginalBlock
from llmrec.models.layers.feed_forward import ReluMLP
from llmrec.models.sasrec import SASRec

MODELS = {  # the settings each dataset is trained with (conf/model/sasrec_original.yaml, sasrec.yaml)
    "ml1m": dict(heads=1, inner=64, dropout=0.1, attn_dropout=0.1, block=OriginalBlock, feed_forward=ReluMLP),
    "beauty": dict(heads=2, inner=256, dropout=0.5, attn_dropout=0.5),
}
BATCH = {"ml1m": 128, "beauty": 256}


class PlainCE(nn.Module):
    """``F.cross_entropy`` over the whole (M, N) logit matrix, the padding column left out."""

    def forward(
        self, hidden: Tensor, targets: Tensor, item_emb: Tensor, bias: Tensor | None = None
    ) -> Tensor:
        logits = hidden @ item_emb[1:].T
        return F.cross_entropy(logits.float(), targets - 1)


@contextmanager
def stock_pytorch() -> Iterator[None]:
    """Swap llmrec's dropout and attention back to PyTorch's own kernels for the duration."""
    saved = dropout_module.Dropout.forward, transformer.explicit_attention

    def sdpa(q: Tensor, k: Tensor, v: Tensor, mask: Tensor, p: float) -> Tensor:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)

    dropout_module.Dropout.forward = nn.Dropout.forward  # type: ignore[method-assign]
    transformer.explicit_attention = sdpa
    try:
        yield
    finally:
        dropout_module.Dropout.forward, transformer.explicit_attention = saved  # type: ignore[method-assign]


def make_step(model: SASRec, bf16: bool) -> Callable[[object], None]:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step(batch: object) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model.loss(batch)  # type: ignore[arg-type]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def measure(size: str) -> dict[str, float]:
    shape = SHAPES[size]
    split = LeaveOneOut(random_sequences(shape.users, shape.items, shape.mean_length))
    batches = list(SequenceDataModule(split, shape.max_len, batch_size=BATCH[size]).train_dataloader())
    models = {}
    for name in ("stock fp32", "llmrec fp32", "llmrec bf16"):
        torch.manual_seed(0)
        model = SASRec(shape.items, shape.max_len, **MODELS[size]).train()  # type: ignore[arg-type]
        if name.startswith("stock"):
            model.objective = PlainCE()
        models[name] = make_step(model, bf16=name.endswith("bf16"))
    seconds = dict.fromkeys(models, 0.0)
    for i, batch in enumerate(batches[:2] + batches):  # the first two steps warm up
        for name, step in models.items():
            with stock_pytorch() if name.startswith("stock") else nullcontext():
                start = time.perf_counter()
                step(batch)
                if i >= 2:
                    seconds[name] += time.perf_counter() - start
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    print(f"torch {torch.__version__}, CPU, {torch.get_num_threads()} threads, one epoch of each\n")
    columns = ["shape", "batch", "stock fp32 (s/epoch)", "llmrec fp32", "llmrec bf16"]
    columns += ["stock / llmrec fp32", "stock / llmrec bf16"]
    print("| " + " | ".join(columns) + " |")
    print("|---" * len(columns) + "|")
    for size in args.sizes:
        t = measure(size)
        stock, fp32, bf16 = t["stock fp32"], t["llmrec fp32"], t["llmrec bf16"]
        print(
            f"| {SHAPES[size].name} | {BATCH[size]} x {SHAPES[size].max_len} | {stock:.1f} | {fp32:.1f} | "
            f"{bf16:.1f} | {stock / fp32:.2f}× | {stock / bf16:.2f}× |",
            flush=True,
        )


if __name__ == "__main__":
    main()
