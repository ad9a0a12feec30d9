"""``python -m llmrec.semantic_ids build [dataset=beauty semantic_ids=rqvae encoder=minilm ...]`` learns (or
finds in the cache) a dataset's semantic IDs and prints their statistics and artefact folder;
``python -m llmrec.semantic_ids stats <artefact folder>`` prints the statistics stored with an artefact.
User errors end with one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hydra.errors import InstantiationException

from llmrec.cli import run_command
from llmrec.errors import LlmrecError
from llmrec.semantic_ids.cache import read_stats
from llmrec.semantic_ids.stats import format_stats


def build(overrides: list[str], as_json: bool) -> str:
    from llmrec.data.__main__ import compose_dataset
    from llmrec.run.semantic_ids import build_semantic_ids

    datasets = [o.split("=", 1)[1] for o in overrides if o.startswith("dataset=")]
    rest = [o for o in overrides if not o.startswith("dataset=")]
    cfg = compose_dataset(datasets[-1] if datasets else "synthetic", rest)
    try:
        fingerprint, result = build_semantic_ids(cfg)
    except InstantiationException as error:
        raise error.__cause__ if isinstance(error.__cause__, LlmrecError) else error from None
    if as_json:
        return json.dumps({**result.stats, "entry": str(result.entry)}, indent=2)
    found = "read from the cache" if result.cached else "learned"
    return "\n".join(
        [
            format_stats(result.stats),
            f"dataset         {fingerprint}",
            f"artefact        {result.entry} ({found})",
        ]
    )


def stats(entry: Path, as_json: bool) -> str:
    numbers = read_stats(entry)
    return json.dumps(numbers, indent=2) if as_json else format_stats(numbers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmrec.semantic_ids", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser(
        "build", help="learn a dataset's semantic ids (or read them from the cache)"
    )
    build_cmd.add_argument(
        "overrides", nargs="*", help="Hydra overrides, e.g. dataset=beauty semantic_ids=rqkmeans"
    )
    stats_cmd = commands.add_parser("stats", help="print the statistics stored with an artefact")
    stats_cmd.add_argument("entry", type=Path, help="a <cache_dir>/semantic_ids/semantic_ids-<key> folder")
    for command in (build_cmd, stats_cmd):
        command.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    if args.command == "build":
        return run_command(lambda: build(args.overrides, args.json))
    return run_command(lambda: stats(args.entry, args.json))


if __name__ == "__main__":
    sys.exit(main())
