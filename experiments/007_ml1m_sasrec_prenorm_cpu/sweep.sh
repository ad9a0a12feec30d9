#!/usr/bin/env bash
# SASRec in the authors' layout (pre-norm) on MovieLens-1M, 2 CPU cores, 100-minute box, early stopping.
set -euo pipefail
python benchmarks/accuracy_baselines.py --data-root ../shared/data --max-minutes 100 \
  --out outputs/bench/ml1m_prenorm \
  --run "ml1m:sasrec_prenorm:model.heads=1,model.dropout=0.1,model.attn_dropout=0.1,datamodule.batch_size=128,callbacks.early_stopping.patience=10"
