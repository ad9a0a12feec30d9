#!/bin/bash
# 016: GRU4Rec, HSTU and TIGER on Amazon Beauty against SASRec, leave-one-out, full ranking, history masked,
# 3 seeds, every model to convergence on equal terms (jobs.sh); TIGER's beam-vs-exact gap on MovieLens-100K.
# The SASRec arm is experiments/013's converged SASRec (jobs_converged.sh, seeds 0-2: the same split, sample
# schema, stopping rule and defaults). Run from the repository root with ../shared/data beside it; a re-run
# skips finished jobs. As run: one worker of one thread (run_jobs.sh 1), beside 013's part 2 (one more).
export LLMREC_DATA_DIR=../shared/data
OUT=${OUT:-outputs/sweeps/016_id_and_generative_beauty}
OUT=$OUT bash experiments/016_id_and_generative_beauty/jobs.sh | bash experiments/013_harte_beauty/run_jobs.sh 1
# The report folders: Beauty (this study's runs + 013's SASRec seeds 0-2) and ML-100K (the gap).
mkdir -p outputs/reports016/beauty outputs/reports016/ml100k
cp -r "$OUT"/beauty_* outputs/reports016/beauty/
for seed in 0 1 2; do
  cp -r outputs/sweeps/013_harte_beauty_converged/loo_sasrec_s$seed outputs/reports016/beauty/beauty_sasrec_s$seed
done
cp -r "$OUT"/ml100k_* outputs/reports016/ml100k/
# Seed-level tests against SASRec for the models with 3 seeds (as run: HSTU, in a folder of its own with
# SASRec's runs, since the report refuses a comparison with fewer seeds); the table for all.
python -m llmrec.report outputs/reports016/beauty --baseline sasrec --significance-metrics ndcg_10 hr_10  # -> report_beauty/
# TIGER beam vs exact on Beauty: seed 0 re-evaluated on 1,000 test users (-> gap_beauty_tiger_s0_1000users.json)
python -m llmrec.evaluate run_dir="$OUT"/beauty_tiger_s0 name=gap_1000 model.compare_decodes=true protocol.eval_users=1000
# (no separate HSTU folder any more)
# (session 29: HSTU alone in a folder with SASRec; session 30: every model has 3 seeds, one report)
python -m llmrec.report outputs/reports016/ml100k                # -> report_ml100k/ (with the beam-vs-exact table)
# This study's own runs only (SASRec's are 013's, in 013's runs_converged/).
python experiments/013_harte_beauty/collect.py "$OUT" /nonexistent outputs/full016 \
  experiments/016_id_and_generative_beauty/runs
# The ledger, from every study's committed runs (014's stage-1 SASRec left out: the same setting and seeds as
# 013's converged SASRec, which the ledger counts once; 014's SASRec on E4SRec's samples at 6,000 examples left
# out: a control stopped at E4SRec's stage-2 budget, untrained by design, not llmrec's figure for SASRec;
# 017's part 2 left out: its re-runs are part 1's setting and seeds, identical results; 013 step 7's LLMSeqPrompt
# left out until it has 3 seeds, its LLMSeqSim copies too: part 1's runs re-evaluated).
python -m llmrec.report.ledger --runs experiments/011_protocol_sensitivity/runs/ml100k \
  experiments/011_protocol_sensitivity/runs/beauty_006_recompare experiments/013_harte_beauty/runs \
  experiments/013_harte_beauty/runs_converged experiments/013_harte_beauty/runs_last_targets experiments/013_harte_beauty/runs_bert4rec_converged experiments/013_harte_beauty/runs_llmseqprompt/beam \
  experiments/013_harte_beauty/runs_llmseqprompt_loo/sweep/loo_sasrec_s* \
  $(ls -d experiments/014_e4srec_beauty/runs/* | grep -v 'stage1_sasrec\|sasrec_last_targets_s') \
  experiments/015_lite_llm4rec/runs experiments/016_id_and_generative_beauty/runs experiments/017_equal_tuning/runs/trial_cap8 \
  experiments/017_equal_tuning/runs/user_holdout experiments/017_equal_tuning/runs/bert4rec \
  experiments/017_equal_tuning/runs/bert4rec_user_holdout experiments/017_equal_tuning/runs/bert4rec_user_holdout_trial6 \
  experiments/018_lite_llm4rec_equal_tuning/runs \
  --claims experiments/claims.yaml --relative-to . --out experiments/LEDGER.md
