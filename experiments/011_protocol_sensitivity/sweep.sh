#!/bin/bash
# 011: SASRec, BERT4Rec and LLMSeqSim under the four protocols, run from the repository root with ../shared/data.
# Budget: convergence (early stopping on val/ndcg_10, patience 5) capped at 30 epochs (ML-100K) / 10 (Beauty);
# samples=tiled; ML-100K seeds 0,1,2 (the preset's), Beauty seed 0 (time: see README). OMP_NUM_THREADS=1 so that two sweeps share the 2 cores.
export LLMREC_DATA_DIR=../shared/data OMP_NUM_THREADS=1
python -m llmrec -m experiment=protocol_sensitivity dataset=ml100k trainer.max_epochs=30 \
  hydra.sweep.dir=outputs/sweeps/011_ml100k
# Beauty.txt has no timestamps: user_holdout in a seeded random order (user_holdout_random). The user_holdout
# jobs ran as a second sweep beside the first (same settings), to use the second core:
python -m llmrec -m experiment=protocol_sensitivity dataset=beauty seed=0 trainer.max_epochs=10 \
  protocol=loo,loo_unmasked,sampled,user_holdout_random hydra.sweep.dir=outputs/sweeps/011_beauty
# The tables and the ledger, from the results.json copies in runs/ (per-user ranks and paths stripped):
python -m llmrec.report.sensitivity experiments/011_protocol_sensitivity/runs/ml100k \
  --out experiments/011_protocol_sensitivity/ml100k
python -m llmrec.report.sensitivity experiments/011_protocol_sensitivity/runs/beauty \
  --out experiments/011_protocol_sensitivity/beauty
python -m llmrec.report.ledger --runs experiments/011_protocol_sensitivity/runs --relative-to . \
  --out experiments/LEDGER.md
