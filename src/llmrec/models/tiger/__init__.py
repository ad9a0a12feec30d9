"""TIGER (Rajput et al., NeurIPS 2023): generative retrieval over semantic ids with a T5 encoder-decoder."""

from llmrec.models.tiger.model import TIGER

__all__ = ["TIGER"]
