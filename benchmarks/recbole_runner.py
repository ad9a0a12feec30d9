"""RecBole 1.2.1's SASRec, time-boxed, for ``peer_recbole.py``. Runs in RecBole's own venv
(``make recbole-venv``), with ``PYTHONPATH=src`` so that llmrec's ranking functions (torch only) score
RecBole's model on exactly llmrec's terms.

    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 PYTHONPATH=src .venv-recbole/bin/python benchmarks/recbole_runner.py \
        --atomic-dir outputs/benchmarks/recbole/atomic --dataset beauty --max-len 50 --max-minutes 20 \
        --out outputs/benchmarks/recbole/recbole_beauty.json

Training is RecBole's own: its data preparation (every prefix of every training sequence is a sample),
its model, its loss, Adam, batch order; the loop is ``Trainer._train_epoch``'s body with a clock, so it
can stop inside an epoch. At each epoch end (and when the box closes) RecBole's own full-sort validation
runs and is timed: that is "seconds per evaluation pass" and the metric RecBole selects its best model
by (its valid_metric, NDCG@10, history not masked). The clock (``wall``) counts training and those
native evaluations. Separately, and off the clock, llmrec's functions rank the same model's scores for
every validation user with and without history masking (pessimistic ties), for the curve; at the end
the best state (by RecBole's native validation NDCG@10) is scored on the test users the same way.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path
from typing import Any

import torch
from recbole.config import Config
from recbole.data import create_dataset, data_preparation
from recbole.model.sequential_recommender import SASRec
from recbole.trainer import Trainer
from recbole.utils import init_seed

from llmrec.evaluation.metrics import mask_scores, rank_metrics, target_ranks


def recbole_config(atomic_dir: Path, dataset: str, max_len: int, seed: int, out_dir: Path) -> Config:
    settings = {
        "data_path": str(atomic_dir),
        "checkpoint_dir": str(out_dir / "saved"),
        "USER_ID_FIELD": "user_id",
        "ITEM_ID_FIELD": "item_id",
        "TIME_FIELD": "timestamp",
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "MAX_ITEM_LIST_LENGTH": max_len,
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "group_by": "user", "mode": "full"},
        "train_neg_sample_args": None,
        "loss_type": "CE",
        "hidden_size": 64,
        "inner_size": 256,
        "n_layers": 2,
        "n_heads": 2,
        "train_batch_size": 256,
        "eval_batch_size": 512,
        "learning_rate": 1e-3,
        "metrics": ["Hit", "NDCG"],
        "topk": [10],
        "valid_metric": "NDCG@10",
        "use_gpu": torch.cuda.is_available(),
        "show_progress": False,
        "seed": seed,
        "state": "WARNING",
    }
    return Config(model="SASRec", dataset=dataset, config_dict=settings)


def user_sequences(inter_file: Path, dataset) -> dict[int, list[int]]:
    """Every user's items in file order, as RecBole's internal ids."""
    users: dict[str, list[str]] = {}
    with inter_file.open() as handle:
        next(handle)
        for line in handle:
            user, item, _ = line.rstrip("\n").split("\t")
            users.setdefault(user, []).append(item)
    out = {}
    for user, items in users.items():
        out[int(dataset.token2id("user_id", user))] = [int(i) for i in dataset.token2id("item_id", items)]
    return out


@torch.no_grad()
def llmrec_scores(model: SASRec, sequences: dict[int, list[int]], stage: str, max_len: int, batch: int = 512):
    """(ranks masked, ranks unmasked) of each user's validation or test target under llmrec's rules."""
    model.eval()
    drop = 2 if stage == "val" else 1
    masked_ranks, plain_ranks = [], []
    users = sorted(sequences)
    device = next(model.parameters()).device
    for start in range(0, len(users), batch):
        rows = [sequences[u][: len(sequences[u]) - drop + 1] for u in users[start : start + batch]]
        histories = [r[:-1] for r in rows]
        inputs = [h[-max_len:] for h in histories]
        lengths = torch.tensor([len(x) for x in inputs])
        item_seq = torch.zeros(len(rows), max_len, dtype=torch.long)  # RecBole pads on the right
        for i, x in enumerate(inputs):
            item_seq[i, : len(x)] = torch.tensor(x)
        width = max(len(h) for h in histories)
        seen = torch.zeros(len(rows), width, dtype=torch.long)
        for i, h in enumerate(histories):
            seen[i, : len(h)] = torch.tensor(h)
        targets = torch.tensor([r[-1] for r in rows])
        output = model.forward(item_seq.to(device), lengths.to(device))
        scores = (output @ model.item_embedding.weight.T).cpu()
        masked_ranks.append(target_ranks(mask_scores(scores, targets, seen), targets))
        plain_ranks.append(target_ranks(mask_scores(scores, targets, None), targets))
    model.train()
    return torch.cat(masked_ranks), torch.cat(plain_ranks)


def summary(ranks: torch.Tensor) -> dict[str, float]:
    metrics = rank_metrics(ranks, [10])
    return {"ndcg_10": float(metrics["ndcg_10"].mean()), "hr_10": float(metrics["hr_10"].mean())}


def train_epoch(
    model: SASRec, trainer: Trainer, train_data: Any, device: Any, seconds_left: float
) -> tuple[int, float, bool]:
    """``Trainer._train_epoch``'s body with a clock that stops it once ``seconds_left`` are spent, even
    inside the epoch: (steps done, seconds spent, whether the box closed)."""
    model.train()
    steps, started = 0, time.perf_counter()
    for interaction in train_data:
        interaction = interaction.to(device)
        trainer.optimizer.zero_grad()
        loss = model.calculate_loss(interaction)
        loss.backward()
        trainer.optimizer.step()
        steps += 1
        if time.perf_counter() - started > seconds_left:
            return steps, time.perf_counter() - started, True
    return steps, time.perf_counter() - started, False


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--atomic-dir", type=Path, required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--max-len", type=int, required=True)
    parser.add_argument("--max-minutes", type=float, required=True, help="training + native evaluation box")
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)

    config = recbole_config(args.atomic_dir, args.dataset, args.max_len, args.seed, args.out.parent)
    init_seed(config["seed"], config["reproducibility"])
    prep_start = time.perf_counter()
    dataset = create_dataset(config)
    train_data, valid_data, _ = data_preparation(config, dataset)
    model = SASRec(config, train_data.dataset).to(config["device"])
    trainer = Trainer(config, model)
    prep_seconds = time.perf_counter() - prep_start
    sequences = user_sequences(args.atomic_dir / args.dataset / f"{args.dataset}.inter", dataset)
    budget = args.max_minutes * 60.0
    steps_per_epoch = len(train_data)

    wall = 0.0  # training + native validation, the time a RecBole user waits
    curve, train_seconds, native_eval_seconds = [], [], []
    best = {"native_ndcg_10": -1.0, "state": None, "wall": None, "epoch": None}
    epoch, steps, out_of_time = 0, 0, False
    while not out_of_time:
        epoch_steps, spent, out_of_time = train_epoch(
            model, trainer, train_data, config["device"], budget - wall
        )
        wall += spent
        steps += epoch_steps
        train_seconds.append((epoch_steps, spent))
        started = time.perf_counter()
        native = trainer.evaluate(valid_data, load_best_model=False, show_progress=False)
        native_eval_seconds.append(time.perf_counter() - started)
        wall += native_eval_seconds[-1]
        masked, plain = llmrec_scores(model, sequences, "val", args.max_len)
        point = {
            "epoch": epoch + epoch_steps / steps_per_epoch,
            "wall": wall,
            "native_ndcg_10": float(native["ndcg@10"]),
            "masked": summary(masked),
            "unmasked": summary(plain),
        }
        curve.append(point)
        print(json.dumps(point), flush=True)
        if point["native_ndcg_10"] > best["native_ndcg_10"]:
            best = {"native_ndcg_10": point["native_ndcg_10"], "state": copy.deepcopy(model.state_dict())}
            best.update(wall=wall, epoch=point["epoch"])
        epoch += 1

    model.load_state_dict(best["state"])
    masked, plain = llmrec_scores(model, sequences, "test", args.max_len)
    full_steps = [s for n, s in train_seconds if n == steps_per_epoch]
    per_step = sum(s for _, s in train_seconds) / max(steps, 1)
    result = {
        "framework": "RecBole 1.2.1",
        "dataset": args.dataset,
        "train_samples": len(train_data.dataset),
        "steps_per_epoch": steps_per_epoch,
        "epochs_done": steps / steps_per_epoch,
        "seconds_per_epoch": sum(full_steps) / len(full_steps) if full_steps else per_step * steps_per_epoch,
        "epoch_time_extrapolated": not full_steps,
        "seconds_per_eval": sum(native_eval_seconds) / len(native_eval_seconds),
        "prep_seconds": prep_seconds,
        "wall": wall,
        "best_wall": best["wall"],
        "best_epoch": best["epoch"],
        "best_val_native_ndcg_10": best["native_ndcg_10"],
        "test_masked": summary(masked),
        "test_unmasked": summary(plain),
        "curve": curve,
    }
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "curve"}))


if __name__ == "__main__":
    main()
