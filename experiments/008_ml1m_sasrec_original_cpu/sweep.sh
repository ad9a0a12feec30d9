#!/usr/bin/env bash
# SASRec with the authors' own block (model=sasrec_original) on MovieLens-1M, 2 CPU cores, 70-minute box,
# early stopping on val NDCG@10 (patience 10), best-val checkpoint tested.
set -euo pipefail
python benchmarks/accuracy_baselines.py --data-root ../shared/data --max-minutes 70 \
  --out outputs/bench/ml1m_original \
  --run "ml1m:sasrec_original:datamodule.batch_size=128,callbacks.early_stopping.patience=10"
