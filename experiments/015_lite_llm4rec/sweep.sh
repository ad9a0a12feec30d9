#!/bin/bash
# 015: Lite-LLM4Rec against SASRec on MovieLens-1M and Amazon Toys (the paper's datasets that ../shared/data
# holds), 3 seeds, leave-one-out, both to convergence on equal terms; and the paper's inference claim (one
# projection pass against beam search) measured by benchmarks/lite_llm4rec_speed.py on a quiet machine.
# Run from the repository root with ../shared/data beside it. As run: see README.md (what ran beside it).
export LLMREC_DATA_DIR=../shared/data
OUT=${OUT:-outputs/sweeps/015_lite_llm4rec}
# 1. The runs (jobs.sh), two one-thread workers under the CPU lock; a re-run skips finished runs and continues
#    an interrupted one from its last.ckpt (resume=true). Toys ran first (sessions 30-31); ML-1M (patience 10)
#    from session 34. Its patience-3 start is kept apart (see README): outputs/sweeps/015_ml1m_patience3.
OUT=$OUT bash experiments/015_lite_llm4rec/jobs.sh | flock /tmp/llmrec-cpu.lock bash experiments/013_harte_beauty/run_jobs.sh 2
#    Popularity on ML-1M (seconds; a reference level for the text-only Lite-LLM4Rec; deterministic, so its seeds
#    are replicas):
DATASETS=ml1m MODELS=popularity OUT=$OUT bash experiments/015_lite_llm4rec/jobs.sh | bash experiments/013_harte_beauty/run_jobs.sh 1
# 2. Seed-level tests against SASRec (Holm over the report's comparisons), per dataset; stripped copies in runs/.
python -m llmrec.report $OUT --baseline sasrec
python experiments/014_e4srec_beauty/strip.py $OUT experiments/015_lite_llm4rec/runs
# 2b. The paper's own comparison, a generative LLM recommender, on ML-1M (seeds 0, 1 in session 35, about 2.3 h
#     each on one thread; seed 2 resumed from its last.ckpt in session 36), then its report beside the first:
DATASETS=ml1m MODELS=llmseqprompt OUT=$OUT bash experiments/015_lite_llm4rec/jobs.sh | \
  flock /tmp/llmrec-cpu.lock bash experiments/013_harte_beauty/run_jobs.sh 2
python -m llmrec.report $OUT --baseline llmseqprompt --significance-metrics hr_10 ndcg_10 \
  --out $OUT/vs_llmseqprompt  # copied to report_ml1m_vs_llmseqprompt/
# 3. Inference: Lite-LLM4Rec's projection head against LLMSeqPrompt's beam search, same users, LLaMA
#    backbones of the same size (random weights: cost does not depend on them), quiet machine.
#    speed.csv (the ledger's claims read it) holds the rows of the last run.
rm -f experiments/015_lite_llm4rec/speed.csv
for dataset in toys ml1m; do
  flock /tmp/llmrec-cpu.lock python benchmarks/lite_llm4rec_speed.py --dataset $dataset --users 256 --skip-catalog \
    --csv experiments/015_lite_llm4rec/speed.csv
done
# Not run here (2 CPU cores): LLMSeqPrompt's accuracy on these datasets (beam search over ~6,000 and ~19,400
# users per split), and Lite-LLM4Rec with full traversal (every position a Rec-LLM row: hours an epoch on ML-1M):
#   OUT=$OUT bash experiments/015_lite_llm4rec/jobs.sh | sed 's/lite_llm4rec_sample/lite_llm4rec/g' | \
#     bash experiments/013_harte_beauty/run_jobs.sh 2
#   python -m llmrec -m model=llmseqprompt dataset=toys seed=0,1,2 trainer=gpu
