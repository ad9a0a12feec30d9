#!/usr/bin/env bash
# Every GPU figure of issue 23 in one run (<= 8 minutes on an H200), each table under one output folder:
#
#   benchmarks/gpu_checks.sh [OUTPUT_DIR]       # default: benchmarks/results/gpu_checks_<date>
#   LLMREC_LLAMA7B=/models/Llama-2-7b-hf benchmarks/gpu_checks.sh out/   # + E4SRec on real 7B weights
#
# 1. evaluation pass vs the matmul + top-k floor, the three sizes of eval_floor.py (target <= 1.5x)
# 2. E4SRec all-item scores vs a bare backbone forward (transformers, no peft), batch 64: the tiny LLaMA
#    always; LLaMA-2-7B in bf16 from the folder in $LLMREC_LLAMA7B (target <= 1.15x), skipped without it
# 3. Lite-LLM4Rec vs LLMSeqPrompt's beam search, backbones of T5-base size (12 x 768), random weights
#    (target >= 30x)
# 4. the memory plan logged when a large run starts vs the measured memory (E4SRec, random 1.3B LLaMA)
# 5. a tiny E4SRec under trainer=fsdp on one GPU, its checkpoint trimmed to the trainable tensors
# Each step has its own time limit; a step that fails or runs out of time is reported in summary.md and
# the others still run. Without CUDA the script refuses in one line.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
export PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}"

if ! "$PYTHON" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "gpu_checks.sh: no CUDA device visible to $PYTHON (torch.cuda.is_available() is False): run it on a GPU machine" >&2
    exit 1
fi

OUT="${1:-benchmarks/results/gpu_checks_$(date +%Y%m%d_%H%M%S)}"
mkdir -p "$OUT"
SUMMARY="$OUT/summary.md"
{
    echo "# issue 23 GPU checks, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    "$PYTHON" -c "import torch; print(f'torch {torch.__version__}, {torch.cuda.get_device_name()}')"
    echo
} >"$SUMMARY"

FAILED=0
# step NAME SECONDS COMMAND...: COMMAND's output into $OUT/NAME.md within SECONDS; a line in the summary
step() {
    local name="$1" limit="$2"
    shift 2
    local started=$SECONDS
    if timeout "$limit" "$@" >"$OUT/$name.md" 2>"$OUT/$name.log"; then
        echo "- $name: done in $((SECONDS - started)) s ($OUT/$name.md)" >>"$SUMMARY"
    else
        echo "- $name: FAILED (exit $?, 124 = over its ${limit} s) after $((SECONDS - started)) s, see $OUT/$name.log" >>"$SUMMARY"
        FAILED=1
    fi
}

# 1. evaluation vs floor: data on the device, rank_on_device, one copy to the host per pass
step eval_floor 90 "$PYTHON" benchmarks/eval_floor.py --device cuda --repeats 5

# 2. E4SRec vs a bare backbone
step e4srec_tiny 40 "$PYTHON" benchmarks/e4srec_speed.py --device cuda --repeats 20
if [[ -n "${LLMREC_LLAMA7B:-}" && -f "${LLMREC_LLAMA7B}/config.json" ]]; then
    step e4srec_7b 120 "$PYTHON" benchmarks/e4srec_speed.py --device cuda --arch 7b --weights "$LLMREC_LLAMA7B" --repeats 10
else
    echo "- e4srec_7b: skipped, no LLaMA-2-7B folder: set LLMREC_LLAMA7B to a local checkpoint (config.json + weights)" >>"$SUMMARY"
fi

# 3. Lite-LLM4Rec vs LLMSeqPrompt beam search at T5-base size
step lite_llm4rec 80 "$PYTHON" benchmarks/lite_llm4rec_speed.py --size base --device cuda --users 256 --skip-catalog

# 4. memory plan vs measured peak
# E4SRec on a random 1.3B-parameter LLaMA (bf16, gradient checkpointing): the plan logged at fit start, and
# after the first optimizer step the memory held and the peak against it (llmrec.run.memory_plan_log)
memory_plan() {
    "$PYTHON" -m llmrec model=e4srec dataset=synthetic trainer=gpu debug=fast logger=none \
        model.stage1.trainer.max_epochs=1 model.targets_per_window=1 model.llm.dtype=bfloat16 \
        model.llm.gradient_checkpointing=true model.llm.config.hidden_size=2048 \
        model.llm.config.intermediate_size=5632 model.llm.config.num_hidden_layers=16 \
        model.llm.config.num_attention_heads=16 model.llm.config.num_key_value_heads=16 \
        hydra.run.dir="$OUT/memory_plan_run" >"$OUT/memory_plan_run.log" 2>&1
    grep -h -A8 "memory plan" "$OUT/memory_plan_run/llmrec.log"
}
export -f memory_plan && export OUT PYTHON  # timeout runs programs, not functions
step memory_plan 90 bash -c memory_plan

# 5. FSDP runs (one GPU: world size 1): a tiny E4SRec fits and tests under trainer=fsdp, and its best
# checkpoint holds only the trainable tensors (LoRA, projection), kilobytes rather than the backbone
fsdp_smoke() {
    "$PYTHON" -m llmrec model=e4srec debug=tiny trainer=fsdp trainer.devices=1 trainer.max_epochs=1 \
        logger=none hydra.run.dir="$OUT/fsdp_run" >"$OUT/fsdp_run.log" 2>&1
    "$PYTHON" -c "import glob, torch; p = sorted(glob.glob('$OUT/fsdp_run/checkpoints/*.ckpt'))[0]; \
sd = torch.load(p, map_location='cpu', weights_only=True)['state_dict']; \
print(f'{p}: {len(sd)} tensors, {sum(v.numel() for v in sd.values())} values:', sorted(sd)[:6])"
}
export -f fsdp_smoke
step fsdp_smoke 60 bash -c fsdp_smoke

{
    echo
    echo "## The figures"
    echo
    echo "Evaluation pass vs floor (target <= 1.5x):"
    echo
    grep -h -E '^\|( size|---| Beauty| ML-1M| large)' "$OUT/eval_floor.md" 2>/dev/null || echo "(no table)"
    echo
    echo "E4SRec vs bare backbone (target <= 1.15x at 7B):"
    echo
    grep -h -E 'bare backbone' "$OUT"/e4srec_*.md 2>/dev/null || echo "(no table)"
    echo
    echo "Lite-LLM4Rec vs LLMSeqPrompt beam search (target >= 30x):"
    echo
    grep -h -E '^\|( model|---| Lite| LLMSeq)' "$OUT/lite_llm4rec.md" 2>/dev/null || echo "(no table)"
    echo
    echo "Memory plan vs measured (E4SRec, random 1.3B LLaMA, bf16):"
    echo
    cat "$OUT/memory_plan.md" 2>/dev/null || echo "(no plan)"
    echo
    echo "FSDP (one GPU) checkpoint:"
    echo
    cat "$OUT/fsdp_smoke.md" 2>/dev/null || echo "(no run)"
} >>"$SUMMARY"
cat "$SUMMARY"
exit "$FAILED"  # non-zero when a step failed or ran out of time
