#!/usr/bin/env bash
# SASRec on MovieLens-1M, 2 CPU cores, bf16 autocast, 30-minute boxes, one run at a time (see README).
set -euo pipefail
# F: model=sasrec_original (as 008's D) with a cosine learning-rate decay over 110 epochs, no early stopping.
#    (F ran before the schedule stopped itself at its end: it went on to the 30-minute box at lr 0.)
python benchmarks/accuracy_baselines.py --data-root ../shared/data --max-minutes 30 \
  --out outputs/bench/ml1m_original_cosine110 \
  --run "ml1m:sasrec_original:datamodule.batch_size=128,lr_scheduler.epochs=110" \
  trainer=cpu_bf16 callbacks=cosine
# G: 008's D with overlapping windows: a window every 100 targets of a long history, each trained on its
#    last 100 targets only, so every target sees at least 101 items before it where the user has them.
python benchmarks/accuracy_baselines.py --data-root ../shared/data --max-minutes 30 \
  --out outputs/bench/ml1m_original_stride100 \
  --run "ml1m:sasrec_original:datamodule.batch_size=128,callbacks.early_stopping.patience=10,datamodule.window_stride=100" \
  trainer=cpu_bf16
# H: experiment 004's best GPU setting (post-norm, hidden 128, inner 512, dropout 0.2, patience 30) on the CPU.
python benchmarks/accuracy_baselines.py --data-root ../shared/data --max-minutes 30 \
  --out outputs/bench/ml1m_sasrec_h128_bf16 \
  --run "ml1m:sasrec:model.dropout=0.2,model.attn_dropout=0.2,datamodule.batch_size=128,model.hidden=128,model.inner=512,callbacks.early_stopping.patience=30" \
  trainer=cpu_bf16
