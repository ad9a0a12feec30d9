"""llmrec's SASRec against RecBole 1.2.1's SASRec on the same files, same machine, same model size.

    make bench-recbole                      # venv + both datasets, default time boxes
    PYTHONPATH=src python benchmarks/peer_recbole.py --data-root ../shared/data --dataset beauty \
        --recbole-minutes 20 --llmrec-minutes 10

Data: llmrec's own loading (the processed ``Beauty.txt`` / ``ml-1m_user_sequences.txt``, 5-core) is
written as RecBole atomic files, the position in the sequence as the timestamp, so both frameworks see
the same users, items and order, and split leave-one-out identically. Model: hidden 64, 2 layers, 2 heads,
inner 256, dropout 0.5 (both defaults), full-softmax CE, Adam lr 1e-3, batch 256, max_len 50 (Beauty) /
200 (ML-1M). RecBole runs in ``.venv-recbole`` through ``recbole_runner.py``; llmrec runs ``train.run``
with an epoch clock. Both are time-boxed: a RecBole run stopped inside an epoch reports an
extrapolated epoch time and says so.

Columns: seconds per epoch (training only); seconds per full evaluation pass (each framework's own
validation pass over all users, full catalog); wall time to the best validation NDCG@10 (training +
validation, from the start of fitting); test NDCG@10 / HR@10 of the best checkpoint, history masked and
not, both ranked by llmrec's functions (pessimistic ties). RecBole selects its best checkpoint by its own
unmasked validation NDCG@10, llmrec by its masked one, as each framework does by default.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from llmrec.configs import config_dir
from llmrec.data.cache import load_sequence_data
from llmrec.data.datamodule import SequenceDataModule
from llmrec.data.split import LeaveOneOut
from llmrec.evaluation.evaluator import RankingEvaluator
from llmrec.run.pipeline import build_model, run

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"beauty": "amazon-beauty", "ml1m": "ml-1m"}
MAX_LEN = {"beauty": 50, "ml1m": 200}
RECBOLE_PYTHON = ROOT / ".venv-recbole" / "bin" / "python"


def _dhms(minutes: float) -> str:
    total = int(minutes * 60)
    return f"00:{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def llmrec_config(dataset: str, data_root: Path, out_dir: Path, minutes: float, extra: list[str]):
    overrides = [
        f"dataset={dataset}",
        "model=sasrec",
        f"dataset.root={data_root / FOLDERS[dataset]}",
        f"dataset.max_len={MAX_LEN[dataset]}",
        f"paths.output_dir={out_dir}",
        f"trainer.max_time={_dhms(minutes)}",
        "trainer.max_epochs=1000",
        "trainer.enable_progress_bar=false",
        "datamodule.batch_size=256",
        "callbacks.early_stopping.patience=10",
        "+callbacks.clock._target_=llmrec.run.callbacks.EpochClock",
        "logger=csv",
        *extra,
    ]
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def write_atomic(dataset: str, data_root: Path, atomic_dir: Path) -> Path:
    """``<atomic_dir>/<dataset>/<dataset>.inter`` from llmrec's processed data (position = timestamp)."""
    cfg = llmrec_config(dataset, data_root, atomic_dir, 1.0, [])
    data, _ = load_sequence_data(instantiate(cfg.dataset.source), int(cfg.dataset.k_core), None)
    path = atomic_dir / dataset / f"{dataset}.inter"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        handle.write("user_id:token\titem_id:token\ttimestamp:float\n")
        for user in range(data.num_users):
            for position, item in enumerate(data.sequence(user).tolist()):
                handle.write(f"u{user}\ti{item}\t{position}\n")
    return path


