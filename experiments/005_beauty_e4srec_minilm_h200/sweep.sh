#!/bin/bash
# SASRec, E4SRec (tiny random LLaMA) and E4SRec (pretrained MiniLM backbone) on Amazon Beauty, 3 seeds, one
# sweep, run from the repository root with ../shared/data beside it. As run: one H200, 9 jobs in parallel.
# E4SRec's frozen ID table comes from the validation-selected SASRec of experiments/001 (stage1_checkpoint;
# null trains one first). Then the inference benchmark on the same GPU.
LLMREC_DATA_DIR=../shared/data python -m llmrec -m experiment=every_model_beauty \
  model=sasrec,e4srec,e4srec_minilm stage1_checkpoint=outputs/benchmarks/accuracy/beauty_sasrec \
  trainer=gpu hydra/launcher=joblib hydra.launcher.n_jobs=9 trainer.max_time=00:00:06:00 \
  hydra.sweep.dir=outputs/sweeps/beauty_e4srec_minilm
python benchmarks/e4srec_speed.py --arch 7b --device cuda --repeats 20
