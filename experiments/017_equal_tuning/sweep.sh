#!/bin/bash
# 017: Harte et al.'s first claim (LLM2SASRec > SASRec) on Beauty under equal tuning. Each model gets the same
# Optuna study: 8 TPE trials (sampler seed 0: all 8 fall in TPE's random start-up, so both models try the same
# 8 points) over space.yaml, each trial trained on train and scored on validation NDCG@10 only, with early
# stopping (patience 3) and median pruning after 3 trials; the best trial is then trained again over seeds 0-4
# to convergence (early stopping on validation, patience 3, cap 40: 013 part 2's budget) and tested.
#   part 1 (OUT1): trials capped at 8 epochs (tune.trial_epochs=8), the cheap search;
#   part 2 (OUT2): trials trained like the final runs (to convergence, cap 40), so the search is not biased
#                  towards settings that learn fast;
#   part 3 (OUT3): part 1 under the paper's held-out users (user_holdout_random), tuned on its validation users;
#   part 4 (OUT4): the BERT4Rec pair (bert4rec_beauty, llm2bert4rec_beauty: Harte et al.'s second claim) over
#                  space_bert4rec.yaml (part 1's space plus the mask proportion), loo; each trial to early
#                  stopping with patience 10 capped at 40 epochs (a cloze learner is slow: 013 part 3's runs
#                  peaked at epochs 48-84, so the cap is a stated departure), median pruning from epoch 10;
#                  the best re-run like 013 part 3 (patience 10, cap 200);
#   part 5 (OUT5): part 4 under the paper's held-out users (user_holdout_random), the same space and budget;
#   part 5b (OUT5B): part 5's check of its trial cap: BERT4Rec re-run at trial 6 (LLM2BERT4Rec's choice, the
#                  runner-up of BERT4Rec's capped search) with the re-runs' budget over seeds 0-4, and compared
#                  with part 5's LLM2BERT4Rec.
#   part 5c (OUT5C): the other side: LLM2BERT4Rec re-run at trial 2 (its capped search's runner-up) in the same
#                  way; the full-budget choice of each model on validation (full_budget_choice.md).
# Run from the repository root with ../shared/data beside it; a re-run resumes each study (study.db) and skips
# finished seeds. As run (sessions 32; 38 for part 4; 39 for parts 5 and 5b; 40 for 5c): the two models' studies
# side by side, one thread each, under the CPU lock.
export LLMREC_DATA_DIR=../shared/data
OUT1=${OUT1:-outputs/sweeps/017_equal_tuning}
OUT2=${OUT2:-outputs/sweeps/017_equal_tuning_converged}
OUT3=${OUT3:-outputs/sweeps/017_equal_tuning_user_holdout}
OUT4=${OUT4:-outputs/sweeps/017_equal_tuning_bert4rec}
OUT5=${OUT5:-outputs/sweeps/017_equal_tuning_bert4rec_user_holdout}
OUT5B=${OUT5B:-outputs/sweeps/017_part5_bert4rec_trial6}
OUT5C=${OUT5C:-outputs/sweeps/017_part5_llm2bert4rec_trial2}
HERE=experiments/017_equal_tuning
MODELS="sasrec llm2sasrec"  # the pair of parts 1-3 (parts 4 and 5 set their own)

# The overrides' order is part of a stored study's identity: keep it, or a resume is refused.
study() {  # <out dir> <protocol> [extra tune overrides, which override the defaults here]; $STATE: tune.state
  out=$1; protocol=$2; shift 2
  mkdir -p "$out"
  for model in $MODELS; do
    OMP_NUM_THREADS=1 python -m llmrec.tune model=$model dataset=beauty protocol=$protocol \
      tune.space=$HERE/space.yaml tune.trials=8 tune.prune_startup=3 tune.prune_warmup=2 tune.seeds=5 \
      tune.dir="$out/$model" ${STATE:+tune.state=$STATE/$model} trainer.max_epochs=40 \
      callbacks.early_stopping.patience=3 trainer.enable_progress_bar=false "$@" > "$out/$model.log" 2>&1 &
  done
  wait
}

# Seed-level tests of the best settings (two-level t-test, seeds then users; Holm over the two metrics): the
# report reads every results.json below the folder, i.e. the best re-runs only (trials write none). Then copies
# for the repository: the report, the seeds' results.json without per-user ranks or checkpoint paths, and
# tuning.json with the paths made relative to the study's folder.
report() {  # <out dir> <part name>
  out=$1; part=$2
  python -m llmrec.report "$out" --baseline "${MODELS%% *}" --significance-metrics ndcg_10 hr_10
  mkdir -p "$HERE/report_$part"
  cp "$out"/report.md "$out"/report.csv "$out"/report_*.csv "$HERE/report_$part/"
  python experiments/014_e4srec_beauty/strip.py "$out" "$HERE/runs/$part"
  for model in $MODELS; do
    sed "s#$(realpath "$out")/##g" "$out/$model/tuning.json" > "$HERE/runs/$part/$model/tuning.json"
  done
}

