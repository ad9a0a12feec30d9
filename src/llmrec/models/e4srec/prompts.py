"""E4SRec's instruction prompt (Li et al., arXiv 2312.02443): the words around the item tokens. Stage 2's
instruction tuning adds them to its vocabulary, so a randomly built backbone knows them in stage 3."""

from __future__ import annotations

PREFIX = "Below is a user's purchase history . Predict the next item the user will buy . History :"
SUFFIX = "Next item :"
