#!/bin/bash
# 012: why E4SRec scored below its own stage-1 SASRec in experiments/005. Run from the repository root with
# ../shared/data beside it. As run: 2 CPU cores, one thread per job, beside experiments/013's two workers.
export LLMREC_DATA_DIR=../shared/data
OUT=${OUT:-outputs/sweeps/012_e4srec_diagnosis}
# 1. The stage-1 SASRec (leave-one-out, converged: early stopping patience 3, cap 40 epochs) and what its
#    frozen table gives without any sequence model (table_readout.py).
python -m llmrec model=sasrec dataset=beauty seed=0 trainer.max_epochs=40 callbacks.early_stopping.patience=3 \
  hydra.run.dir=$OUT/stage1_sasrec_loo_s0
python experiments/012_e4srec_diagnosis/table_readout.py $OUT/stage1_sasrec_loo_s0
# 2. One factor at a time (jobs.sh): the tiny random LLaMA under leave-one-out; the MiniLM pair under
#    user_holdout_random with that split's SASRec (experiments/013's user_holdout_random_sasrec_s0); the
#    main factor over seeds 0, 1, 2 (seeds/; as run, seed 0's default arm is tiny_default, the same setting).
# 3. The seed-level test of that factor: python -m llmrec.report <tiny_default + seeds/*> --baseline e4srec
STAGE1=$OUT/stage1_sasrec_loo_s0 SEEDS="0 1 2" STAGE1_UH=outputs/sweeps/013_harte_beauty/user_holdout_random_sasrec_s0 \
  OUT=$OUT bash experiments/012_e4srec_diagnosis/jobs.sh | bash experiments/013_harte_beauty/run_jobs.sh 1
# The full version, for a GPU (not run here): E4SRec on MiniLM to convergence under leave-one-out, 3 seeds, each
# with its own stage-1 SASRec, both item-projection starts:
#   python -m llmrec -m model=e4srec_minilm dataset=beauty seed=0,1,2 model.item_proj_init=random,id_table \
#     trainer=gpu trainer.max_epochs=50 hydra.sweep.dir=outputs/sweeps/012_e4srec_minilm_gpu
