#!/bin/bash
# 013, part 2: Harte et al.'s first claim (LLM2SASRec > SASRec) with both models trained to convergence over
# 5 seeds: early stopping on val NDCG@10 with patience 3, cap 40 epochs, samples=tiled, each model's defaults
# (no tuning trials for either: equal, zero). Part 1 (jobs.sh) capped every model at 10 epochs, where all were
# still improving. PROTOCOLS: llmrec's main protocol (loo, session 29) and the paper's held-out users
# (user_holdout_random, session 32). One job per line for run_jobs.sh.
OUT=${OUT:-outputs/sweeps/013_harte_beauty_converged}
SEEDS=${SEEDS:-0 1 2 3 4}
PROTOCOLS=${PROTOCOLS:-loo user_holdout_random}
for protocol in $PROTOCOLS; do
  for seed in $SEEDS; do
    for model in sasrec llm2sasrec; do
      echo "$OUT/${protocol}_${model}_s$seed model=$model dataset=beauty protocol=$protocol seed=$seed trainer.max_epochs=40 callbacks.early_stopping.patience=3 trainer.enable_progress_bar=false"
    done
  done
done
