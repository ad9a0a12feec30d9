#!/bin/bash
# 013, part 3: Harte et al.'s BERT4Rec claim (LLM2BERT4Rec > BERT4Rec) with both models trained to
# convergence. Part 1 (jobs.sh) capped them at 10 epochs, where both were still improving. Both run the
# BERT4Rec authors' Beauty values (model=bert4rec_beauty, llm2bert4rec_beauty: mask 0.6, dropout 0.5 / 0.2,
# weight decay 0.01) at lr 1e-3 constant, as in part 1 (the authors' 1e-4 with warm-up assumes 400k steps).
# Budget: early stopping on val NDCG@10 with patience 10 (a masked-item learner's validation curve is slow
# and noisy: 018's patience-3 runs stopped on early plateaus), cap 200 epochs; samples=tiled; no tuning
# trials for either (equal, zero). Seeds 0-4 (about 16 s an epoch on one thread). resume=true: an
# interrupted run continues from its own last.ckpt when the list is run again (finished runs are skipped).
OUT=${OUT:-outputs/sweeps/013_harte_beauty_bert4rec_converged} SEEDS=${SEEDS:-0 1 2 3 4} PROTOCOLS=${PROTOCOLS:-loo} \
  MODELS="bert4rec_beauty llm2bert4rec_beauty" PATIENCE=10 MAX_EPOCHS=200 EXTRA="model.lr=0.001 resume=true" \
  bash "$(dirname "$0")/jobs_converged.sh"
