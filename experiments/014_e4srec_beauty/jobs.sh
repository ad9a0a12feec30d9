#!/bin/bash
# 014: job lines ("<run dir> <overrides...>") for experiments/013_harte_beauty/run_jobs.sh. Amazon Beauty,
# leave-one-out (llmrec's main protocol; the paper's 1 + 99 figure comes from re-evaluating each checkpoint,
# sweep.sh), seeds $SEEDS, each E4SRec seed on the stage-1 SASRec of the same seed ($STAGE1/stage1_sasrec_loo_s<seed>).
# E4SRec: experiment=e4srec_paper (the official recipe: Alpaca prompt without BOS, lr 3e-4 with 100 warm-up
# steps and a cosine over 3 epochs, batches of 16 examples, the last 50 targets of each user with their whole
# history, clipping 1.0) on the MiniLM backbone, stopped after $EXAMPLES training examples ($EXAMPLES of the
# schedule's 3 x 128,031; what 2 CPU cores allow). Two arms: the official random start of the item projection,
# and llmrec's start from the ID table (experiments/012).
OUT=${OUT:-outputs/sweeps/014_e4srec_beauty}
SEEDS=${SEEDS:-0 1 2}
EXAMPLES=${EXAMPLES:-6000}
EVAL_USERS=${EVAL_USERS:-5000}
STAGE1=${STAGE1:-$OUT}
for seed in $SEEDS; do
  e4srec="experiment=e4srec_paper llm@model.llm=minilm trainer=cpu protocol=loo protocol.eval_users=$EVAL_USERS dataset=beauty seed=$seed model.id_embeddings=$STAGE1/stage1_sasrec_loo_s$seed budget/kind=examples budget.max_examples=$EXAMPLES lr_scheduler.epochs=3"
  echo "$OUT/e4srec_minilm_table_start_s$seed $e4srec model.item_proj_init=id_table model.name=e4srec_minilm_table_start"
done
for seed in $SEEDS; do
  e4srec="experiment=e4srec_paper llm@model.llm=minilm trainer=cpu protocol=loo protocol.eval_users=$EVAL_USERS dataset=beauty seed=$seed model.id_embeddings=$STAGE1/stage1_sasrec_loo_s$seed budget/kind=examples budget.max_examples=$EXAMPLES lr_scheduler.epochs=3"
  echo "$OUT/e4srec_minilm_s$seed $e4srec model.name=e4srec_minilm"
done
