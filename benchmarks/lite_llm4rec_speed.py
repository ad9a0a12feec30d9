"""Inference speed of Lite-LLM4Rec (one pass, item projection head) against LLMSeqPrompt (beam search over
titles, mapped back to items) on the same users, with backbones of the same family and size (LLaMA, random
weights: ``tiny`` on CPU, ``base`` ~ 12 layers x 768 for a GPU), and the cost of Lite-LLM4Rec's item cache
on the Amazon Beauty catalog with MiniLM. Prints Markdown tables.

    flock /tmp/llmrec-cpu.lock env PYTHONPATH=src python benchmarks/lite_llm4rec_speed.py
    PYTHONPATH=src python benchmarks/lite_llm4rec_speed.py --size base --device cuda --users 512
    PYTHONPATH=src python benchmarks/lite_llm4rec_speed.py --skip-catalog --users 64

Both models are untrained: inference cost does not depend on the weights, except that LLMSeqPrompt stops a
beam at its end-of-sequence token, so its ``max_new_tokens`` is the longest catalog title (in tokens) + 1,
the length a trained model needs for the longest title. Lite-LLM4Rec's catalog table is built before the
clock starts (its cost is printed, and the second table gives it on Beauty). Lite-LLM4Rec's time is the
median of ``--repeats`` passes over the users (under a second each); beam search's is one pass.
"""

from __future__ import annotations

import argparse
import csv
import logging
import resource
import statistics
import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig
from timing import elapsed_since

from llmrec.configs import config_dir
from llmrec.data.cache import load_sequence_data
from llmrec.data.split import LeaveOneOut
from llmrec.models.base import SequentialRecommender
from llmrec.run.pipeline import build_model

CONF = str(config_dir())
SIZES = {  # LLaMA config overrides per size (both models use the same)
    "tiny": {},
    "base": {
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "num_key_value_heads": 12,
    },
}


def _config(cache: Path, *overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=[f"paths.cache_dir={cache}", *overrides])


def _llama(prefix: str, size: str) -> list[str]:
    return [f"{prefix}.config.{key}={value}" for key, value in SIZES[size].items()]


def _build(
    cfg: DictConfig, num_items: int, max_len: int, texts: list[str], device: str
) -> SequentialRecommender:
    torch.manual_seed(0)
    model = build_model(cfg, num_items, max_len)
    model.bind_data(torch.ones(num_items + 1), texts)
    model.configure_model()
    return model.to(device).eval()


def models(args: argparse.Namespace, cache: Path, num_items: int, max_len: int, texts: list[str]) -> dict:
    prompt = _config(
        cache,
        "model=llmseqprompt",
        "encoder=hashing",
        f"model.num_beams={args.beams}",
        f"model.num_return_sequences={args.beams}",
        *_llama("model.llm", args.size),
    )
    lite = _config(
        cache,
        "model=lite_llm4rec_item_lora",
        "llm@model.item_llm.llm=tiny_llama",
        "model.item_llm.llm.model_class=transformers.AutoModel",
        "model.item_llm.llm.lora=null",
        "llm@model.rec_llm=tiny_llama",
        "model.rec_llm.model_class=transformers.AutoModel",
        "model.rec_llm.lora=null",
        *_llama("model.item_llm.llm", args.size),
        *_llama("model.rec_llm", args.size),
    )
    prompt_model = _build(prompt, num_items, max_len, texts, args.device)
    longest = max(len(prompt_model.tokenizer.encode(text)) for text in texts)
    prompt_model.max_new_tokens = longest + 1
    lite_model = _build(lite, num_items, max_len, texts, args.device)
    start = time.perf_counter()
    lite_model.item_llm.catalog()
    lite_model.cache_seconds = time.perf_counter() - start
    return {"Lite-LLM4Rec": lite_model, f"LLMSeqPrompt (beam {args.beams})": prompt_model}


@torch.no_grad()
def users_per_second(
    model: SequentialRecommender, rows: torch.Tensor, batch: int, repeats: int
) -> tuple[float, float]:
    """(users/s, seconds) of scoring ``rows``: the median of ``repeats`` passes after a warm-up."""
    model(rows[:2].to(model.device))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for chunk in rows.split(batch):
            model(chunk.to(model.device))
        times.append(elapsed_since(start, model.device))
    seconds = statistics.median(times)
    return len(rows) / seconds, seconds


def append_csv(path: Path, rows: list[dict[str, object]]) -> None:
    """Add the speed rows to ``path`` (the ledger's claims read it), the header once."""
    new_file = not path.is_file()
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        if new_file:
            writer.writeheader()
        writer.writerows(rows)


