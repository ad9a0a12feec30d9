#!/bin/bash
# 006 re-run: SASRec vs LLM2SASRec on Beauty, seeds 0,1,2, compute budget (10 epochs cap, early stopping patience 3), no wall box
export LLMREC_DATA_DIR=../shared/data LLMREC_CACHE_DIR=.cache
exec nice -n 5 python -m llmrec -m experiment=every_model_beauty \
  'hydra.sweeper.params.model="sasrec,llm2sasrec"' 'hydra.sweeper.params.seed="0,1,2"' \
  trainer.max_time=null trainer.max_epochs=10 stage1_checkpoint=null \
  hydra.sweep.dir=outputs/sweeps/006_recompare hydra.callbacks.report.baseline=sasrec
