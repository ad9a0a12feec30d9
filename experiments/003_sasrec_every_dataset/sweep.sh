#!/bin/bash
# SASRec on every real dataset folder in one sweep (run from the repository root; ../shared/data beside it).
# As run on one H200 (6 jobs in parallel on the one GPU); on 2 CPU cores drop the first line of overrides
# and the preset's 8-epoch cap applies (~30 min).
LLMREC_DATA_DIR=../shared/data python -m llmrec -m experiment=sasrec_all_datasets \
  trainer=gpu hydra/launcher=joblib hydra.launcher.n_jobs=6 \
  trainer.max_epochs=500 trainer.max_time=00:00:04:00 callbacks.early_stopping.patience=10 \
  hydra.sweep.dir=outputs/sweeps/sasrec_all_datasets
for d in beauty sports toys yelp ml1m ml100k; do
  LLMREC_DATA_DIR=../shared/data python -m llmrec.data stats $d
done > stats.txt
