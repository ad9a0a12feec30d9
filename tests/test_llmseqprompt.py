"""LLMSeqPrompt's prompt tokens and its catalog fill (Harte et al.; the official code,
dh-r/LLM-Sequential-Recommendation, fills a short list with items outside the prompt)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from llmrec.embeddings.catalog import CatalogMapper
from llmrec.embeddings.index import TorchIndex
from llmrec.evaluation.metrics import mask_scores, target_ranks
from llmrec.models.llmseqprompt import LOW_SCORE, top_k_outside_history
from tests.test_llm_models import TITLES, _batch, _model

# Six items on a line: item i (1-based) sits at x = i, so its nearest neighbours are i-1, i+1, i-2, ...
LINE_TITLES = [f"thing no. {i}" for i in range(1, 7)]
LINE_VECTORS = np.array([[1.0, 0.1 * i] for i in range(1, 7)], dtype=np.float32)
LINE_VECTORS /= np.linalg.norm(LINE_VECTORS, axis=1, keepdims=True)


def _mapper() -> CatalogMapper:
    def encode(texts: list[str]) -> np.ndarray:  # a hallucination lands on item 6
        return np.repeat(LINE_VECTORS[-1:], len(texts), axis=0)

    return CatalogMapper(LINE_TITLES, LINE_VECTORS, encode, TorchIndex("ip", device="cpu"))


def test_prompts_have_no_unknown_words_with_the_word_tokenizer(tmp_path: Path) -> None:
    model = _model(tmp_path, "llmseqprompt")
    prompt = model._prompt([1, 2, 3])
    assert model.tokenizer.unk_id not in prompt
    separator, end = model.tokenizer.encode(model.separator), model.tokenizer.encode(model.prompt_end)
    assert separator and end and separator != end  # "next title" and "now the answer" are told apart


def test_the_fill_skips_excluded_items_but_keeps_generated_ones() -> None:
    mapper = _mapper()
    out = mapper.map([["thing no. 3"]], k=4, exclude=[{2, 3, 4}])
    assert out[0, 0] == 3  # generated, so kept although excluded
    assert sorted(out[0, 1:]) == [1, 5, 6]  # the fill: every item not excluded


def test_excluded_items_fill_last_when_too_few_are_left() -> None:
    out = _mapper().map([["thing no. 1"]], k=5, exclude=[{2, 3, 4, 5}])
    assert out[0, 0] == 1 and out[0, 1] == 6
    assert sorted(out[0, 2:]) == [2, 3, 4] and len(set(out[0])) == 5


def test_without_exclude_the_fill_is_the_first_items_neighbours() -> None:
    out = _mapper().map([["thing no. 3"]], k=3)
    assert out[0, 0] == 3 and set(out[0, 1:]) == {2, 4}


def test_scoring_hands_each_rows_history_to_the_fill(tmp_path: Path) -> None:
    model = _model(tmp_path, "llmseqprompt").eval()
    rows = _batch().items[:, :-1]  # (B, L)
    given: list[list[set[int]]] = []
    mapped = model.mapper.map
    model.mapper.map = lambda titles, k, exclude=None: given.append(exclude) or mapped(titles, k, exclude)
    model(rows)
    assert given == [[set(row) - {0} for row in rows.tolist()]]


def test_history_items_the_titles_map_to_keep_their_place() -> None:
    # Item 3 generated exactly, a hallucination mapped to item 6: both in the history {3, 6}. They stay first
    # (the evaluation keeps a repeated target's score), and the list runs on to 4 items outside the history.
    titles, history = [["thing no. 3", "no such thing"]], [{3, 6}]
    assert _mapper().map(titles, 4, history).tolist() == [[3, 6, 4, 2]]  # only 2 left once masked
    assert top_k_outside_history(_mapper(), titles, 4, history) == [[3, 6, 4, 2, 5, 1]]


def test_the_list_stops_at_the_items_outside_the_history_a_short_catalog_has() -> None:
    out = top_k_outside_history(_mapper(), [["thing no. 2"]], 5, [{1, 2, 3}])  # 3 items outside the history
    assert out == [[2, 4, 5, 6]]  # the generated history item, then every item outside the history


def _top_items(scores: torch.Tensor) -> list[set[int]]:
    return [set(torch.nonzero(row > LOW_SCORE).flatten().tolist()) for row in scores]


def test_scores_rank_k_items_outside_the_history_when_the_lm_repeats_it(tmp_path: Path) -> None:
    model = _model(tmp_path, "llmseqprompt").eval()  # 12 items, top_k = 10
    rows = torch.tensor([[0, 0, 0, 0, 2, 3], [0, 0, 1, 2, 3, 4]])  # 10 and 8 items outside the history
    model.generate_titles = lambda seq: [[TITLES[2], TITLES[1]], [TITLES[3], TITLES[0]]]  # history titles
    scores = model(rows)
    top = _top_items(scores)
    assert top[0] == set(range(1, 13))  # the two generated history items, then 10 outside the history
    assert top[1] == {4, 1} | set(range(5, 13))  # the two generated ones, then all 8 outside
    assert (
        scores[0, 3] > scores[0, 2] > scores[0, 4:].max()
        and scores[1, 4] > scores[1, 1] > scores[1, 5:].max()
    )
    # The evaluation masks the history but keeps the target's score: a repeat the LM generated is a hit.
    targets = torch.tensor([3, 4])  # each row's first generated title, an item of its history
    assert target_ranks(mask_scores(scores, targets, rows), targets).tolist() == [0, 0]