# Parts 4 and 5 outlast a session on 2 cores, so each study keeps its state in the repository as it goes
# (tune.state: study.db after every trial, each finished re-run's results.json and best_params.json), and a
# fresh clone's empty output folder continues from it (an unfinished seed starts again: no checkpoints kept).
BERT4REC_PAIR="bert4rec_beauty llm2bert4rec_beauty"
bert4rec_study() {  # <out dir> <state dir> <protocol>
  MODELS=$BERT4REC_PAIR STATE=$2 study "$1" "$3" tune.space=$HERE/space_bert4rec.yaml tune.trial_epochs=40 \
    tune.prune_warmup=10 trainer.max_epochs=200 callbacks.early_stopping.patience=10
}

# Parts 5b and 5c re-run a trial of part 5's search with the re-runs' budget (200-epoch cap, patience 10) over
# seeds 0-4, two seeds at a time. The parameters come from the study's committed tuning.json; the config differs
# from part 5's re-runs in these five only (checked for 5b).
rerun_trial() {  # <model> <trial number> <out dir>
  local model=$1 out=$3 params
  params=$(python -c "import json, sys; t = [t for t in json.load(open(sys.argv[1]))['trials'] if t['number'] == int(sys.argv[2])]; print(' '.join(f'{k}={v}' for k, v in t[0]['params'].items()))" \
    "$HERE/runs/bert4rec_user_holdout/$model/tuning.json" "$2") || return 1
  mkdir -p "$out"
  for lane in "0 2 4" "1 3"; do
    for seed in $lane; do
      [ -f "$out/seed_$seed/results.json" ] && continue
      OMP_NUM_THREADS=1 python -m llmrec model=$model dataset=beauty protocol=user_holdout_random \
        trainer.max_epochs=200 callbacks.early_stopping.patience=10 trainer.enable_progress_bar=false $params \
        seed=$seed hydra.run.dir="$out/seed_$seed" > "$out/seed_$seed.log" 2>&1
    done &
  done
  wait
}

# Part 5b: BERT4Rec at trial 6 against part 5's LLM2BERT4Rec (trial 6).
bert4rec_trial6() {
  rerun_trial bert4rec_beauty 6 "$OUT5B" || return 1
  compare=$OUT5B/../017_part5_trial6_compare
  rm -rf "$compare" && mkdir -p "$compare"
  python experiments/014_e4srec_beauty/strip.py "$OUT5B" "$compare/bert4rec_beauty" > /dev/null
  python experiments/014_e4srec_beauty/strip.py "$OUT5/llm2bert4rec_beauty/best" "$compare/llm2bert4rec_beauty" \
    > /dev/null
  python -m llmrec.report "$compare" --baseline bert4rec_beauty --significance-metrics ndcg_10 hr_10
  mkdir -p "$HERE/report_bert4rec_user_holdout_trial6"
  cp "$compare"/report.md "$compare"/report.csv "$compare"/report_*.csv "$HERE/report_bert4rec_user_holdout_trial6/"
  python experiments/014_e4srec_beauty/strip.py "$OUT5B" "$HERE/runs/bert4rec_user_holdout_trial6"
}

# Part 5c: the other side of 5b. LLM2BERT4Rec's runner-up (trial 2) at the re-runs' budget; each model's two best
# trials at that budget, chosen by mean validation NDCG@10 over the 5 seeds (full_budget_choice.md).
llm2bert4rec_trial2() {
  rerun_trial llm2bert4rec_beauty 2 "$OUT5C" || return 1
  python experiments/014_e4srec_beauty/strip.py "$OUT5C" "$HERE/runs/llm2bert4rec_user_holdout_trial2" > /dev/null
  python $HERE/full_budget_choice.py \
    bert4rec_beauty:7="$OUT5/bert4rec_beauty/best" bert4rec_beauty:6="$OUT5B" \
    llm2bert4rec_beauty:6="$OUT5/llm2bert4rec_beauty/best" llm2bert4rec_beauty:2="$OUT5C" \
    > "$HERE/report_bert4rec_user_holdout_trial6/full_budget_choice.md"
}

PARTS=${PARTS:-1 2 3 4 5 5b 5c}  # e.g. PARTS=4 runs (or resumes) part 4 alone
for part in $PARTS; do
  case $part in
    1) study "$OUT1" loo tune.trial_epochs=8 && report "$OUT1" trial_cap8 ;;
    2) study "$OUT2" loo && report "$OUT2" converged_trials ;;
    3) study "$OUT3" user_holdout_random tune.trial_epochs=8 && report "$OUT3" user_holdout ;;
    4) bert4rec_study "$OUT4" $HERE/state_bert4rec loo && MODELS=$BERT4REC_PAIR report "$OUT4" bert4rec ;;
    5) bert4rec_study "$OUT5" $HERE/state_bert4rec_user_holdout user_holdout_random &&
         MODELS=$BERT4REC_PAIR report "$OUT5" bert4rec_user_holdout ;;
    5b) bert4rec_trial6 ;;
    5c) llm2bert4rec_trial2 ;;
    *) echo "unknown part $part (1-5, 5b, 5c)" >&2; exit 2 ;;
  esac
done
