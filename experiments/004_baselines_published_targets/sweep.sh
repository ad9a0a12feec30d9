#!/bin/bash
# The runs of results.csv, each one line of benchmarks/accuracy_baselines.py (run from the repository root).
# As run on one H200, several at a time on the one GPU; each prints the table row of its run.
# A row's settings are in results.csv; the three that reach the published figures are:
python benchmarks/accuracy_baselines.py --data-root ../shared/data --max-minutes 6 trainer=gpu \
  --run "beauty:sasrec:datamodule.batch_size=128,model.lr=0.0005,callbacks.early_stopping.patience=15,seed=0"
python benchmarks/accuracy_baselines.py --data-root ../shared/data --max-minutes 4.5 trainer=gpu \
  --run "ml1m:bert4rec:datamodule.batch_size=256,model.dropout=0.1,model.attn_dropout=0.1,callbacks.early_stopping.patience=20"
python benchmarks/accuracy_baselines.py --data-root ../shared/data --max-minutes 6 trainer=gpu \
  --run "ml1m:sasrec:model.dropout=0.2,model.attn_dropout=0.2,datamodule.batch_size=128,model.hidden=128,model.inner=512,callbacks.early_stopping.patience=30"
