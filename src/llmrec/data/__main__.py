"""``python -m llmrec.data download <name> [--root DIR]`` fetches a dataset's published files;
``python -m llmrec.data stats <name> [dataset.root=DIR ...]`` prints users, items, interactions, density,
sequence-length percentiles and text coverage, and stores them in the cache manifest (``meta.json``).
User errors end with one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException, InstantiationException
from hydra.utils import instantiate

from llmrec.cli import run_command
from llmrec.configs import config_dir
from llmrec.data.cache import load_sequence_data, write_stats
from llmrec.data.download import fetch, plan_for
from llmrec.data.stats import dataset_stats, format_stats
from llmrec.errors import LlmrecError


def compose_dataset(name: str, overrides: list[str]) -> Any:
    conf = config_dir()
    if not (conf / "dataset" / f"{name}.yaml").is_file():
        known = sorted(p.stem for p in (conf / "dataset").glob("*.yaml"))
        raise LlmrecError(f"no dataset config '{name}' in {conf / 'dataset'}; known: {known}")
    try:
        with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
            return compose("config", overrides=[f"dataset={name}", *overrides])
    except HydraException as error:  # a misspelt key or a bad override: one line, not a traceback
        message = " ".join(str(error).split())
        raise LlmrecError(f"{message}; check the overrides (e.g. dataset.root=DIR)") from None


def stats(name: str, overrides: list[str], as_json: bool) -> str:
    cfg = compose_dataset(name, overrides)
    try:
        source = instantiate(cfg.dataset.source)
    except InstantiationException as error:
        raise error.__cause__ if isinstance(error.__cause__, LlmrecError) else error from None
    cache_dir = Path(cfg.paths.cache_dir) / "datasets" if cfg.dataset.get("cache", True) else None
    data, fingerprint = load_sequence_data(source, int(cfg.dataset.k_core), cache_dir)
    numbers = dataset_stats(data)
    if cache_dir is not None:
        write_stats(cache_dir / fingerprint, numbers)
    text = json.dumps(numbers, indent=2) if as_json else format_stats(name, numbers)
    return text + f"\nfingerprint    {fingerprint}"


def _progress() -> Any:
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def update(name: str, done: int, total: int | None) -> None:
        bar = bars.get(name) or bars.setdefault(name, tqdm(total=total, unit="B", unit_scale=True, desc=name))
        bar.update(done - bar.n)

    return update


def download(name: str, root: Path | None, timeout: float) -> str:
    plan = plan_for(name)
    if root is None:
        known = (config_dir() / "dataset" / f"{name}.yaml").is_file()
        config = name if known else plan.config
        root = Path(compose_dataset(config, []).dataset.root) if config else Path("data") / name
    paths = fetch(plan, root, timeout=timeout, progress=_progress())
    return "\n".join([f"{plan.dataset}: files in {root}", *(f"  {p.name}" for p in paths), plan.note])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmrec.data", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    fetch_cmd = commands.add_parser("download", help="fetch the publisher's files (needs network)")
    fetch_cmd.add_argument(
        "name",
        help="beauty, sports, toys, amazon-<Category>, amazon2023-<Category>[-last_out|-timestamp], ml1m, "
        "ml100k, steam, yelp",
    )
    fetch_cmd.add_argument("--root", type=Path, help="target folder (default: the dataset config's root)")
    fetch_cmd.add_argument("--timeout", type=float, default=20.0, help="seconds per connection")
    stats_cmd = commands.add_parser("stats", help="print the processed dataset's statistics")
    stats_cmd.add_argument("name", help="a conf/dataset/<name>.yaml")
    stats_cmd.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. dataset.root=DIR")
    stats_cmd.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    if args.command == "download":
        return run_command(lambda: download(args.name, args.root, args.timeout))
    return run_command(lambda: stats(args.name, args.overrides, args.json))


if __name__ == "__main__":
    sys.exit(main())
