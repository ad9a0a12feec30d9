#!/bin/bash
# 018: Lite-LLM4Rec against SASRec on Amazon Toys (015's comparison) under equal tuning. Each model gets the same
# Optuna study (017's method): 8 TPE trials (sampler seed 0: all 8 fall in TPE's random start-up, so both models
# try the same 8 points) over space.yaml, each trial trained on train to convergence (early stopping on
# validation NDCG@10, patience 3, cap 40: no trial cap, so slow learners are not cut short) and scored on
# validation only, median pruning after 3 trials; the best trial is then trained again over seeds 0-4 to
# convergence and tested. Leave-one-out, full ranking with history masked, samples=tiled, batch 256 (the
# default; 015 ran batch 64). Lite-LLM4Rec: model=lite_llm4rec_sample (frozen MiniLM Item LLM, tiny random T5
# Rec LLM, one sampled position per window), as in 015.
# Run from the repository root with ../shared/data beside it; a re-run resumes each study (study.db) and skips
# finished seeds. As run (session 33): the two studies side by side, one thread each, under the CPU lock.
export LLMREC_DATA_DIR=../shared/data
OUT=${OUT:-outputs/sweeps/018_lite_llm4rec_equal_tuning}
HERE=experiments/018_lite_llm4rec_equal_tuning
MODELS="sasrec lite_llm4rec_sample"

mkdir -p "$OUT"
for model in $MODELS; do
  OMP_NUM_THREADS=1 python -m llmrec.tune model=$model dataset=toys protocol=loo \
    tune.space=$HERE/space.yaml tune.trials=8 tune.prune_startup=3 tune.prune_warmup=2 tune.seeds=5 \
    tune.dir="$OUT/$model" trainer.max_epochs=40 callbacks.early_stopping.patience=3 \
    trainer.enable_progress_bar=false > "$OUT/$model.log" 2>&1 &
done
wait

# Seed-level tests of the best settings (two-level t-test, seeds then users; Holm over the two metrics): the
# report reads the best re-runs only (trials write no results.json). Then the copies for the repository: the
# report, the seeds' results.json without per-user ranks or checkpoint paths, tuning.json with relative paths.
python -m llmrec.report "$OUT" --baseline sasrec --significance-metrics ndcg_10 hr_10
mkdir -p "$HERE/report"
cp "$OUT"/report.md "$OUT"/report.csv "$OUT"/report_*.csv "$HERE/report/"
python experiments/014_e4srec_beauty/strip.py "$OUT" "$HERE/runs"
for model in $MODELS; do
  sed "s#$(realpath "$OUT")/##g" "$OUT/$model/tuning.json" > "$HERE/runs/$model/tuning.json"
done

# Diagnostic (README): each model's chosen setting (Lite-LLM4Rec trial 0, SASRec trial 4) with patience 10 and a
# 200-epoch cap, seeds 0-2: does Lite-LLM4Rec's deficit come from patience 3 stopping a slow, noisy curve?
P10=outputs/sweeps/018_lite_llm4rec_patience10
declare -A CHOSEN=(  # each model's chosen trial (runs/<model>/tuning.json)
  [lite_llm4rec_sample]="model.lr=0.0012520653814999472 model.weight_decay=0.0 model.dropout=0.5"
  [sasrec]="model.lr=0.0008171478915115864 model.weight_decay=0.1 model.dropout=0.3"
)
for model in $MODELS; do
  for seed in 0 1 2; do
    OMP_NUM_THREADS=1 python -m llmrec model=$model dataset=toys protocol=loo seed=$seed ${CHOSEN[$model]} \
      trainer.max_epochs=200 callbacks.early_stopping.patience=10 trainer.enable_progress_bar=false \
      hydra.run.dir=$P10/${model}_s$seed
  done
done
python -m llmrec.report $P10 --baseline sasrec --significance-metrics ndcg_10 hr_10
mkdir -p "$HERE/report_patience10"
cp $P10/report.md $P10/report.csv $P10/report_*.csv "$HERE/report_patience10/"
python experiments/014_e4srec_beauty/strip.py $P10 "$HERE/runs_patience10"
