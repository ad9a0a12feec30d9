#!/bin/bash
# 013, part 3: Harte et al.'s BERT4Rec claim (LLM2BERT4Rec > BERT4Rec) with both models trained to
# convergence. Part 1 (jobs.sh) capped them at 10 epochs, where both were still improving. Both run the
# BERT4Rec authors' Beauty values (model=bert4rec_beauty, llm2bert4rec_beauty: mask 0.6, dropout 0.5 / 0.2,
# weight decay 0.01) at lr 1e-3 constant, as in part 1 (the authors' 1e-4 with warm-up assumes 400k steps).
# Budget: early stopping on val NDCG@10 with patience 10 (a masked-item learner's validation curve is slow
# and noisy: 018's patience-3 runs stopped on early plateaus), cap 200 epochs; samples=tiled; no tuning
# trials for either (equal, zero). Seeds 0-2: a run costs one to two hours of one core. resume=true: an
# interrupted run continues from its own last.ckpt when the list is run again (finished runs are skipped).
OUT=${OUT:-outputs/sweeps/013_harte_beauty_bert4rec_converged}
SEEDS=${SEEDS:-0 1 2}
PROTOCOLS=${PROTOCOLS:-loo}
for protocol in $PROTOCOLS; do
  for seed in $SEEDS; do
    for model in bert4rec_beauty llm2bert4rec_beauty; do
      echo "$OUT/${protocol}_${model}_s$seed model=$model dataset=beauty protocol=$protocol seed=$seed model.lr=0.001 trainer.max_epochs=200 callbacks.early_stopping.patience=10 trainer.enable_progress_bar=false resume=true"
    done
  done
done
