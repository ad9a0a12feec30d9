#!/bin/bash
# 015: job lines ("<run dir> <overrides...>") for experiments/013_harte_beauty/run_jobs.sh. Lite-LLM4Rec's
# datasets that ../shared/data holds (MovieLens-1M, Amazon Toys), leave-one-out, full ranking with history
# masked, seeds $SEEDS. Both models trained to convergence on equal terms: early stopping on validation NDCG@10
# (patience below), cap 40 epochs, each model's default lr (no tuning for either), samples=tiled, batch 64.
# Lite-LLM4Rec: frozen MiniLM Item LLM, a tiny T5 Rec LLM with random weights (llmrec's offline stand-in for
# the paper's pretrained T5), trained on one sampled position per window (model=lite_llm4rec_sample, the
# paper's cheaper alternative to full traversal, which costs hours an epoch on ML-1M here). resume=true: a run
# interrupted mid-way continues from its own last.ckpt when the list is run again (finished runs are skipped).
OUT=${OUT:-outputs/sweeps/015_lite_llm4rec}
SEEDS=${SEEDS:-0 1 2}
DATASETS=${DATASETS:-toys ml1m}
MODELS=${MODELS:-sasrec lite_llm4rec_sample}
# MODELS=llmseqprompt: the paper's comparison (a generative LLM recommender decoding titles by beam search) on
# a stand-in as random as Lite-LLM4Rec's Rec LLM: the tiny random LLaMA, trained whole at the lr that its
# synthetic budget found (conf/budget/synthetic_llmseqprompt.yaml; LoRA on a random network learns nothing).
# It samples one target per window, as lite_llm4rec_sample does: the same examples an epoch.
declare -A EXTRA=([llmseqprompt]="model.lr=0.003 model.llm.freeze=false model.llm.lora=null")
# Patience per dataset: 3 on Toys (as run); 10 on ML-1M, whose validation curve is noisier: with patience 3,
# SASRec seed 0 stopped at epoch 18 (val NDCG@10 0.137) where experiments/008 reaches 0.17 (patience 10).
declare -A PATIENCE=([toys]=3 [ml1m]=10)
for dataset in $DATASETS; do
  for model in $MODELS; do
    for seed in $SEEDS; do
      echo "$OUT/${dataset}_${model}_s$seed model=$model dataset=$dataset seed=$seed trainer.max_epochs=40 callbacks.early_stopping.patience=${PATIENCE[$dataset]} datamodule.batch_size=64 trainer.enable_progress_bar=false resume=true${EXTRA[$model]:+ ${EXTRA[$model]}}"  # no trailing blank: xargs -L joins such a line to the next
    done
  done
done
