"""Helpers for the bad-input campaign: run an entry point, assert one clear error line."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llmrec.errors import LlmrecError
from llmrec.run.pipeline import run
from tests.conftest import compose_config


def one_line(message: str, *needles: str) -> str:
    """``message`` is one line naming each of ``needles`` (case-insensitive), without a traceback."""
    text = message.strip()
    assert "\n" not in text, f"not one line: {text!r}"
    assert "Traceback" not in text
    for needle in needles:
        assert needle.lower() in text.lower(), f"{needle!r} not in {text!r}"
    return text


def expect_error(call: Callable[[], Any], *needles: str) -> str:
    with pytest.raises(LlmrecError) as info:
        call()
    return one_line(str(info.value), *needles)


def expect_cli_error(main: Callable[[list[str]], int], argv: list[str], capsys: Any, *needles: str) -> str:
    """A CLI ``main`` returns exit code 2 and prints one ``error: ...`` line on stderr."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: "), err
    return one_line(err, *needles)


def run_tiny(tmp_path: Path, *overrides: str, out: str = "out") -> dict[str, Any]:
    return run(compose_config(["debug=tiny", *overrides], tmp_path), tmp_path / out)


def processed(tmp_path: Path, content: bytes | str, name: str = "Beauty.txt") -> list[str]:
    """Overrides pointing dataset=beauty at a folder holding ``content`` as its sequences file."""
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    (folder / name).write_bytes(data)
    return ["dataset=processed", f"dataset.root={folder}", "dataset.max_len=5", "model=popularity"]


def amazon(tmp_path: Path, reviews: bytes, meta: bytes | None = None) -> list[str]:
    folder = tmp_path / "amazon"
    folder.mkdir(exist_ok=True)
    (folder / "reviews_Beauty_5.json.gz").write_bytes(reviews)
    if meta is not None:
        (folder / "meta_Beauty.json.gz").write_bytes(meta)
    return ["dataset=amazon", f"dataset.root={folder}", "dataset.max_len=5", "model=popularity"]


def gz(lines: list[str]) -> bytes:
    return gzip.compress(("\n".join(lines) + "\n").encode("utf-8"))


def good_sequences(users: int = 12, length: int = 6) -> str:
    return "".join(f"u{u} {' '.join(str(1 + (u + j) % 6) for j in range(length))}\n" for u in range(users))
