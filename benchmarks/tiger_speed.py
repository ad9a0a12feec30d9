"""Inference speed of TIGER: constrained beam search (``decode=beam``: 20 beams, top-20, plus the likelihood
of the items read) and exact scoring of the whole catalog (``decode=exact``), in users per second, on
catalogs of MovieLens-100K size (1,682 items) and Amazon Beauty size (12,101 items) with random semantic
ids (3 levels of 256 codes, plus TIGER's collision level), the default model of conf/model/tiger.yaml
(random weights: speed does not depend on them) and histories of ``max_history`` items. Optionally, Hugging
Face ``generate`` with ``prefix_allowed_tokens_fn`` over the same trie (``--hf``), for comparison.
``--train``: seconds per training step (forward, backward, Adam) on a batch of 256 Beauty-shaped windows
(lengths 3 + a geometric draw of mean 6, at most 51, as Beauty's short histories), with the examples
encoded in one group (every history padded to the longest) against ``length_groups`` groups of similar
length (the default), interleaved in the same run.
Measured: benchmarks/results/tiger_speed_cpu.md (use as many threads as cores are free: a thread that
shares its core with another process stalls the others).

    flock /tmp/llmrec-cpu.lock env PYTHONPATH=src:. python benchmarks/tiger_speed.py --threads 1 --hf
    PYTHONPATH=src:. python benchmarks/tiger_speed.py --device cuda --users 1024 --exact-users 256
"""

from __future__ import annotations

import argparse
import time

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from timing import elapsed_since

from llmrec.configs import config_dir
from llmrec.data.batch import SeqBatch
from llmrec.models.tiger import TIGER
from llmrec.models.tiger.vocab import START
from llmrec.semantic_ids import SemanticIds

CATALOGS = {"ML-100K": 1682, "Beauty": 12101}


class RandomCodes:
    """Random codes, ``levels`` x ``size``, and a last level numbering the items that share them (TIGER)."""

    def __init__(self, levels: int = 3, size: int = 256, seed: int = 0) -> None:
        self.levels, self.size, self.seed = levels, size, seed

    def __call__(self, item_text: list[str]) -> SemanticIds:
        generator = torch.Generator().manual_seed(self.seed)
        codes = torch.randint(0, self.size, (len(item_text), self.levels), generator=generator)
        _, group = torch.unique(codes, dim=0, return_inverse=True)
        order = torch.argsort(group, stable=True)
        collision = torch.zeros_like(group)
        sorted_groups = group[order]
        starts = torch.searchsorted(sorted_groups, sorted_groups)  # first index of each item's group
        collision[order] = torch.arange(len(group)) - starts
        sizes = (self.size,) * self.levels + (int(collision.max()) + 1,)
        return SemanticIds(torch.cat([codes, collision[:, None]], dim=1), sizes)


def build(num_items: int, device: str, beams: int) -> TIGER:
    node = OmegaConf.load(config_dir() / "model" / "tiger.yaml")
    torch.manual_seed(0)
    model = TIGER(
        num_items,
        50,
        RandomCodes(),
        t5=instantiate(node.t5),
        num_beams=beams,
        cutoffs=[beams],
        exact_max_items=10**6,
    )
    model.bind_data(torch.ones(num_items + 1), [""] * num_items)
    model.configure_model()
    return model.to(device).eval()


def users_per_second(model: TIGER, histories: torch.Tensor, batch: int, decode: str) -> float:
    model.decode = decode
    with torch.no_grad():
        model.scores(histories[:2])  # warm-up
        start = time.perf_counter()
        for rows in histories.split(batch):
            model.scores(rows)
        return len(histories) / elapsed_since(start, histories.device)


