"""Hand-made ``results.json`` files for the report tests: only the keys the reports read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_result(
    folder: Path,
    *,
    model: str,
    value: float,
    protocol: str | None = "loo",
    dataset: str = "beauty",
    seed: int = 0,
    metric: str = "ndcg_10",
    samples: str = "tiled",
    fingerprint: str = "beauty-0123456789abcdef",
    commit: str = "0123456789abcdef0123",
    model_config: dict[str, Any] | None = None,
    mask_history: bool = True,
    protocol_settings: dict[str, Any] | None = None,
    converged: bool | None = True,
) -> Path:
    """A run folder holding one results.json; ``protocol=None`` writes one from before protocols were
    recorded (the protocol then follows ``config.eval.mask_history``)."""
    result: dict[str, Any] = {
        "status": "ok",
        "converged": converged,
        "model": model,
        "dataset": dataset,
        "seed": seed,
        "metrics": {"val": {metric: value}, "test": {metric: value}},
        "timings": {"fit_seconds": 1.0},
        "data": {"fingerprint": fingerprint},
        "samples": {"name": samples},
        "config": {
            "model": {"name": model, "_target_": f"llmrec.models.{model}.Model", "hidden": 64, "lr": 0.001}
            | (model_config or {}),
            "dataset": {"name": dataset, "max_len": 50},
            "datamodule": {"batch_size": 128},
            "trainer": {"max_epochs": 100},
            "eval": {"mask_history": mask_history},
        },
        "code_version": {"package": "0.1.0", "commit": commit, "dirty": False},
    }
    if protocol is not None:
        result["protocol"] = {"name": protocol} | (protocol_settings or {})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(result), encoding="utf-8")
    return folder


def write_grid(root: Path, means: dict[str, dict[str, float]], seeds: int = 2, **extra: Any) -> Path:
    """Runs of every model under every protocol of ``means`` (protocol -> model -> mean), ``seeds`` seeds
    each at mean - 0.01 and mean + 0.01 (two seeds: std 0.01 * sqrt(2))."""
    offsets = [-0.01, 0.01, 0.0][:seeds]
    for protocol, by_model in means.items():
        for model, mean in by_model.items():
            for seed, offset in enumerate(offsets):
                folder = root / f"{protocol}_{model}_s{seed}"
                write_result(folder, model=model, value=mean + offset, protocol=protocol, seed=seed, **extra)
    return root
