"""LLMSeqPrompt's prompt tokens and its catalog fill (Harte et al.; the official code,
dh-r/LLM-Sequential-Recommendation, fills a short list with items outside the prompt)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from llmrec.embeddings.catalog import CatalogMapper
from llmrec.embeddings.index import TorchIndex
from llmrec.errors import ConfigError
from llmrec.evaluation.metrics import mask_scores, target_ranks
from llmrec.models.llmseqprompt import LOW_SCORE, top_k_outside_history
from llmrec.run.pipeline import run
from llmrec.run.reevaluate import reevaluate
from tests.conftest import compose_config
from tests.test_llm_models import FAST_PROMPT, TITLES, _batch, _model

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
    model.mapper.map = lambda titles, k, exclude=None, sampled=False: (
        given.append(exclude) or mapped(titles, k, exclude, sampled)
    )
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


# --- decoding=sample: the official notebook's n = top-k samples and its order ---------------------
# Item 3's nearest items are 4, 2, 5, 1, 6; a hallucination lands on item 6 (nearest 5, 4, ...).
SAMPLES = ["thing no. 3", "thing no. 5", "Thing  no. 3", "no such thing"]


def test_samples_place_each_catalog_title_once_then_a_replacement_for_each_repeat_and_hallucination() -> None:
    mapper = _mapper()
    out = mapper.map([SAMPLES], k=6, sampled=True)
    # 3 and 5 in the order first sampled; item 3's second sample -> its nearest item not sampled (4);
    # the hallucination -> its nearest not sampled or placed (6); then the fill from item 3.
    assert out.tolist() == [[3, 5, 4, 6, 2, 1]]
    assert mapper.stats.shares() == {
        "exact_match_share": 0.5,
        "hallucination_share": 0.25,
        "duplicate_share": 0.25,
    }
    beams = _mapper().map([SAMPLES], k=6)  # beams: the hallucination in place, repeats dropped
    assert beams.tolist() == [[3, 5, 6, 4, 2, 1]]


def test_sample_replacements_skip_the_history() -> None:
    out = _mapper().map([SAMPLES], k=6, exclude=[{4}], sampled=True)
    assert out.tolist() == [[3, 5, 2, 6, 1, 4]]  # the repeat's replacement passes over item 4


def test_sampled_scores_follow_the_official_order(tmp_path: Path) -> None:
    model = _model(tmp_path, "llmseqprompt", "model.decoding=sample").eval()
    rows = torch.tensor([[0, 0, 0, 0, 0, 12]])
    model.generate_titles = lambda seq: [[TITLES[4], "nothing like it", TITLES[6], TITLES[4]]]
    scores = model(rows)[0]
    first = [int(i) for i in torch.argsort(scores, descending=True)[:2]]
    assert first == [5, 7]  # the catalog titles first, in the order sampled; replacements follow
    assert (scores[1:] > LOW_SCORE).sum() == 10


def test_sampling_draws_top_k_titles_from_its_own_generator(tmp_path: Path) -> None:
    model = _model(tmp_path, "llmseqprompt", "model.decoding=sample", "model.temperature=2.0").eval()
    rows = _batch().items[:, :-1]
    torch.manual_seed(123)
    before = torch.get_rng_state()
    titles = model.generate_titles(rows)
    assert torch.equal(torch.get_rng_state(), before)  # evaluating leaves training's random stream alone
    assert [len(row) for row in titles] == [10, 10, 10]  # n = top_k samples per row
    assert model.generate_titles(rows) == titles  # the same checkpoint samples the same titles
    assert len({t for row in titles for t in row}) > 3  # samples, not one repeated greedy title
    other = _model(tmp_path, "llmseqprompt", "model.decoding=sample", "model.temperature=2.0", "seed=1")
    other.lm.load_state_dict(model.lm.state_dict())
    assert other.eval().generate_titles(rows) != titles  # the run's seed picks the draws


def test_decoding_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="decoding must be beam or sample"):
        _model(tmp_path, "llmseqprompt", "model.decoding=greedy")
    with pytest.raises(ConfigError, match="top_p"):
        _model(tmp_path, "llmseqprompt", "model.decoding=sample", "model.top_p=0")


def test_a_run_saved_before_the_decoding_settings_is_re_evaluated_with_the_authors_sampling(
    tmp_path: Path,
) -> None:
    overrides = ["model=llmseqprompt", "debug=tiny", "encoder=hashing", "logger=none", "trainer.max_epochs=1"]
    run(compose_config([*overrides, *FAST_PROMPT], tmp_path), tmp_path / "out")
    results_file = tmp_path / "out" / "results.json"
    saved = json.loads(results_file.read_text())
    for key in ("decoding", "temperature", "top_p", "sample_seed"):
        del saved["config"]["model"][key]  # as in every LLMSeqPrompt run before 2026-12-06
    results_file.write_text(json.dumps(saved))
    results, _ = reevaluate(tmp_path / "out", ["model.decoding=sample", "model.temperature=0.7"])
    model = results["config"]["model"]
    assert (model["decoding"], model["temperature"]) == ("sample", 0.7)
    # the samples rank other items than the beams did
    assert results["metrics"]["test"] != saved["metrics"]["test"]
    sampled = ["model.decoding=sample", "model.temperature=0.7"]
    val_only, _ = reevaluate(tmp_path / "out", sampled, splits=("val",))  # the choice, on validation alone
    assert val_only["metrics"] == {"val": results["metrics"]["val"]}  # the same seeded samples
    wider, _ = reevaluate(tmp_path / "out", ["model.num_beams=4", "model.num_return_sequences=4"])
    assert wider["metrics"]["test"] != saved["metrics"]["test"]  # four beams' titles, not two
    with pytest.raises(ConfigError, match=r"llmseqprompt: model\.num_beams, .*model\.decoding"):
        reevaluate(tmp_path / "out", ["model.decode=exact"])  # TIGER's setting, not this model's