def hf_generate_users_per_second(model: TIGER, histories: torch.Tensor, batch: int) -> float:
    """The same search with transformers' beam search constrained by ``prefix_allowed_tokens_fn``."""
    tokens = model.vocab.code_tokens(model.trie.codes.cpu()).tolist()
    allowed: dict[tuple[int, ...], list[int]] = {}
    for row in tokens:
        for level in range(len(row)):
            allowed.setdefault(tuple(row[:level]), []).append(row[level])
    allowed = {prefix: sorted(set(nexts)) for prefix, nexts in allowed.items()}
    levels = len(tokens[0])

    def prefix_allowed(_: int, sequence: torch.Tensor) -> list[int]:
        return allowed.get(tuple(sequence[1:].tolist()), [START])

    with torch.no_grad():
        start = time.perf_counter()
        for rows in histories.split(batch):
            ids, mask = model.vocab.encoder_inputs(
                model.item_codes[rows], rows != 0, model.vocab.user_tokens(None, len(rows), rows.device)
            )
            model.t5.generate(
                input_ids=ids,
                attention_mask=mask,
                num_beams=model.num_beams,
                num_return_sequences=model.num_beams,
                max_new_tokens=levels,
                prefix_allowed_tokens_fn=prefix_allowed,
                decoder_start_token_id=START,
                do_sample=False,
            )
        return len(histories) / elapsed_since(start, histories.device)


def beauty_shaped_windows(rows: int, num_items: int, seed: int = 0) -> torch.Tensor:
    """(rows, 51) left-padded training windows whose lengths are 3 + Geometric(1/6), capped at 51."""
    generator = torch.Generator().manual_seed(seed)
    draws = torch.rand(rows, generator=generator).clamp(min=1e-9)
    lengths = (torch.floor(torch.log(draws) / torch.log(torch.tensor(5 / 6))).long() + 3).clamp(max=51)
    windows = torch.zeros(rows, 51, dtype=torch.long)
    for row, length in enumerate(lengths.tolist()):
        windows[row, -length:] = torch.randint(1, num_items + 1, (length,), generator=generator)
    return windows


def seconds_per_train_step(num_items: int, groups: tuple[int, ...], repeats: int) -> dict[int, float]:
    """Mean seconds of one training step for each ``length_groups`` value, interleaved round by round."""
    model = build(num_items, "cpu", 20).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = SeqBatch(items=beauty_shaped_windows(256, num_items))
    times: dict[int, list[float]] = {g: [] for g in groups}
    for round_ in range(repeats + 1):  # round 0 warms up
        for g in groups:
            model.length_groups = g
            start = time.perf_counter()
            loss = model.loss(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if round_:
                times[g].append(time.perf_counter() - start)
    return {g: sum(t) / len(t) for g, t in times.items()}


def print_train_steps(repeats: int) -> None:
    default = int(OmegaConf.load(config_dir() / "model" / "tiger.yaml").length_groups)
    seconds = seconds_per_train_step(CATALOGS["Beauty"], (1, default), repeats)
    print("\n| training step, Beauty-shaped batch of 256 windows | seconds | vs one group |\n|---|---|---|")
    for g, value in seconds.items():
        print(f"| length_groups={g} | {value:.2f} | {seconds[1] / value:.1f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--beams", type=int, default=20)
    parser.add_argument("--users", type=int, default=512, help="users timed for beam search")
    parser.add_argument("--exact-users", type=int, default=32, help="users timed for exact scoring")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--hf", action="store_true", help="also time transformers' generate (slow)")
    parser.add_argument("--train", action="store_true", help="time training steps only")
    parser.add_argument("--repeats", type=int, default=3, help="timed training steps per setting")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.train:
        print_train_steps(args.repeats)
        return
    print(f"| catalog | items | trie nodes | beam users/s ({args.beams} beams) | exact users/s |", end="")
    print(" HF generate users/s |" if args.hf else "")
    print("|---|---|---|---|---|" + ("---|" if args.hf else ""))
    for name, num_items in CATALOGS.items():
        model = build(num_items, args.device, args.beams)
        generator = torch.Generator().manual_seed(1)
        histories = torch.randint(1, num_items + 1, (args.users, model.max_history), generator=generator)
        histories = histories.to(args.device)
        beam = users_per_second(model, histories, args.batch, "beam")
        exact = users_per_second(model, histories[: args.exact_users], args.batch, "exact")
        row = f"| {name} | {num_items} | {sum(model.trie.num_nodes)} | {beam:.0f} | {exact:.1f} |"
        if args.hf:
            row += f" {hf_generate_users_per_second(model, histories[:64], args.batch):.0f} |"
        print(row, flush=True)


if __name__ == "__main__":
    main()
