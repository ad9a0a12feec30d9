"""Speed of item-text embedding (cold, then from the cache) and of LLMSeqSim end to end, plus the accuracy
of every LLMSeqSim variant (aggregation x similarity). Prints a table.

    PYTHONPATH=src python benchmarks/embeddings_speed.py --root /work/shared/data/amazon-beauty
    PYTHONPATH=src python benchmarks/embeddings_speed.py --dataset synthetic --variants linear-cosine
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from llmrec.configs import config_dir
from llmrec.data.cache import load_sequence_data
from llmrec.embeddings.cache import cached_embeddings
from llmrec.run.pipeline import run

CONF = str(config_dir())
AGGREGATIONS = {
    "last": "LastItem",
    "mean": "Mean",
    "linear": "LinearRecency",
    "harmonic": "HarmonicRecency",
    "log": "LogRecency",
}
SIMILARITIES = {"cosine": "CosineSimilarity", "dot": "DotSimilarity", "euclidean": "EuclideanSimilarity"}


def _config(args: argparse.Namespace, cache: Path, *extra: str):
    overrides = [f"dataset={args.dataset}", f"paths.cache_dir={cache}", "logger=none", *extra]
    if args.root:
        overrides.append(f"dataset.root={args.root}")
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def embedding_rows(args: argparse.Namespace, cache: Path) -> list[tuple[str, float, str]]:
    cfg = _config(args, cache)
    data, _ = load_sequence_data(instantiate(cfg.dataset.source), int(cfg.dataset.k_core), cache / "datasets")
    texts = data.item_text()
    rows = []
    for label in ("cold (load model + encode)", "warm (read cache)"):
        start = time.perf_counter()
        vectors, _ = cached_embeddings(instantiate(cfg.encoder), texts, cache / "embeddings")
        rows.append((f"embed {len(texts)} items, {label}", time.perf_counter() - start, f"{vectors.shape}"))
    return rows


def llmseqsim_rows(args: argparse.Namespace, cache: Path) -> list[tuple[str, float, str]]:
    rows = []
    for variant in args.variants:
        agg, sim = variant.split("-")
        overrides = [
            "model=llmseqsim",
            f"model.aggregation._target_=llmrec.models.llmseqsim.{AGGREGATIONS[agg]}",
            f"model.similarity._target_=llmrec.models.llmseqsim.{SIMILARITIES[sim]}",
            "trainer.enable_progress_bar=false",
        ]
        cfg = _config(args, cache, *overrides)
        with tempfile.TemporaryDirectory() as out:
            results = run(cfg, Path(out))
        t, m, v = results["timings"], results["metrics"]["test"], results["metrics"]["val"]
        users = len(results["per_user"]["test"]["user"])
        rows.append(
            (
                f"llmseqsim {variant}: run (val+test), {users} test users",
                t["total_seconds"],
                f"test {t['test_seconds']:.1f} s  val ndcg@10 {v['ndcg_10']:.4f}  "
                f"test ndcg@10 {m['ndcg_10']:.4f}  hr@10 {m['hr_10']:.4f}",
            )
        )
    return rows


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--dataset", default="beauty")
    parser.add_argument("--root", default=None, help="dataset folder (dataset.root)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: a fresh temporary folder")
    every = [f"{a}-{s}" for a in AGGREGATIONS for s in SIMILARITIES]
    parser.add_argument(
        "--variants", nargs="+", default=every, help="e.g. linear-cosine (aggregation-similarity)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache_dir or Path(tmp)
        rows = embedding_rows(args, cache) + llmseqsim_rows(args, cache)
    width = max(len(r[0]) for r in rows)
    print(f"{'step':<{width}}  {'seconds':>8}  result")
    for name, seconds, result in rows:
        print(f"{name:<{width}}  {seconds:>8.2f}  {result}")


if __name__ == "__main__":
    main()
