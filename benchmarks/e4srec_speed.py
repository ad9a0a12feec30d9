"""E4SRec's cost claims (Li et al., arXiv 2312.02443), printed as a Markdown table.

1. Trainable parameters against the total with the LLaMA-2-13B architecture on Beauty's catalog (12,101
   items, 64-d SASRec ID embeddings, LoRA r=16 on gate/up/down), counted on the meta device (no weights),
   and the bytes of the saved pluggable part that follow from it.
2. The saved pluggable part of the tiny random LLaMA on the same catalog: its size on disk.
3. Inference, batch 64, 50-item histories: E4SRec's all-item scores against one plain forward of the
   backbone body over inputs of the same length, as a ratio measured in this run, and users/s. On CPU with
   the tiny model; on a GPU with a random model of the LLaMA-2-7B architecture in bf16 (``--arch 7b``),
   under bf16 autocast as ``trainer=gpu`` runs it; and with LoRA merged into the backbone, as served.
   Issue 23's reference is a **bare** backbone: the same architecture (or ``--weights``) built by
   ``transformers.AutoModel`` with no peft wrapper, its forward over token inputs of the same length
   (target: E4SRec all-item scores <= 1.15x of it at 7B, bf16, batch 64).

Usage: ``python benchmarks/e4srec_speed.py [--items 12101] [--batch 64] [--repeats 20] [--threads 2]``
       ``python benchmarks/e4srec_speed.py --arch 7b --device cuda``  (about 28 GB of GPU memory)
       ``python benchmarks/e4srec_speed.py --arch 7b --device cuda --weights /models/Llama-2-7b-hf``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from timing import elapsed_since
from transformers import LlamaConfig

from llmrec.models.e4srec.model import E4SRec, projections, transformer_body
from llmrec.models.layers.llm import LLMSpec, LoraSpec


def llama2_arch(hidden: int, intermediate: int, layers: int) -> LlamaConfig:
    """A LLaMA-2 architecture (multi-head attention, 128-d heads, 32k vocabulary), no weights."""
    heads = hidden // 128
    return LlamaConfig(
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        vocab_size=32000,
        max_position_embeddings=4096,
    )


LLAMA2_13B = llama2_arch(5120, 13824, 40)
LLAMA2_7B = llama2_arch(4096, 11008, 32)
TINY = LlamaConfig(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=512,
)
LORA = LoraSpec(["gate_proj", "up_proj", "down_proj"], r=16, alpha=16, dropout=0.05)


def count_13b(num_items: int, id_dim: int, history: int, prompt: int) -> dict[str, float]:
    """Parameter counts, pluggable bytes and the forward's multiply-adds relative to the plain body (per
    user: ``prompt + history`` tokens through the body and LoRA, ``history`` input projections, one item
    projection; attention scores left out) of E4SRec on LLaMA-2-13B, built on the meta device."""
    with torch.device("meta"):
        backbone = LLMSpec(config=LLAMA2_13B, lora=LORA, dtype="bfloat16").load()
        input_proj, item_proj = projections(id_dim, LLAMA2_13B.hidden_size, num_items)
    params = [*backbone.parameters(), *input_proj.parameters(), *item_proj.parameters()]
    trainable = [p for p in params if p.requires_grad]
    saved = sum(p.numel() * p.element_size() for p in trainable) + (num_items + 1) * id_dim * 4
    named = dict(backbone.named_parameters())
    body = sum(p.numel() for n, p in named.items() if p.ndim == 2 and "lora_" not in n and "embed" not in n)
    body -= LLAMA2_13B.vocab_size * LLAMA2_13B.hidden_size  # the LM head: not run by E4SRec or the body
    lora = sum(p.numel() for n, p in named.items() if "lora_" in n)
    tokens = prompt + history
    extra = tokens * lora + history * input_proj.weight.numel() + item_proj.weight.numel()
    return {
        "total": sum(p.numel() for p in params),
        "trainable": sum(p.numel() for p in trainable),
        "saved_bytes": saved,
        "flops_ratio": 1 + extra / (tokens * body),
    }


ARCHS = {"tiny": (TINY, "float32"), "7b": (LLAMA2_7B, "bfloat16")}


def build_model(
    arch: str, num_items: int, id_dim: int, max_len: int, device: str, weights: str | None = None
) -> E4SRec:
    """E4SRec on a random backbone of ``arch`` (or the checkpoint in ``weights``), in the arch's dtype,
    built directly on ``device`` (a random 7B model is never materialised on the host); the two
    projections stay float32, as under bf16-mixed."""
    config, dtype = ARCHS[arch]
    backbone = LLMSpec(source=weights, lora=LORA, dtype=dtype) if weights else None
    spec = backbone or LLMSpec(config=config, lora=LORA, dtype=dtype)
    net = E4SRec(num_items, max_len, spec, id_dim=id_dim)
    with torch.device(device):
        net.configure_model()
    return net.to(device).eval()


def seconds(step: Callable[[], object], repeats: int, device: str) -> float:
    """Median wall time of ``step`` after two warm-up calls, waiting for the device each time."""

    def timed() -> float:
        start = time.perf_counter()
        step()
        return elapsed_since(start, device)

    for _ in range(2):
        timed()
    return sorted(timed() for _ in range(repeats))[repeats // 2]


def bare_backbone(arch: str, device: str, weights: str | None) -> torch.nn.Module:
    """The backbone's body as transformers builds it, no peft wrapper: issue 23's reference forward."""
    from transformers import AutoModel

    config, dtype = ARCHS[arch]
    if weights:
        return AutoModel.from_pretrained(weights, dtype=getattr(torch, dtype)).to(device).eval()
    with torch.device(device):
        return AutoModel.from_config(config, dtype=getattr(torch, dtype)).eval()


@torch.no_grad()
def inference_times(
    net: E4SRec, bare: torch.nn.Module, batch: int, repeats: int, device: str
) -> dict[str, float]:
    history = torch.randint(1, net.num_items + 1, (batch, net.max_len), device=device)
    _, mask = net.prompt_embeddings(history)
    ids = torch.randint(4, len(net.tokenizer), mask.shape, device=device)  # token inputs, same length
    body = transformer_body(net.backbone)

    def plain() -> object:
        with net.backbone.disable_adapter():
            return body(input_ids=ids, attention_mask=mask)

    with torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=device.startswith("cuda")):
        times = {
            "bare": seconds(lambda: bare(input_ids=ids, attention_mask=mask), repeats, device),
            "plain": seconds(plain, repeats, device),
            "lora": seconds(lambda: body(input_ids=ids, attention_mask=mask), repeats, device),
            "e4srec": seconds(lambda: net(history), repeats, device),
        }
        net.backbone.merge_adapter()  # serving: LoRA folded into the frozen weights, no adapter matmuls
        times["merged"] = seconds(lambda: net(history), repeats, device)
        net.backbone.unmerge_adapter()
    return times


def ratio(value: float, reference: float) -> str:
    return f"{value / reference:.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=12101)
    parser.add_argument("--id-dim", type=int, default=64)
    parser.add_argument("--max-len", type=int, default=50)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--arch", choices=sorted(ARCHS), default="tiny", help="backbone for the timings")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda for the GPU figures")
    parser.add_argument("--weights", help="a local checkpoint folder of --arch (default: random weights)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    net = build_model(args.arch, args.items, args.id_dim, args.max_len, args.device, args.weights)
    prompt = net.prefix_ids.numel() + net.suffix_ids.numel()
    big = count_13b(args.items, args.id_dim, args.max_len, prompt)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "e4srec.pt"
        net.save_pluggable(path)
        tiny_bytes = path.stat().st_size
    tiny = net.parameter_counts()
    bare = bare_backbone(args.arch, args.device, args.weights)
    times = inference_times(net, bare, args.batch, args.repeats, args.device)
    share = big["trainable"] / big["total"]
    arch = "tiny LLaMA" if args.arch == "tiny" else f"random LLaMA-2-7B arch, {ARCHS[args.arch][1]}"
    if args.weights:
        arch = f"{Path(args.weights).name}, {ARCHS[args.arch][1]}"
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    rows = [
        ("trainable / total, LLaMA-2-13B arch", f"{big['trainable']:,} / {big['total']:,}", f"{share:.3%}"),
        ("saved pluggable part, LLaMA-2-13B (computed)", f"{big['saved_bytes'] / 2**20:,.1f} MiB", ""),
        ("E4SRec / plain body multiply-adds, LLaMA-2-13B (computed)", "", f"{big['flops_ratio']:.3f}x"),
        (f"trainable / total, {arch}", f"{tiny['trainable']:,} / {tiny['total']:,}", ""),
        (f"saved pluggable part, {arch} (on disk)", f"{tiny_bytes / 2**20:,.2f} MiB", ""),
        (f"plain backbone forward, batch {args.batch} ({where})", f"{times['plain'] * 1e3:.1f} ms", "1.00x"),
        (
            "backbone + LoRA forward",
            f"{times['lora'] * 1e3:.1f} ms",
            f"{times['lora'] / times['plain']:.2f}x",
        ),
        (
            f"E4SRec all-item scores ({args.items:,} items)",
            f"{times['e4srec'] * 1e3:.1f} ms",
            ratio(times["e4srec"], times["plain"]),
        ),
        ("E4SRec users/s", f"{args.batch / times['e4srec']:,.0f}", ""),
        (
            "E4SRec all-item scores, LoRA merged (serving)",
            f"{times['merged'] * 1e3:.1f} ms",
            ratio(times["merged"], times["plain"]),
        ),
        ("E4SRec users/s, LoRA merged", f"{args.batch / times['merged']:,.0f}", ""),
        ("E4SRec all-item scores / backbone + LoRA forward", "", ratio(times["e4srec"], times["lora"])),
        (
            f"bare backbone forward (transformers, no peft), batch {args.batch}",
            f"{times['bare'] * 1e3:.1f} ms",
            "",
        ),
        (
            "E4SRec all-item scores / bare backbone forward (target <= 1.15x)",
            "",
            ratio(times["e4srec"], times["bare"]),
        ),
    ]
    setting = f"{args.items:,} items, {args.id_dim}-d IDs, history {args.max_len}, {args.threads} threads"
    print(f"E4SRec cost: {setting}, {where}")
    print()
    print("| measure | value | ratio / share |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
