"""Semantic IDs of catalog items (item tokenizers) for generative recommenders."""

from llmrec.semantic_ids.codes import ItemTokenizer, SemanticIds

__all__ = ["ItemTokenizer", "SemanticIds"]
