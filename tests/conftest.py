"""Shared test helpers: compose the real config tree without a Hydra app, tiny data on disk."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from llmrec.configs import config_dir

CONF_DIR = config_dir()  # the installed package's configs (llmrec.conf), not the source path


def compose_config(overrides: list[str], tmp_path: Path | None = None) -> DictConfig:
    """The app's config with ``overrides``; caches and outputs go under ``tmp_path`` when given."""
    extra = (
        [f"paths.cache_dir={tmp_path / 'cache'}", f"paths.log_dir={tmp_path / 'logs'}"] if tmp_path else []
    )
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=[*overrides, *extra])


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Every test uses tiny models and matrices, where a second thread only adds synchronisation
    (and spins on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., DictConfig]:
    def factory(*overrides: str) -> DictConfig:
        return compose_config(list(overrides), tmp_path)

    return factory


def write_sequences(path: Path, sequences: dict[str, list[int]]) -> Path:
    """A processed ``Name.txt``: ``user item item ...`` a line."""
    path.write_text("".join(f"{u} {' '.join(map(str, s))}\n" for u, s in sequences.items()), encoding="utf-8")
    return path


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "bad_input: a case of the bad-input campaign (counted at the end)")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    reports = [r for key in ("passed", "failed") for r in terminalreporter.stats.get(key, [])]
    cases = [r for r in reports if r.when == "call" and "bad_input" in r.keywords]
    if cases:
        handled = sum(r.passed for r in cases)
        terminalreporter.write_line(f"bad-input cases: {len(cases)} tried, {handled} handled")
