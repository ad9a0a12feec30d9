#!/bin/bash
# 014: E4SRec on Amazon Beauty against its own stage-1 SASRec and against SASRec trained on E4SRec's samples,
# 3 seeds, under llmrec's main protocol (loo) and the paper's training-script protocol (sampled, 1 + 99), on
# 5,000 users drawn once (protocol.eval_users=5000: E4SRec's evaluation on MiniLM is its main cost on 2 cores).
# Run from the repository root with ../shared/data beside it. As run: see README.md (what ran beside it).
export LLMREC_DATA_DIR=../shared/data
OUT=${OUT:-outputs/sweeps/014_e4srec_beauty}
# 1. Stage 1 per seed: llmrec's SASRec (CE, samples=tiled) to convergence (early stopping patience 3, cap 40),
#    as experiments/012 trained seed 0's.
for seed in 0 1 2; do
  python -m llmrec model=sasrec dataset=beauty seed=$seed trainer.max_epochs=40 callbacks.early_stopping.patience=3 \
    hydra.run.dir=$OUT/stage1_sasrec_loo_s$seed
done
# 2. E4SRec (official recipe, MiniLM, item projection started from the ID table; jobs.sh) and SASRec on
#    E4SRec's sample schema (the last 50 targets of each user, whole history); run_jobs.sh skips finished runs.
OUT=$OUT SEEDS="0 1 2" bash experiments/014_e4srec_beauty/jobs.sh | head -3 | bash experiments/013_harte_beauty/run_jobs.sh 2
#    SASRec on E4SRec's samples, twice: at E4SRec's budget of 6,000 examples (equal compute in examples), and
#    to convergence (patience 3, cap 40; session 45: about 1.4 minutes an epoch a core over 128,031 prefixes).
for seed in 0 1 2; do
  echo "$OUT/sasrec_last_targets_s$seed model=sasrec dataset=beauty seed=$seed samples=last_targets samples.n=50 dataset.max_len=550 protocol=loo protocol.eval_users=5000 budget/kind=examples budget.max_examples=6000"
  echo "$OUT/sasrec_last_targets_converged_s$seed model=sasrec dataset=beauty seed=$seed samples=last_targets samples.n=50 dataset.max_len=550 protocol=loo protocol.eval_users=5000 trainer.max_epochs=40 callbacks.early_stopping.patience=3 trainer.enable_progress_bar=false"
done | bash experiments/013_harte_beauty/run_jobs.sh 2
# 3. The same checkpoints on the same 5,000 users under the sampled protocol (the paper's finetune.py), and
#    the stage-1 runs (which ranked every user) on those 5,000 users under loo.
for seed in 0 1 2; do
  for run in e4srec_minilm_table_start sasrec_last_targets sasrec_last_targets_converged stage1_sasrec_loo; do
    python -m llmrec.evaluate run_dir=$OUT/${run}_s$seed name=sampled5000 protocol=sampled protocol.eval_users=5000 \
      allow_code_change=true
  done
  python -m llmrec.evaluate run_dir=$OUT/stage1_sasrec_loo_s$seed name=loo5000 protocol.eval_users=5000 \
    allow_code_change=true
done
# 4. The seed-level tests (Holm over the table) and the runs' stripped copies committed in runs/.
python experiments/014_e4srec_beauty/compare.py $OUT experiments/014_e4srec_beauty/report_significance.csv
python experiments/014_e4srec_beauty/strip.py $OUT experiments/014_e4srec_beauty/runs
# 5. The probe (session 45, seeds 0-2): why SASRec on E4SRec's samples beats stage 1. The same schema with
#    stage 1's context (max_len 50), and stage 1's tiled schema with the whole history (max_len 550); then
#    each variant against stage 1 (two-level test, Holm).
for seed in 0 1 2; do
  common="model=sasrec dataset=beauty seed=$seed protocol=loo protocol.eval_users=5000 trainer.max_epochs=40 callbacks.early_stopping.patience=3"
  echo "${OUT}_probe/sasrec_last_targets_len50_s$seed $common samples=last_targets samples.n=50 dataset.max_len=50"
  echo "${OUT}_probe/sasrec_tiled_len550_s$seed $common dataset.max_len=550"
done | bash experiments/013_harte_beauty/run_jobs.sh 2
python experiments/014_e4srec_beauty/strip.py ${OUT}_probe experiments/014_e4srec_beauty/runs_probe
python experiments/014_e4srec_beauty/compare.py experiments/014_e4srec_beauty \
  experiments/014_e4srec_beauty/report_significance_probe.csv --part probe
# Part 2, the full version on a GPU (one lent H200, one 10-minute call): the official recipe as its authors run
# it (random start of the item projection, the 3 epochs over every user's last 50 targets, 24,006 steps of 16
# examples), seeds 0-2, each on its own stage-1 SASRec; SASRec on the same samples to convergence; every user
# ranked under loo and under the sampled protocol. Run from the repository root with ../shared/data beside it.
OUT=outputs/sweeps/014_e4srec_beauty_gpu
# 1. Stage 1 here, as part 1's step 1 (CPU, to convergence).
for seed in 0 1 2; do
  python -m llmrec model=sasrec dataset=beauty seed=$seed trainer.max_epochs=40 callbacks.early_stopping.patience=3 \
    hydra.run.dir=$OUT/stage1_sasrec_loo_s$seed
done
# 2. The sampled protocol's candidates (drawn here, carried), stage 1's sampled figure, and .gpu/ to carry.
for seed in 0 1 2; do
  python -m llmrec.evaluate run_dir=$OUT/stage1_sasrec_loo_s$seed name=sampled protocol=sampled allow_code_change=true
done
OUT=$OUT bash experiments/014_e4srec_beauty/gpu_prepare.sh
# 3. On the GPU machine (the device tool: command "bash experiments/014_e4srec_beauty/gpu_device.sh",
#    carry [".gpu"], timeout 600 s); it returns runs.tgz (results.json files, configs; no checkpoints).
#    Elsewhere: OUT=<folder to keep> bash experiments/014_e4srec_beauty/gpu_device.sh on any CUDA machine.
# 4. Unpack, test, and commit the stripped copies.
#   tar xzf <returned runs.tgz> -C $OUT
python experiments/014_e4srec_beauty/compare.py $OUT experiments/014_e4srec_beauty/report_significance_gpu.csv --part gpu
python experiments/014_e4srec_beauty/strip.py $OUT experiments/014_e4srec_beauty/runs_gpu
# Not run: the random start of part 1 on 2 CPU cores (jobs.sh's last three lines; 012 measured it 3.4x below the
# table start at that budget), and the table start at full length (model.item_proj_init=id_table).
