"""An installable llmrec: the built wheel and sdist carry every config, the installed package finds them,
``--help`` stays light, and the files a run writes follow the umask like any other file."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmrec.__main__ import missing_config_dirs
from llmrec.configs import config_dir
from tests.bad_input_helpers import run_tiny

ROOT = Path(__file__).resolve().parents[1]
SOURCE_CONFIGS = sorted(p.relative_to(ROOT / "conf").as_posix() for p in (ROOT / "conf").rglob("*.yaml"))


def _project_copy(tmp_path: Path) -> Path:
    """The files a build reads, copied out, so the build leaves nothing in the shared checkout."""
    project = tmp_path / "project"
    for name in ("src", "conf"):
        shutil.copytree(
            ROOT / name, project / name, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__")
        )
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, project / name)
    return project


def _build(backend_call: str, project: Path, out: Path) -> Path:
    code = f"from setuptools import build_meta; print(build_meta.{backend_call}({str(out)!r}))"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=project, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out / proc.stdout.strip().splitlines()[-1]


def _wheel_configs(wheel: Path) -> list[str]:
    names = zipfile.ZipFile(wheel).namelist()
    prefix = "llmrec/conf/"
    return sorted(n.removeprefix(prefix) for n in names if n.startswith(prefix) and n.endswith(".yaml"))


def test_wheel_holds_every_config_and_the_console_scripts(tmp_path: Path) -> None:
    project = _project_copy(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", "dist", "."],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "absent from the" not in proc.stderr  # every conf folder is a listed package
    (wheel,) = (project / "dist").glob("llmrec-*.whl")
    assert _wheel_configs(wheel) == SOURCE_CONFIGS
    entry_points = zipfile.ZipFile(wheel).read("llmrec-0.1.0.dist-info/entry_points.txt").decode()
    assert "llmrec = llmrec.__main__:cli" in entry_points
    assert "hydra_plugins/llmrec_launchers/submitit_resume.py" in zipfile.ZipFile(wheel).namelist()


def test_sdist_holds_conf_and_builds_a_wheel_with_every_config(tmp_path: Path) -> None:
    sdist = _build("build_sdist", _project_copy(tmp_path), tmp_path / "sdist")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
        names = archive.getnames()
    assert sum(n.endswith(".yaml") and "/conf/" in n for n in names) == len(SOURCE_CONFIGS)
    (unpacked,) = (tmp_path / "unpacked").iterdir()
    wheel = _build("build_wheel", unpacked, tmp_path / "wheel")
    assert _wheel_configs(wheel) == SOURCE_CONFIGS


def test_config_dir_is_the_installed_package_folder() -> None:
    spec = importlib.util.find_spec("llmrec.conf")
    assert spec is not None and spec.origin is not None
    assert config_dir() == Path(spec.origin).parent
    assert (
        sorted(p.relative_to(config_dir()).as_posix() for p in config_dir().rglob("*.yaml")) == SOURCE_CONFIGS
    )


def test_a_copy_of_the_source_tree_reads_its_own_configs(tmp_path: Path) -> None:
    """A study's snapshot of the code on PYTHONPATH reads the snapshot's conf/, not the configs of the
    checkout installed editable (which answers ``llmrec.conf`` with its own folder)."""
    snapshot = tmp_path / "snapshot"
    shutil.copytree(
        ROOT / "src" / "llmrec", snapshot / "src" / "llmrec", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(ROOT / "conf", snapshot / "conf", ignore=shutil.ignore_patterns("__pycache__"))
    code = "from llmrec.configs import config_dir; print(config_dir())"
    environment = os.environ | {"PYTHONPATH": str(snapshot / "src")}
    found = subprocess.run(
        [sys.executable, "-c", code],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.strip() == str(snapshot / "conf")


def test_missing_config_dirs_reads_every_spelling(tmp_path: Path) -> None:
    argv = ["--config-dir", str(tmp_path), "-cd", "nowhere1", "--config-dir=nowhere2", "model=sasrec"]
    assert missing_config_dirs(argv) == ["nowhere1", "nowhere2"]
    assert missing_config_dirs(["-cd", str(tmp_path), "debug=tiny"]) == []


def test_help_does_not_import_lightning_or_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.argv = ['llmrec', '--help']\n"
        "from llmrec.__main__ import cli\n"
        "try:\n    cli()\nexcept SystemExit:\n    pass\n"
        "print('heavy:', sorted(m for m in ('pytorch_lightning', 'torch') if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "llmrec model=sasrec dataset=synthetic" in proc.stdout, proc.stdout[-2000:]  # conf/hydra help
    assert "heavy: []" in proc.stdout


@pytest.fixture
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


@pytest.mark.parametrize(
    ("umask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)], indirect=["umask"]
)
def test_run_files_and_folders_follow_the_umask(
    umask: int, file_mode: int, dir_mode: int, tmp_path: Path
) -> None:
    run_tiny(tmp_path, "model=sasrec", "trainer.max_epochs=1")
    out = tmp_path / "out"
    (entry,) = (tmp_path / "cache" / "datasets").iterdir()
    files = [out / "results.json", out / "checkpoints" / "last.ckpt", entry / "meta.json"]
    folders = [out, out / "checkpoints", entry]
    assert {f.name: oct(f.stat().st_mode & 0o777) for f in files} == {f.name: oct(file_mode) for f in files}
    assert {d.name: oct(d.stat().st_mode & 0o777) for d in folders} == {
        d.name: oct(dir_mode) for d in folders
    }
