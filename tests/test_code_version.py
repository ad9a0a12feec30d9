"""results.json names the code that ran: the git commit in a checkout, the exported commit in a
``git archive`` copy (which has no .git), nothing made up otherwise."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from llmrec import _archive
from llmrec.run import results

ROOT = Path(__file__).resolve().parents[1]
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _no_git(*_: object) -> str:
    raise OSError("git: not a git repository")


def test_an_exported_copy_records_the_commit_it_was_exported_from(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(results, "_git", _no_git)
    monkeypatch.setattr(_archive, "COMMIT", COMMIT)
    assert results.code_version() == {
        "package": results.__version__,
        "commit": COMMIT,
        "dirty": None,
        "source": "git archive",
    }


def test_an_unexpanded_placeholder_is_no_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(results, "_git", _no_git)
    monkeypatch.setattr(_archive, "COMMIT", "$Format:%H$")
    assert results.code_version() == {"package": results.__version__, "commit": None, "dirty": None}


def test_git_archive_writes_the_commit_into_the_export() -> None:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        tar = subprocess.run(
            ["git", "archive", "HEAD", "src/llmrec/_archive.py"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs a git checkout whose HEAD holds src/llmrec/_archive.py")
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        member = archive.extractfile("src/llmrec/_archive.py")
        assert member is not None
        exported = member.read().decode()
    assert f'COMMIT = "{head}"' in exported
