#!/usr/bin/env bash
# CI, after `make test` and `make lint`: build llmrec's wheel, install it into a fresh virtual environment
# outside the checkout (torch==2.13.0 first, so nothing pulls CUDA builds; pip reuses its wheel cache, and
# needs no index beyond PyPI), and run a tiny job from another folder, as a user who ran `pip install`.
# Uses the checkout's .venv (make setup) to build. ~2 min on 2 cores, most of it the install.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/llmrec-wheel.XXXXXX")"
trap 'rm -rf "$work"' EXIT
unset PYTHONPATH

echo "== build the wheel (from a copy: the checkout gets no build/ folder)"
mkdir "$work/project"
cp -r "$repo/src" "$repo/conf" "$repo/pyproject.toml" "$repo/setup.py" "$repo/README.md" "$work/project/"
find "$work/project" \( -name '*.egg-info' -o -name '__pycache__' \) -prune -exec rm -rf {} +
"$repo/.venv/bin/pip" wheel --no-deps --no-build-isolation -q -w "$work/dist" "$work/project"
wheel="$(ls "$work"/dist/llmrec-*.whl)"

echo "== install $(basename "$wheel")[cpu] into a fresh venv"
"$python" -m venv "$work/venv"
bin="$work/venv/bin"
"$bin/pip" install -q torch==2.13.0
"$bin/pip" install -q "$wheel[cpu]"
"$bin/pip" check

echo "== run from another folder"
mkdir -p "$work/elsewhere/my_conf/model"
cd "$work/elsewhere"
location="$("$bin/python" -c 'import llmrec.configs as c; print(c.__file__, c.config_dir())')"
echo "installed: $location"
case "$location" in "$work/venv/"*" $work/venv/"*) ;; *) echo "llmrec is not the installed wheel" >&2; exit 1 ;; esac
"$bin/llmrec" --help >help.txt  # to a file: grep -q would close the pipe before a long help is written
grep -q "llmrec model=sasrec dataset=synthetic" help.txt
"$bin/llmrec" model=sasrec dataset=tiny trainer.max_epochs=1 hydra.run.dir=runs/sasrec | tail -n 3
test -s runs/sasrec/results.json && test -s runs/sasrec/llmrec.log
"$bin/python" -m llmrec model=popularity dataset=tiny hydra.run.dir=runs/popularity | tail -n 1
test -s runs/popularity/results.json
"$bin/python" -m llmrec.data stats tiny
printf 'defaults:\n  - sasrec\n  - _self_\nname: my_sasrec\nhidden: 16\n' >my_conf/model/my_sasrec.yaml
"$bin/llmrec" --config-dir my_conf model=my_sasrec dataset=tiny --cfg job >job.yaml
grep -q "name: my_sasrec" job.yaml
"$bin/llmrec-report" runs | tail -n 1
echo "== wheel smoke passed"
