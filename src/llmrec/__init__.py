"""llmrec: LLM-based sequential recommenders compared on equal terms."""

__version__ = "0.1.0"
