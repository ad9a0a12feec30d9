"""The CSV logger of a resumed run continues its metrics.csv (Lightning's own deletes it)."""

from __future__ import annotations

import csv
from pathlib import Path

from pytorch_lightning.loggers import CSVLogger

from llmrec.run.csv_logger import ResumableCSVLogger


def rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / "csv" / "metrics.csv", newline="") as file:
        return list(csv.DictReader(file))


def log_epoch(logger: CSVLogger, epoch: int, **extra: float) -> None:
    logger.log_metrics({"epoch": epoch, "train/loss": 1.0 / (epoch + 1), **extra}, step=epoch)
    logger.save()
    logger.finalize("success")


def test_a_resumed_run_appends_to_its_metrics_and_widens_the_header(tmp_path: Path) -> None:
    log_epoch(ResumableCSVLogger(tmp_path, name="csv", version=""), 0)
    resumed = ResumableCSVLogger(tmp_path, name="csv", version="", continue_existing=True)
    log_epoch(resumed, 1)
    log_epoch(resumed, 2, **{"val/ndcg_10": 0.5})  # a key the file has no column for yet
    table = rows(tmp_path)
    assert [row["epoch"] for row in table] == ["0", "1", "2"]
    assert [row["val/ndcg_10"] for row in table] == ["", "", "0.5"]


def test_a_fresh_run_starts_a_new_file_as_lightnings_logger_does(tmp_path: Path) -> None:
    log_epoch(ResumableCSVLogger(tmp_path, name="csv", version=""), 0)
    log_epoch(ResumableCSVLogger(tmp_path, name="csv", version=""), 1)
    assert [row["epoch"] for row in rows(tmp_path)] == ["1"]
    log_epoch(CSVLogger(tmp_path, name="csv", version=""), 2)
    assert [row["epoch"] for row in rows(tmp_path)] == ["2"]
