#!/usr/bin/env bash
# Small runs of every trainer and study in two checkouts, compared file by file: a change meant to
# keep behaviour (a refactor, the pipelined loop) must leave every output byte-identical but for
# wall times. Usage: scripts/compare-runs.sh BEFORE_TREE AFTER_TREE WORK_DIR
# Each tree runs in WORK_DIR/before|after with relative --out paths (the options saved in the
# outputs then name the same paths); WGPT_CACHE is WORK_DIR/cache-before|after unless set per tree
# as CACHE_BEFORE / CACHE_AFTER; ONLY=before or ONLY=after runs one side (then compares what is there).
# Timing fields (elapsed_s, seconds, ...) are zeroed before comparing.
set -euo pipefail
before=$(realpath "$1") after=$(realpath "$2") work=$(realpath -m "$3")
export WGPT_TUNE=${WGPT_TUNE:-off}

runs() { # $1: tree; stops at the first failing run
  w() { node "$1/bin/wgpt.js" "${@:2}" || { echo "failed: wgpt ${*:2}" >&2; exit 1; }; }
  local t=$1
  w "$t" train --model tiny --synthetic-count 60 --dropout 0.1 --max-steps 6 --batch-size 4 --eval-every 2 \
    --eval-batches 2 --max-new-tokens 6 --test-limit 3 --out train
  w "$t" train --model train --lora-rank 4 --merge --synthetic-count 60 --max-steps 4 --batch-size 4 --eval-every 2 \
    --eval-batches 1 --lr 1e-3 --max-new-tokens 6 --test-limit 3 --out lora
  w "$t" pretrain --data ../corpus.txt --model tiny --max-steps 6 --block-size 32 --batch-size 4 --eval-every 2 --eval-batches 2 \
    --sample-every 3 --sample-tokens 5 --output-vocab data --out pretrain
  w "$t" dpo --model train --data ../pairs.json --max-steps 4 --batch-size 2 --eval-every 2 --eval-batches 1 --max-new-tokens 6 --test-limit 2 --out dpo
  w "$t" mask-study --steps 4 --batches 1 --held-out 2 --eval-batches 1 --max-new-tokens 4 --out mask
  w "$t" mask-study --plw 0.1 --seeds 1 --model tiny --from-scratch --data facts --steps 4 --batch-size 4 --batches 1 \
    --held-out 2 --eval-batches 1 --max-new-tokens 4 --out plw
}

mkdir -p "$work"
# The same text for both sides: the README of the tree before.
cp "$before/README.md" "$work/corpus.txt"
# Preference pairs for dpo: sums, the right one chosen.
node -e 'const e = []; for (let i = 0; i < 40; i++) { const [a, b] = [i % 7 + 1, i % 5 + 2];
  e.push({ instruction: `Add ${a} and ${b}.`, input: "", chosen: `${a + b}`, rejected: `${a + b + 1}` }); }
  require("fs").writeFileSync(process.argv[1], JSON.stringify(e));' "$work/pairs.json"
for side in ${ONLY:-before after}; do
  tree=$before; [ "$side" = after ] && tree=$after
  cache_var="CACHE_${side^^}"
  rm -rf "${work:?}/$side" && mkdir -p "$work/$side"
  (cd "$work/$side" && WGPT_CACHE=${!cache_var:-$work/cache-$side} runs "$tree") > "$work/$side.log" 2>&1 \
    || { echo "$side: a run failed, see $work/$side.log" >&2; exit 1; }
done

# Zero the timing fields, then compare every file either side wrote.
node --input-type=module - "$work/before" "$work/after" <<'JS'
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
const [a, b] = process.argv.slice(2);
const TIMES = /"(elapsed_s|seconds|total|training|answers|secondsPerStep|tokensPerSecond)":\s*[-0-9.e+]+/g;
const files = (d, r = '') => readdirSync(path.join(d, r)).flatMap((f) =>
  statSync(path.join(d, r, f)).isDirectory() ? files(d, path.join(r, f)) : [path.join(r, f)]);
const norm = (f, buf) => (/\.(json|jsonl)$/.test(f) ? Buffer.from(buf.toString().replace(TIMES, '"$1":0')) : buf);
const [fa, fb] = [files(a).sort(), files(b).sort()];
let bad = 0;
for (const f of new Set([...fa, ...fb])) {
  if (!fa.includes(f) || !fb.includes(f)) { console.log(`only in ${fa.includes(f) ? 'before' : 'after'}: ${f}`); bad++; continue; }
  if (!norm(f, readFileSync(path.join(a, f))).equals(norm(f, readFileSync(path.join(b, f))))) { console.log(`differs: ${f}`); bad++; }
}
console.log(`${fa.length} files compared, ${bad} differ`);
process.exit(bad ? 1 : 0);
JS
