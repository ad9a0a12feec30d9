"""``python -m llmrec.embed dataset=beauty encoder=minilm``: embed a dataset's item texts into the cache.

Training runs of the LLM-embedding models (``model=llmseqsim``, ``llm2sasrec``, ...) with the same
dataset, encoder and template then read the cache instead of encoding. Prints the cache folder, the
shape and the time taken.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import hydra
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig

from llmrec.configs import config_dir
from llmrec.errors import LlmrecError

log = logging.getLogger("llmrec")


def embed_dataset(cfg: DictConfig, template: str = "{text}") -> dict[str, Any]:
    """Load ``cfg.dataset`` (through its cache), embed its item texts with ``cfg.encoder``, cache them."""
    from llmrec.data.cache import load_sequence_data
    from llmrec.embeddings.cache import cached_embeddings

    source = instantiate(cfg.dataset.source)
    cache_root = Path(cfg.paths.cache_dir)
    data, fingerprint = load_sequence_data(source, int(cfg.dataset.k_core), cache_root / "datasets")
    started = time.perf_counter()
    vectors, entry = cached_embeddings(
        instantiate(cfg.encoder), data.item_text(), cache_root / "embeddings", template
    )
    seconds = time.perf_counter() - started
    return {
        "dataset": fingerprint,
        "items": vectors.shape[0],
        "dim": vectors.shape[1],
        "entry": entry,
        "s": seconds,
    }


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
