"""llmrec: LLM-based sequential recommenders compared on equal terms.

The Python API (``llmrec.train``, ``llmrec.load_run``, ``llmrec.results_frame``, ``llmrec.compose``) is
imported on first use, so ``import llmrec`` (and ``python -m llmrec --help``) loads no torch or Lightning.
(``llmrec.run`` is the runner package, so the function that runs an experiment is ``train``.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["LoadedRun", "compose", "load_run", "results_frame", "train"]

if TYPE_CHECKING:
    from llmrec.run.api import LoadedRun, compose, load_run, results_frame, train


def __getattr__(name: str) -> Any:
    if name in __all__:
        from llmrec.run import api

        return getattr(api, name)
    raise AttributeError(f"module 'llmrec' has no attribute {name!r}")
