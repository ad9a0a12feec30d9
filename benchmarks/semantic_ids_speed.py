"""Time to learn semantic IDs (training + assignment of every item) with the RQ-VAE and RQ-KMeans tokenizers,
and what the codes look like (codebook use, collisions, reconstruction). Prints a table.

    PYTHONPATH=src python benchmarks/semantic_ids_speed.py                    # random 384-d, Beauty's size
    LLMREC_DATA_DIR=/work/shared/data PYTHONPATH=src python benchmarks/semantic_ids_speed.py --dataset beauty

``--dataset`` embeds the dataset's item texts with ``--encoder`` (MiniLM by default) through the embedding
cache under ``--cache`` first; that time is not counted. Target: under 2 minutes per method on 2 cores.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from llmrec.configs import config_dir
from llmrec.semantic_ids.learn import learn_semantic_ids
from llmrec.semantic_ids.rqvae import RqVaeSettings

BEAUTY_ITEMS = 12_101


def dataset_embeddings(name: str, encoder: str, cache: Path) -> np.ndarray:
    from llmrec.data.cache import load_sequence_data
    from llmrec.data.item_text import fill_empty_texts

    overrides = [f"dataset={name}", f"encoder={encoder}", f"paths.cache_dir={cache}"]
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    data, _ = load_sequence_data(instantiate(cfg.dataset.source), int(cfg.dataset.k_core), cache / "datasets")
    texts, _ = fill_empty_texts(data.item_text(), str(cfg.dataset.get("empty_text", "[no text]")))
    embeddings = instantiate(cfg.semantic_ids.embeddings)
    return embeddings(texts)


def row(method: str, stats: dict) -> str:
    used = " ".join(f"{u['used']}/{u['size']}" for u in stats["usage"])
    perplexity = " ".join(f"{u['perplexity']:.0f}" for u in stats["usage"][:-1])
    collisions = stats["collisions"]
    error = stats["reconstruction"].get("embedding_unexplained")
    if error is None:
        error = stats["reconstruction"]["embedding_unexplained_per_level"][-1]
    return (
        f"{method:<9} {stats['seconds']:>7.1f} {used:<26} {perplexity:<13} "
        f"{collisions['items_sharing_codes']:>6} {collisions['largest_group']:>7} {error:>7.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", help="a conf/dataset name (default: random embeddings)")
    parser.add_argument("--encoder", default="minilm")
    parser.add_argument("--items", type=int, default=BEAUTY_ITEMS, help="random catalog size")
    parser.add_argument("--dim", type=int, default=384, help="random embedding size")
    parser.add_argument("--epochs", type=int, default=RqVaeSettings.epochs, help="RQ-VAE epochs")
    parser.add_argument("--methods", nargs="+", default=["rqkmeans", "rqvae"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", type=Path, help="cache folder for --dataset (default: a temp folder)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        if args.dataset:
            points = dataset_embeddings(args.dataset, args.encoder, args.cache or Path(tmp))
            source = f"{args.dataset} ({args.encoder})"
        else:
            points = np.random.default_rng(0).normal(size=(args.items, args.dim)).astype(np.float32)
            source = "random"
    print(
        f"{source}: {points.shape[0]} items x {points.shape[1]} dims, {args.threads} threads, 3 x 256 codes"
    )
    print(
        f"{'method':<9} {'seconds':>7} {'codes used per level':<26} {'perplexity':<13} "
        f"{'shared':>6} {'largest':>7} {'unexpl':>7}"
    )
    for method in args.methods:
        _, stats = learn_semantic_ids(points, method, rqvae=RqVaeSettings(epochs=args.epochs))
        print(row(method, stats))
    print("shared: items whose 3 codes another item has too; unexpl: unexplained variance of the embeddings")


if __name__ == "__main__":
    main()
