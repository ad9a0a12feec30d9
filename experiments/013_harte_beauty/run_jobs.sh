#!/bin/bash
# Runs the lines of a job list ("<run dir> <overrides...>") on N workers (default 2), one thread each, each
# job skipped when its run dir already holds results.json (a re-run continues the study).
# Usage: bash experiments/013_harte_beauty/jobs.sh | bash experiments/013_harte_beauty/run_jobs.sh [N]
WORKERS=${1:-2}
run_one() {
  dir=$1; shift
  [ -f "$dir/results.json" ] && { echo "done: $dir"; return; }
  mkdir -p "$dir"
  OMP_NUM_THREADS=1 nice -n 5 ${PYTHON:-python} -m llmrec "$@" hydra.run.dir="$dir" > "$dir.log" 2>&1
  echo "rc=$? $dir"
}
export -f run_one
xargs -P "$WORKERS" -L 1 bash -c 'run_one "$@"' _
