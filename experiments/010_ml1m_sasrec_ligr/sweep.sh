#!/usr/bin/env bash
# SASRec with eSASRec's LiGR block on MovieLens-1M, 2 CPU cores, bf16 autocast, 30-minute boxes, one run at
# a time (see README).
set -euo pipefail
for seed in 0 1; do
  python benchmarks/accuracy_baselines.py --data-root ../shared/data --max-minutes 30 \
    --out "outputs/bench/ml1m_ligr_s${seed}" \
    --run "ml1m:sasrec_ligr:datamodule.batch_size=128,callbacks.early_stopping.patience=15,seed=${seed}" \
    trainer=cpu_bf16
done
# The wider LiGR model: hidden 128, feed-forward 512, dropout 0.2 (004's best post-norm width and dropout).
python benchmarks/accuracy_baselines.py --data-root ../shared/data --max-minutes 30 \
  --out outputs/bench/ml1m_ligr_h128_s0 \
  --run "ml1m:sasrec_ligr:datamodule.batch_size=128,callbacks.early_stopping.patience=15,model.hidden=128,model.inner=512,model.dropout=0.2,model.attn_dropout=0.2" \
  trainer=cpu_bf16
