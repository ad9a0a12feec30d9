"""Where llmrec's config tree lives, for every way llmrec is installed.

The configs sit in ``conf/`` at the top of the repository; the built package carries that folder as the
package ``llmrec.conf`` (``setup.py`` maps it there), so a wheel install, an editable install and the
source tree all answer with one real folder that Hydra can use as its primary config path. Users add
their own folders on top with ``--config-dir`` or ``hydra.searchpath``.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from llmrec.errors import ConfigError

CONF_PACKAGE = "llmrec.conf"


def config_dir() -> Path:
    """The folder holding ``config.yaml`` and the config groups (``model/``, ``dataset/``, ...).

    Code imported from a source tree (``src/llmrec`` beside ``conf/``) reads that tree's ``conf/``, even
    where another checkout is installed editable: a study runs a ``git archive`` snapshot of the code from
    ``PYTHONPATH``, and the installed checkout's configs may have changed since (the editable install
    answers ``llmrec.conf`` with its own folder). Otherwise the package ``llmrec.conf``, found through
    ``importlib.resources`` (a wheel install).
    """
    package = Path(__file__).resolve().parent
    source_tree_configs = package.parents[1] / "conf"
    if package.parent.name == "src" and (source_tree_configs / "config.yaml").is_file():
        return source_tree_configs
    try:
        folder = importlib.resources.files(CONF_PACKAGE)
    except ModuleNotFoundError:
        folder = source_tree_configs
    if not isinstance(folder, Path) or not (folder / "config.yaml").is_file():
        raise ConfigError(
            f"llmrec's configs are missing ({folder} has no config.yaml); reinstall llmrec "
            f"(pip install --force-reinstall llmrec) from an unpacked wheel or a source checkout"
        )
    return folder