def run_recbole(dataset: str, atomic_dir: Path, minutes: float, out: Path) -> dict:
    env = dict(os.environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1", PYTHONPATH=str(ROOT / "src"))
    command = [
        str(RECBOLE_PYTHON),
        str(ROOT / "benchmarks" / "recbole_runner.py"),
        f"--atomic-dir={atomic_dir}",
        f"--dataset={dataset}",
        f"--max-len={MAX_LEN[dataset]}",
        f"--max-minutes={minutes}",
        f"--out={out}",
    ]
    subprocess.run(command, check=True, env=env, cwd=ROOT)
    return json.loads(out.read_text())


def test_both_ways(cfg, results: dict) -> tuple[dict, dict]:
    """Test NDCG@10 / HR@10 of the best checkpoint with history masked and not (llmrec's evaluator)."""
    data, _ = load_sequence_data(instantiate(cfg.dataset.source), int(cfg.dataset.k_core), None)
    split = LeaveOneOut(data)
    model = build_model(cfg, data.num_items, MAX_LEN[cfg.dataset.name])
    state = torch.load(results["best_checkpoint"], map_location="cpu", weights_only=True)["state_dict"]
    model.load_state_dict(state)
    model.eval()
    counts = torch.from_numpy(split.train_item_counts()).float()
    out = []
    for mask in (True, False):
        module = SequenceDataModule(split, MAX_LEN[cfg.dataset.name], mask_history=mask, eval_by_length=True)
        evaluator = RankingEvaluator([10], counts, data.num_users)
        with torch.inference_mode():
            for batch in module.test_dataloader():
                evaluator.update(model(batch.items[:, :-1]), batch)
        metrics = evaluator.compute()
        out.append({"ndcg_10": metrics["ndcg_10"], "hr_10": metrics["hr_10"]})
    return out[0], out[1]


def run_llmrec(dataset: str, data_root: Path, minutes: float, out_dir: Path, extra: list[str]) -> dict:
    cfg = llmrec_config(dataset, data_root, out_dir, minutes, extra)
    results = run(cfg, out_dir)
    rows = list(csv.DictReader((out_dir / "csv" / "metrics.csv").open()))
    curve = [
        {
            "epoch": int(r["epoch"]) + 1,
            "wall": float(r["time/elapsed"]),
            "train": float(r["time/train_seconds"]),
            "eval": float(r["time/val_seconds"]),
            "masked_ndcg_10": float(r["val/ndcg_10"]),
        }
        for r in rows
        if r.get("time/elapsed")
    ]
    best = max(curve, key=lambda p: p["masked_ndcg_10"])
    masked, plain = test_both_ways(cfg, results)
    return {
        "framework": "llmrec",
        "dataset": dataset,
        "epochs_done": len(curve),
        "seconds_per_epoch": sum(p["train"] for p in curve) / len(curve),
        "epoch_time_extrapolated": False,
        "seconds_per_eval": sum(p["eval"] for p in curve) / len(curve),
        "wall": curve[-1]["wall"],
        "best_wall": best["wall"],
        "best_epoch": best["epoch"],
        "test_masked": masked,
        "test_unmasked": plain,
        "curve": curve,
    }


def first_wall_reaching(curve: list[dict], key, value: float) -> float | None:
    return next((p["wall"] for p in curve if key(p) >= value), None)


def table(rec: dict, ours: dict) -> str:
    def cell(r: dict, key: str) -> str:
        return f"{r[key]:.1f}" + (" (extrapolated)" if key == "seconds_per_epoch" and r[key + "_x"] else "")

    for r in (rec, ours):
        r["seconds_per_epoch_x"] = r["epoch_time_extrapolated"]
    lines = [
        "| framework | epochs run | s / epoch | s / eval pass | wall to best val (s) | test NDCG@10 masked "
        "| test HR@10 masked | test NDCG@10 unmasked | test HR@10 unmasked |",
        "|---" * 9 + "|",
    ]
    for r in (rec, ours):
        m, u = r["test_masked"], r["test_unmasked"]
        lines.append(
            f"| {r['framework']} | {r['epochs_done']:.2f} | {cell(r, 'seconds_per_epoch')} | "
            f"{r['seconds_per_eval']:.1f} | {r['best_wall']:.0f} | {m['ndcg_10']:.4f} | {m['hr_10']:.4f} | "
            f"{u['ndcg_10']:.4f} | {u['hr_10']:.4f} |"
        )
    lines.append(
        f"| RecBole / llmrec | | {rec['seconds_per_epoch'] / ours['seconds_per_epoch']:.1f}× | "
        f"{rec['seconds_per_eval'] / ours['seconds_per_eval']:.1f}× | "
        f"{rec['best_wall'] / ours['best_wall']:.1f}× | "
        f"{rec['test_masked']['ndcg_10'] / ours['test_masked']['ndcg_10']:.2f} | | "
        f"{rec['test_unmasked']['ndcg_10'] / ours['test_unmasked']['ndcg_10']:.2f} | |"
    )
    # Wall time to reach RecBole's best masked validation NDCG@10, read off both curves.
    goal = max(p["masked"]["ndcg_10"] for p in rec["curve"])
    ours_at = first_wall_reaching(ours["curve"], lambda p: p["masked_ndcg_10"], goal)
    rec_at = first_wall_reaching(rec["curve"], lambda p: p["masked"]["ndcg_10"], goal)
    lines.append(
        f"\nWall time to reach RecBole's best masked val NDCG@10 ({goal:.4f}): RecBole {rec_at:.0f} s, "
        f"llmrec {'not reached' if ours_at is None else f'{ours_at:.0f} s'}"
        + ("" if ours_at is None else f" ({rec_at / ours_at:.1f}× faster)")
    )
    return "\n".join(lines)


def curves(rec: dict, ours: dict) -> str:
    lines = ["| framework | epoch | wall (s) | val NDCG@10 masked | val NDCG@10 unmasked (RecBole native) |"]
    lines.append("|---|---|---|---|---|")
    for p in rec["curve"]:
        lines.append(
            f"| RecBole | {p['epoch']:.2f} | {p['wall']:.0f} | {p['masked']['ndcg_10']:.4f} | "
            f"{p['native_ndcg_10']:.4f} |"
        )
    for p in ours["curve"]:
        lines.append(f"| llmrec | {p['epoch']} | {p['wall']:.0f} | {p['masked_ndcg_10']:.4f} | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--dataset", choices=list(FOLDERS), required=True)
    parser.add_argument("--recbole-minutes", type=float, default=20.0)
    parser.add_argument("--llmrec-minutes", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "benchmarks" / "recbole")
    parser.add_argument("--reuse", action="store_true", help="reuse finished runs' JSON in --out")
    parser.add_argument("overrides", nargs="*", help="extra llmrec overrides, e.g. model.dropout=0.2")
    args = parser.parse_args()
    out = args.out.resolve()
    data_root = args.data_root.resolve()
    atomic_dir = out / "atomic"
    rec_json, ours_json = out / f"recbole_{args.dataset}.json", out / f"llmrec_{args.dataset}.json"
    if not (args.reuse and rec_json.is_file()):
        write_atomic(args.dataset, data_root, atomic_dir)
        run_recbole(args.dataset, atomic_dir, args.recbole_minutes, rec_json)
    rec = json.loads(rec_json.read_text())
    if not (args.reuse and ours_json.is_file()):
        started = time.perf_counter()
        ours = run_llmrec(
            args.dataset, data_root, args.llmrec_minutes, out / f"llmrec_{args.dataset}", args.overrides
        )
        ours["total_seconds"] = time.perf_counter() - started
        ours_json.write_text(json.dumps(ours, indent=1))
    ours = json.loads(ours_json.read_text())
    print(
        f"\n## {args.dataset}: RecBole box {args.recbole_minutes} min, llmrec box {args.llmrec_minutes} min\n"
    )
    print(table(rec, ours))
    print()
    print(curves(rec, ours))


if __name__ == "__main__":
    main()
