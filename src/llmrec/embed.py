"""``python -m llmrec.embed dataset=beauty encoder=minilm``: embed a dataset's item texts into the cache.

Training runs of the LLM-embedding models (``model=llmseqsim``, ``llm2sasrec``, ...) with the same
dataset, encoder and template then read the cache instead of encoding. Prints the cache folder, the
shape and the time taken.
"""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.errors import InstantiationException
from omegaconf import DictConfig

from llmrec.configs import config_dir
from llmrec.errors import LlmrecError
from llmrec.run.embed import embed_dataset

log = logging.getLogger("llmrec")


def _user_error(error: Exception) -> LlmrecError | None:
    """The user mistake behind ``error``: itself, or what a config's constructor raised."""
    cause = error.__cause__ if isinstance(error, InstantiationException) else error
    return cause if isinstance(cause, LlmrecError) else None


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="config")
def main(cfg: DictConfig) -> None:
    try:
        info = embed_dataset(cfg)
    except (LlmrecError, InstantiationException) as error:
        user_error = _user_error(error)
        if user_error is None:
            raise
        print(f"error: {user_error}", file=sys.stderr)
        sys.exit(2)
    shape = f"{info['items']} items x {info['dim']} dims"
    print(f"{info['dataset']}: {shape} in {info['s']:.2f} s -> {info['entry']}")


if __name__ == "__main__":
    main()
