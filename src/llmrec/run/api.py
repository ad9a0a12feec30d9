"""The Python API: ``llmrec.train``, ``llmrec.load_run``, ``llmrec.results_frame`` (exported lazily by
``llmrec/__init__.py``, so ``import llmrec`` stays light).

    results = llmrec.train(["model=sasrec", "dataset=tiny"], output_dir="runs/sasrec")
    trained = llmrec.load_run("runs/sasrec")          # model (best checkpoint, eval mode), config, split
    trained.recommend(users=[0, 1], k=10)              # a DataFrame: user, rank, item, score, ...
    llmrec.results_frame("outputs/multiruns/<time>")   # one row per run of a sweep
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from omegaconf import DictConfig
from torch import Tensor

from llmrec.data.batch import pad_batch
from llmrec.data.interactions import SequenceData
from llmrec.data.split import LeaveOneOut
from llmrec.errors import ConfigError, LlmrecError
from llmrec.evaluation.export import topk_columns
from llmrec.models.base import SequentialRecommender

if TYPE_CHECKING:
    import pandas as pd


def compose(overrides: Sequence[str] = ()) -> DictConfig:
    """The packaged config with command-line style ``overrides`` (``model=sasrec``, ``seed=1``)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException

    from llmrec.configs import config_dir

    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            return hydra_compose(config_name="config", overrides=list(overrides))
    except HydraException as error:  # a misspelt key or a bad override: one line, not a traceback
        raise ConfigError(f"{' '.join(str(error).split())}; check the overrides") from None


def _default_output_dir(cfg: DictConfig) -> Path:
    """``<paths.log_dir>/runs/<time>_<model>_<dataset>``, as the command line names its runs."""
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    base = Path(cfg.paths.log_dir) / "runs" / f"{stamp}_{cfg.model.get('name', 'model')}_{cfg.dataset.name}"
    folder, number = base, 1
    while folder.exists():
        folder, number = base.with_name(f"{base.name}_{number}"), number + 1
    return folder


def train(overrides: Sequence[str] = (), output_dir: str | Path | None = None) -> dict[str, Any]:
    """One run, as ``python -m llmrec <overrides>`` does it: compose the packaged config with
    ``overrides``, seed as the command line does, fit (if the model trains), test, write
    ``<output_dir>/results.json`` and return the results dict (``results["metrics"]["test"]``)."""
    import pytorch_lightning as pl

    from llmrec.run.instantiate import check_seed
    from llmrec.run.pipeline import run as run_pipeline

    cfg = compose(overrides)
    folder = Path(output_dir) if output_dir is not None else _default_output_dir(cfg)
    pl.seed_everything(check_seed(cfg.seed), workers=True, verbose=False)
    return run_pipeline(cfg, folder)


@dataclass
class LoadedRun:
    """A finished run ready to score: the model with its tested checkpoint loaded (eval mode, CPU), the
    resolved config, the data split, and ``results.json``. Item and user indices are the internal ones
    (items 1..N, 0 = padding; users 0..U-1); ``data.item_ids[i - 1]`` is item ``i``'s original id."""

    run_dir: Path
    model: SequentialRecommender
    config: DictConfig
    split: LeaveOneOut
    results: dict[str, Any]
    checkpoint: Path | None

    @property
    def data(self) -> SequenceData:
        return self.split.data

    def _rows(self, sequences: Sequence[Sequence[int]]) -> Tensor:
        rows = [[int(item) for item in sequence][-self.model.max_len :] for sequence in sequences]
        bad = [item for row in rows for item in row if not 0 < item <= self.data.num_items]
        if not rows or any(not row for row in rows) or bad:
            raise ConfigError(
                f"sequences must be non-empty lists of item indices in 1..{self.data.num_items}"
                + (f"; got {bad[:3]}" if bad else "")
            )
        return pad_batch(rows, pad=0, left=True)[0]

    @torch.no_grad()
    def score(self, sequences: Sequence[Sequence[int]]) -> Tensor:
        """(B, N+1) scores of every item after each sequence of item indices, oldest first (column 0 is
        padding); sequences longer than the model's ``max_len`` keep their last ``max_len`` items."""
        return self.model(self._rows(sequences).to(self.model.device)).float().cpu()

    @torch.no_grad()
    def recommend(
        self,
        users: Sequence[int] | None = None,
        k: int = 10,
        exclude_seen: bool = True,
        batch: int = 256,
    ) -> pd.DataFrame:
        """Each user's top-``k`` items after their whole sequence (test item included: what to show
        next), items they interacted with excluded; columns as ``eval.export_topk`` writes them."""
        import pandas as pd

        from llmrec.checks import positive_ints

        positive_ints("", k=k, batch=batch)
        chosen = list(range(self.data.num_users)) if users is None else [int(u) for u in users]
        if any(not 0 <= user < self.data.num_users for user in chosen):
            raise ConfigError(f"users must be user indices in 0..{self.data.num_users - 1}")
        parts = []
        for start in range(0, len(chosen), batch):
            some = chosen[start : start + batch]
            history = [self.data.sequence(user).tolist() for user in some]
            scores = self.score(history)
            scores[:, 0] = float("-inf")
            if exclude_seen:
                for row, items in enumerate(history):
                    scores[row, items] = float("-inf")
            values, items = torch.topk(scores, min(k, scores.shape[1]), dim=1)
            items = torch.where(torch.isneginf(values), -1, items)
            parts.append(pd.DataFrame(topk_columns(torch.tensor(some), items, values, self.data)))
        return pd.concat(parts, ignore_index=True)


def load_run(run_dir: str | Path) -> LoadedRun:
    """A finished run's model (the checkpoint it tested loaded, eval mode), config and data split.
    A half-written run (no results.json, a missing or damaged checkpoint) or data that changed since
    training is one :class:`llmrec.errors.LlmrecError`."""
    from llmrec.run.reevaluate import restore

    restored = restore(Path(run_dir))
    return LoadedRun(
        run_dir=restored.run_dir,
        model=restored.model,
        config=restored.config,
        split=restored.prepared.split,
        results=restored.results,
        checkpoint=restored.checkpoint,
    )


def results_frame(directory: str | Path) -> pd.DataFrame:
    """Every run's ``results.json`` below ``directory`` (a sweep, or one run) as one DataFrame row:
    model, dataset, seed, ``val/<metric>`` and ``test/<metric>`` columns, timings, run_dir. Runs kept
    inside another run (E4SRec's stage 1, re-evaluations) are left out, as in the report."""
    import pandas as pd

    from llmrec.report.runs import collect

    runs, _ = collect(Path(directory))
    if not runs:
        raise LlmrecError(f"no finished run below {directory} (only failed.json files)")
    rows = []
    for result in runs:
        row: dict[str, Any] = {key: result.get(key) for key in ("model", "dataset", "seed")}
        for stage in ("val", "test"):
            row |= {f"{stage}/{name}": value for name, value in result["metrics"].get(stage, {}).items()}
        row |= {key: value for key, value in result["timings"].items()}
        row["parameters"] = (result.get("parameters") or {}).get("total")
        row["run_dir"] = result["path"]
        rows.append(row)
    return pd.DataFrame(rows)
