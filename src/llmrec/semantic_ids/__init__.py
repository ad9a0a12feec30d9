"""Semantic IDs of catalog items (item tokenizers) for generative recommenders."""

from llmrec.semantic_ids.codes import ItemTokenizer, SemanticIds
from llmrec.semantic_ids.tokenizer import SemanticIdTokenizer

__all__ = ["ItemTokenizer", "SemanticIdTokenizer", "SemanticIds"]