def speed_table(args: argparse.Namespace, cache: Path) -> str:
    cfg = _config(cache, f"dataset={args.dataset}")
    data, _ = load_sequence_data(instantiate(cfg.dataset.source), int(cfg.dataset.k_core), cache / "data")
    max_len = int(cfg.dataset.max_len)
    rows, _, _ = LeaveOneOut(data).eval_rows("test", max_len)
    inputs = torch.from_numpy(rows[: args.users, :-1])  # (U, L) test inputs of the first users
    built = models(args, cache, data.num_items, max_len, data.item_text())
    lines = [
        f"Speed: {len(inputs)} test users of {args.dataset} ({data.num_items} items), {args.size} LLaMA "
        f"backbones, {args.device}",
        "",
        "| model | batch | seconds | users/s | speed-up |",
        "|---|---:|---:|---:|---:|",
    ]
    measured = {}
    for name, model in built.items():
        lite = name == "Lite-LLM4Rec"
        batch, repeats = (args.batch, args.repeats) if lite else (args.prompt_batch, 1)
        measured[name] = (batch, *users_per_second(model, inputs, batch, repeats))
    reference_name = next(n for n in measured if n.startswith("LLMSeqPrompt"))
    reference = measured[reference_name][1]
    rows = []
    for name, (batch, speed, seconds) in measured.items():
        lines.append(f"| {name} | {batch} | {seconds:.2f} | {speed:.1f} | {speed / reference:.1f}x |")
        rows.append(
            {"dataset": args.dataset, "items": data.num_items, "users": len(inputs), "model": name}
            | {"backbone": f"{args.size} LLaMA", "device": args.device, "batch": batch, "seconds": seconds}
            | {"users_per_s": speed, "reference": reference_name, "reference_users_per_s": reference}
            | {"speedup": speed / reference}
        )
    if args.csv is not None:
        append_csv(args.csv, rows)
    lite = built["Lite-LLM4Rec"]
    lines.append("")
    lines.append(
        f"Lite-LLM4Rec's catalog table ({data.num_items} items) took {lite.cache_seconds:.2f} s, once."
    )
    return "\n".join(lines)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def catalog_table(args: argparse.Namespace, cache: Path) -> str:
    """Time and memory to encode the Beauty catalog: the default frozen Item LLM (sentence-transformers
    MiniLM through the disk cache, cold then warm) and a MiniLM ItemLLM refresh (what each epoch costs
    when the Item LLM is trained)."""
    from llmrec.embeddings.cache import ItemEmbeddings
    from llmrec.models.layers.item_towers import ItemLLM, TextEncoderItems
    from llmrec.models.layers.llm import minilm_spec

    cfg = _config(cache, "dataset=beauty", f"dataset.root={args.beauty_root}")
    data, _ = load_sequence_data(instantiate(cfg.dataset.source), int(cfg.dataset.k_core), cache / "data")
    texts = data.item_text()
    lines = [
        f"Item cache: Amazon Beauty catalog, {len(texts)} items, MiniLM (384-d), {args.device}",
        "",
        "| step | seconds | items/s | table MiB | peak RSS MiB |",
        "|---|---:|---:|---:|---:|",
    ]
    steps = []
    for label in ("cold: load + encode + write cache", "warm: read the disk cache"):
        tower = TextEncoderItems(ItemEmbeddings(instantiate(cfg.encoder), str(cache / "embeddings")))
        steps.append((f"frozen (sentence-transformers), {label}", tower))
    refresh = ItemLLM(minilm_spec(), pooling="mean", max_tokens=args.max_tokens, batch_size=128)
    steps.append((f"ItemLLM refresh (HF MiniLM, mean pooling, <= {args.max_tokens} tokens)", refresh))
    for label, tower in steps:
        tower.bind(texts)
        tower.load()
        start = time.perf_counter()
        table = tower.catalog()
        seconds = time.perf_counter() - start
        mib = table.numel() * table.element_size() / 2**20
        lines.append(
            f"| {label} | {seconds:.2f} | {len(texts) / seconds:.0f} | {mib:.1f} | {_rss_mib():.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dataset", default="synthetic", help="users for the speed table")
    parser.add_argument("--users", type=int, default=256)
    parser.add_argument("--beams", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5, help="Lite-LLM4Rec passes (median); beam search: 1")
    parser.add_argument("--batch", type=int, default=256, help="Lite-LLM4Rec users per forward")
    parser.add_argument("--prompt-batch", type=int, default=16, help="LLMSeqPrompt users per generate")
    parser.add_argument("--beauty-root", default="/work/shared/data/amazon-beauty")
    parser.add_argument("--max-tokens", type=int, default=32, help="ItemLLM tokens per item text")
    parser.add_argument("--skip-catalog", action="store_true", help="only the speed table")
    parser.add_argument("--csv", type=Path, default=None, help="also append the speed rows to this CSV")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_grad_enabled(False)
    with tempfile.TemporaryDirectory(prefix="lite-llm4rec-bench-") as tmp:
        print(speed_table(args, Path(tmp)))
        if not args.skip_catalog:
            print()
            print(catalog_table(args, Path(tmp)))


if __name__ == "__main__":
    main()
