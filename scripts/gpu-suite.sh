#!/usr/bin/env bash
# Everything issue 32 measures on a machine with an NVIDIA GPU, in one run of a few minutes, with
# ../shared/gpu/ (README there): wgpt tune, wgpt bench matmul, mm.mts (GPU completion inside the
# timing), wgpt bench step (small, gpt2, gpt2-medium) at --matmul-precision f32 and f16, PyTorch
# CUDA beside them (torch_cuda.py: cuBLAS fp32 with TF32 off, then on, and HF GPT-2 steps), the
# per-kernel GPU profile of one gpt2 step, hf_check.py on a saved wgpt run, and peft's
# PeftModel.from_pretrained on wgpt's LoRA files. Results for bench/RESULTS-gpu.md under $OUT
# (8 files: suite.log, tune.json, matmul.json, mm.jsonl, step-f32.json, torch.jsonl, profile.txt,
# checks.jsonl). A step that fails is logged with its exit status and the rest still run.
#   here:  bash ../shared/gpu/pack.sh          (then send .gpu along: run's carry [".gpu"])
#   there: bash .gpu/remote.sh 'bash scripts/gpu-suite.sh'
#   dry run on the CPU (llvmpipe, tiny shapes, Python parts skipped where torch is missing):
#          GPU_SUITE_DRY=1 OUT=/tmp/suite bash scripts/gpu-suite.sh
set -u
OUT=${OUT:-/tmp/gpu-suite}
mkdir -p "$OUT"
KIT=.gpu
[ -d "$KIT" ] || KIT=../shared/gpu
DRY=${GPU_SUITE_DRY:-}
WORK=$(mktemp -d)
export WGPT_CACHE=$WORK/cache
LOG=$OUT/suite.log
W="node bin/wgpt.js"
TSX="node --import tsx"
CONFIGS=small,gpt2,gpt2-medium
QUICK=
PROFILE=gpt2
TUNE=()
if [ -n "$DRY" ]; then CONFIGS=small QUICK=--quick PROFILE=small TUNE=(--class-budget 2); fi

# The whole suite stops within this (a device command may run 600 s; leave time to fetch $OUT).
BUDGET=${GPU_SUITE_BUDGET_S:-540}

# step NAME SECONDS COMMAND...: runs it (at most SECONDS, and at most what is left of BUDGET) with
# its output in the log, and its status; skipped once under 10 s are left.
step() {
  local name=$1 secs=$2
  shift 2
  local left=$((BUDGET - SECONDS))
  if [ "$left" -lt 10 ]; then
    echo "=== $name: skipped (the suite's ${BUDGET} s are spent)" >> "$LOG"
    echo "{\"step\": \"$name\", \"skipped\": true}" >> "$OUT/checks.jsonl"
    return
  fi
  [ "$secs" -gt "$left" ] && secs=$left
  echo "=== $name: $*" >> "$LOG"
  local t0=$SECONDS
  timeout "$secs" "$@" >> "$LOG" 2>&1
  local rc=$?
  echo "=== $name: rc=$rc, $((SECONDS - t0)) s" >> "$LOG"
  echo "{\"step\": \"$name\", \"rc\": $rc, \"s\": $((SECONDS - t0))}" >> "$OUT/checks.jsonl"
}
has_torch() { python3 -c 'import torch' 2>/dev/null; }

: > "$LOG"
{ date -u; git log -1 --format='commit %h %s' 2>/dev/null || true; nvidia-smi -L 2>/dev/null || echo 'no nvidia-smi'; } >> "$LOG"
step info 120 $W info

# The tuner first, so every later run finds its choices (kept in $WGPT_CACHE).
step tune 240 $W tune "${TUNE[@]}" --json "$OUT/tune.json"
step bench-matmul 120 $W bench matmul $QUICK --json "$OUT/matmul.json"
step mm 120 bash -c "$TSX $KIT/mm.mts . ${DRY:+quick} > '$OUT/mm.jsonl'"
step bench-step-f32 300 $W bench step --configs $CONFIGS --no-peers $QUICK --matmul-precision f32 --json "$OUT/step-f32.json"
# f16: refused in one line until a subgroup-matrix kernel ships (the log keeps the line); once one
# does, this measures it with no change here.
step bench-step-f16 300 $W bench step --configs $CONFIGS --no-peers $QUICK --matmul-precision f16 --json "$WORK/step-f16.json"
[ -f "$WORK/step-f16.json" ] && cat "$WORK/step-f16.json" >> "$LOG"
if has_torch; then
  step torch-cuda 300 bash -c "python3 $KIT/torch_cuda.py > '$OUT/torch.jsonl'"
else
  echo "=== torch-cuda: skipped (no torch here)" >> "$LOG"
fi
step profile 120 bash -c "WGPT_PROFILE=1 $TSX bench/profile-step.ts $PROFILE > '$OUT/profile.txt'"

# Real clients: transformers on a saved full finetune, peft on its LoRA adapters (a tiny model from
# scratch, a few steps: nothing can be downloaded there).
DATA=$WORK/data.json
cat > "$DATA" <<'JSON'
[{"instruction": "Name the capital of France.", "input": "", "output": "Paris."},
 {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"},
 {"instruction": "Give the opposite of the word.", "input": "hot", "output": "cold"},
 {"instruction": "Spell the word backwards.", "input": "stop", "output": "pots"}]
JSON
RUN=$WORK/full
LORA=$WORK/lora
COMMON=(--data "$DATA" --epochs 1 --max-steps 2 --batch-size 2 --eval-every 100 --test-limit 0)
step train-full 180 $W train --model tiny "${COMMON[@]}" --out "$RUN"
step grads 120 bash -c "$W grads --model '$RUN' --data '$DATA' --examples 0-3 --mask prompt --json > '$WORK/grads.json'"
step toks 60 bash -c "$TSX scripts/gpu-toks.ts '$DATA' 4 > '$WORK/toks.json'"
step train-lora 180 $W train --model "$RUN" "${COMMON[@]}" --lora-rank 4 --out "$LORA"
if has_torch; then
  step hf-check 120 bash -c "python3 $KIT/hf_check.py '$RUN' '$WORK/toks.json' prompt '$WORK/grads.json' >> '$OUT/checks.jsonl'"
  step peft 120 python3 - "$RUN" "$LORA" "$OUT/checks.jsonl" <<'PY'
import json, sys, torch
from transformers import GPT2LMHeadModel
from peft import PeftModel
base_dir, lora_dir, out = sys.argv[1:4]
base = GPT2LMHeadModel.from_pretrained(base_dir).eval()
ids = torch.tensor([[464, 3139, 286, 4881, 318]])
with torch.no_grad():
    before = base(input_ids=ids).logits
    model = PeftModel.from_pretrained(base, lora_dir).eval()
    after = model(input_ids=ids).logits
lora = [n for n, _ in model.named_parameters() if "lora_" in n]
row = {"check": "peft", "lora_params": len(lora), "max_logit_change": (after - before).abs().max().item()}
print(json.dumps(row))
open(out, "a").write(json.dumps(row) + "\n")
PY
else
  echo "=== hf-check, peft: skipped (no torch here)" >> "$LOG"
fi
ls -la "$OUT" >> "$LOG"
rm -rf "$WORK"
