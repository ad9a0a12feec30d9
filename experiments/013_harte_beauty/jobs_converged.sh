#!/bin/bash
# 013, part 2: Harte et al.'s first claim (LLM2SASRec > SASRec) with both models trained to convergence over
# 5 seeds: early stopping on val NDCG@10 with patience 3, cap 40 epochs, samples=tiled, each model's defaults
# (no tuning trials for either: equal, zero). Part 1 (jobs.sh) capped every model at 10 epochs, where all were
# still improving. PROTOCOLS: llmrec's main protocol (loo, session 29) and the paper's held-out users
# (user_holdout_random, session 32). One job per line for run_jobs.sh. MODELS, PATIENCE, MAX_EPOCHS and EXTRA
# (overrides for every job) let part 3 (jobs_bert4rec_converged.sh) reuse the list.
OUT=${OUT:-outputs/sweeps/013_harte_beauty_converged}
SEEDS=${SEEDS:-0 1 2 3 4}
PROTOCOLS=${PROTOCOLS:-loo user_holdout_random}
MODELS=${MODELS:-sasrec llm2sasrec}
PATIENCE=${PATIENCE:-3}
MAX_EPOCHS=${MAX_EPOCHS:-40}
for protocol in $PROTOCOLS; do
  for seed in $SEEDS; do
    for model in $MODELS; do
      echo "$OUT/${protocol}_${model}_s$seed model=$model dataset=beauty protocol=$protocol seed=$seed trainer.max_epochs=$MAX_EPOCHS callbacks.early_stopping.patience=$PATIENCE trainer.enable_progress_bar=false${EXTRA:+ $EXTRA}"
    done
  done
done
