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

    Found through ``importlib.resources`` as the package ``llmrec.conf``. A source checkout put on
    ``PYTHONPATH`` without being installed has no such package; its ``conf/`` is then used directly.
    """
    try:
        folder = importlib.resources.files(CONF_PACKAGE)
    except ModuleNotFoundError:
        folder = Path(__file__).resolve().parents[2] / "conf"
    if not isinstance(folder, Path) or not (folder / "config.yaml").is_file():
        raise ConfigError(
            f"llmrec's configs are missing ({folder} has no config.yaml); reinstall llmrec "
            f"(pip install --force-reinstall llmrec) from an unpacked wheel or a source checkout"
        )
    return folder
