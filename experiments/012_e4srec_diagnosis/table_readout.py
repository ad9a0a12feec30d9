"""What E4SRec is given: the stage-1 SASRec's frozen item table, read out without any sequence model.

Scores every item for each validation and test user (leave-one-out, history masked, pessimistic ties, the
framework's reference metrics) three ways and prints NDCG@10 / HR@10:
- the SASRec run itself (its transformer over the history, tied to the table);
- last item: the dot product of the last history item's table row with every row;
- mean: the dot product of the mean of the (up to max_len) history rows with every row.
E4SRec receives the table only; its backbone must rebuild the sequence model SASRec had.

    python experiments/012_e4srec_diagnosis/table_readout.py <sasrec run dir>
"""

from __future__ import annotations

import sys

import torch

from llmrec.evaluation.metrics import mask_scores, rank_metrics, target_ranks
from llmrec.models.e4srec.id_table import load_id_table
from llmrec.run.api import load_run


def readouts(run, stage: str) -> dict[str, dict[str, float]]:
    rows, history, offsets = run.split.eval_rows(stage, run.model.max_len)
    rows = torch.as_tensor(rows)
    inputs, targets = rows[:, :-1], rows[:, -1]
    table = load_id_table(str(run.run_dir), run.data.num_items)
    found: dict[str, list[torch.Tensor]] = {"sasrec": [], "last item": [], "mean": []}
    for start in range(0, len(rows), 1024):
        seq = inputs[start : start + 1024]
        seen = [torch.as_tensor(history[offsets[u] : offsets[u + 1]]) for u in range(start, start + len(seq))]
        seen_ids = torch.nn.utils.rnn.pad_sequence(seen, batch_first=True)  # (B, S), 0 = padding
        with torch.no_grad():
            rows_emb = table[seq]  # (B, L, d)
            valid = (seq != 0).float()[..., None]
            scores = {
                "sasrec": run.model(seq).float(),
                "last item": rows_emb[:, -1] @ table.T,
                "mean": ((rows_emb * valid).sum(1) / valid.sum(1).clamp(min=1)) @ table.T,
            }
        for name, score in scores.items():
            masked = mask_scores(score, targets[start : start + len(seq)], seen_ids)
            found[name].append(target_ranks(masked, targets[start : start + len(seq)]))
    out = {}
    for name, ranks in found.items():
        metrics = rank_metrics(torch.cat(ranks), [10])
        out[name] = {key: float(value.float().mean()) for key, value in metrics.items()}
    return out


def main(run_dir: str) -> None:
    run = load_run(run_dir)
    print("| readout | val NDCG@10 | val HR@10 | test NDCG@10 | test HR@10 |\n|---|---|---|---|---|")
    val, test = readouts(run, "val"), readouts(run, "test")
    for name in val:
        v, t = val[name], test[name]
        print(f"| {name} | {v['ndcg_10']:.4f} | {v['hr_10']:.4f} | {t['ndcg_10']:.4f} | {t['hr_10']:.4f} |")


if __name__ == "__main__":
    main(sys.argv[1])
