#!/bin/bash
# 013: the trained models of Harte et al.'s comparison on Amazon Beauty, one job per line for run_jobs.sh.
# Run from the repository root with ../shared/data (LLMREC_DATA_DIR). Budget: convergence (early stopping on
# val/ndcg_10, patience 5) capped at 10 epochs; samples=tiled for every model; no tuning trials for any trained
# model (each runs its preset); BERT4Rec and LLM2BERT4Rec with the authors' Beauty values except lr 1e-3
# constant (their 1e-4 with warm-up and linear decay assumes 400k steps).
OUT=${OUT:-outputs/sweeps/013_harte_beauty}
for seed in 0 1 2; do
  for protocol in loo user_holdout_random; do
    for model in sasrec llm2sasrec bert4rec_beauty llm2bert4rec_beauty; do
      extra=""
      case $model in *bert4rec_beauty) extra="model.lr=0.001" ;; esac
      echo "$OUT/${protocol}_${model}_s${seed} model=$model dataset=beauty protocol=$protocol seed=$seed trainer.max_epochs=10 trainer.enable_progress_bar=false${extra:+ $extra}"
    done
  done
done
