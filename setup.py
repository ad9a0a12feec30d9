"""Packaging that pyproject.toml cannot express: the top-level ``conf/`` folder ships inside the package
as ``llmrec.conf`` (with every ``conf/**/*.yaml``), so an installed llmrec finds its configs through
``importlib.resources`` (``llmrec.configs.config_dir``). Everything else is in pyproject.toml."""

from pathlib import Path

from setuptools import find_packages, setup

CONF = Path(__file__).parent / "conf"
# Every folder under conf/ (config groups, nested ones too) is listed as a package so that its YAML files
# are package data of their own folder (setuptools warns about data folders it was not told about).
GROUPS = sorted(d.relative_to(CONF) for d in CONF.rglob("*") if d.is_dir() and "__pycache__" not in d.parts)
CONF_PACKAGES = ["llmrec.conf", *(".".join(("llmrec.conf", *group.parts)) for group in GROUPS)]

setup(
    # hydra_plugins is a namespace package (no __init__.py): llmrec's launchers are listed by name
    packages=[*find_packages("src"), "hydra_plugins.llmrec_launchers", *CONF_PACKAGES],
    package_dir={"": "src", "llmrec.conf": "conf"},
    package_data={name: ["*.yaml"] for name in CONF_PACKAGES},
)
