#!/bin/bash
# 012: controlled E4SRec runs on Amazon Beauty, one factor at a time, for run_jobs.sh (experiments/013). Seed 0,
# leave-one-out, samples=tiled, an equal budget of 3 epochs (budget/kind=epochs), the same frozen stage-1 table
# (STAGE1: a SASRec run of this dataset and seed; sweep.sh trains it). Backbone: the tiny random LLaMA
# (llmrec's default stand-in; cheap on 2 cores). Compared on validation NDCG@10.
OUT=${OUT:-outputs/sweeps/012_e4srec_diagnosis}
common="model=e4srec dataset=beauty seed=0 model.id_embeddings=$STAGE1 budget/kind=epochs trainer.max_epochs=3 trainer.enable_progress_bar=false"
echo "$OUT/tiny_default $common"
echo "$OUT/tiny_official_schedule $common lr_scheduler=e4srec model.lr=0.0003"
echo "$OUT/tiny_item_proj_from_table $common model.item_proj_init=id_table"
echo "$OUT/tiny_trainable_table $common model.train_id_table=true"
# The pretrained MiniLM backbone, the item-projection start only, at an equal budget of 6,000 training examples
# (about 5% of an epoch: what 2 CPU cores allow), batches of 16 windows, under protocol=user_holdout_random
# (2,236 validation users: an affordable evaluation) with a stage-1 SASRec of that split (STAGE1_UH).
if [ -n "$STAGE1_UH" ]; then
  minilm="model=e4srec_minilm dataset=beauty protocol=user_holdout_random seed=0 model.id_embeddings=$STAGE1_UH budget/kind=examples budget.max_examples=6000 datamodule.batch_size=16 trainer.enable_progress_bar=false"
  echo "$OUT/minilm_default $minilm"
  echo "$OUT/minilm_item_proj_from_table $minilm model.item_proj_init=id_table"
fi
# The main factor over seeds 0, 1, 2 (training randomness; the same frozen table), tiny LLaMA, 3 epochs, with
# the arms named apart so the report compares them: python -m llmrec.report <these runs> --baseline e4srec.
if [ -n "$SEEDS" ]; then
  for seed in $SEEDS; do
    arm="model=e4srec dataset=beauty seed=$seed model.id_embeddings=$STAGE1 budget/kind=epochs trainer.max_epochs=3 trainer.enable_progress_bar=false"
    echo "$OUT/seeds/tiny_default_s$seed $arm"
    echo "$OUT/seeds/tiny_item_proj_from_table_s$seed $arm model.item_proj_init=id_table model.name=e4srec_table_start"
  done
fi
