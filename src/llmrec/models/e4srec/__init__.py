"""E4SRec (Li et al., arXiv 2312.02443): the model, its stages, instruction tuning, new items."""
