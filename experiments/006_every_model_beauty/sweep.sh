#!/bin/bash
# Every model on Amazon Beauty, 3 seeds, one multirun, 2 CPU cores (run from the repository root with
# ../shared/data beside it). 21 jobs, 60 minutes wall on 2 cores.
LLMREC_DATA_DIR=../shared/data python -m llmrec -m experiment=every_model_beauty \
  trainer.max_time=00:00:03:00 hydra.sweep.dir=outputs/sweeps/every_model_beauty_3seeds
# LLMSeqSim's variant picked on validation (last item; see llmseqsim_variants.txt), the same three seeds:
LLMREC_DATA_DIR=../shared/data python -m llmrec -m experiment=every_model_beauty model=llmseqsim \
  model.aggregation._target_=llmrec.models.llmseqsim.LastItem \
  hydra.sweep.dir=outputs/sweeps/every_model_beauty_llmseqsim_last
# The 15 LLMSeqSim variants (aggregation x similarity) with val and test NDCG@10, and the embedding timings:
PYTHONPATH=src python benchmarks/embeddings_speed.py --root ../shared/data/amazon-beauty > llmseqsim_variants.txt
