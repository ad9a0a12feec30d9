#!/usr/bin/env bash
# SASRec with the authors' own block (model=sasrec_original) on MovieLens-1M, 2 CPU cores, early stopping on
# val NDCG@10 (patience 10), best-val checkpoint tested. Run A of the README is the first command at the
# code of commit 72b7f66 (q/k/v projection started N(0, 0.02)); run C is the same command today (Xavier
# uniform, as the reference port). Run B is A's code with the port's training data and epoch cap.
set -euo pipefail
common="datamodule.batch_size=128,callbacks.early_stopping.patience=10"
# A / C: every training position a target once (llmrec's default windows)
python benchmarks/accuracy_baselines.py --data-root ../shared/data --max-minutes 40 \
  --out outputs/bench/ml1m_original_xavier --run "ml1m:sasrec_original:$common"
# B: each user's last 200 targets only, at most 100 epochs
python benchmarks/accuracy_baselines.py --data-root ../shared/data --max-minutes 45 \
  --out outputs/bench/ml1m_original_recent \
  --run "ml1m:sasrec_original:$common,datamodule.train_windows=recent,trainer.max_epochs=100"
# D / E (a session later, faster training code, bf16 autocast on the CPU, 30-minute box)
python benchmarks/accuracy_baselines.py --data-root ../shared/data --max-minutes 30 \
  --out outputs/bench/ml1m_original_bf16 --run "ml1m:sasrec_original:$common" trainer=cpu_bf16
python benchmarks/accuracy_baselines.py --data-root ../shared/data --max-minutes 30 \
  --out outputs/bench/ml1m_original_bf16_p20 \
  --run "ml1m:sasrec_original:datamodule.batch_size=128,callbacks.early_stopping.patience=20,seed=1" \
  trainer=cpu_bf16
