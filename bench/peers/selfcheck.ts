// Runs each benchmark peer once and checks that the TensorFlow.js and PyTorch training steps do the
// same work: on the same weights and batch they must report the same first-step loss (and, as both
// run AdamW with the same settings for the same number of steps, the same last loss). With either
// peer missing nothing is compared: it says so and exits 1.
//
//   npx tsx bench/peers/selfcheck.ts            quick: small matmuls, a 1-layer toy step
//   npx tsx bench/peers/selfcheck.ts --full     also matmul 1024³ (all modes) and the `small` config
import os from 'node:os';
import path from 'node:path';
import { promises as fsp } from 'node:fs';
import { MATMUL_MODES, tfjsAvailable, tfjsMatmul, tfjsStep, type PeerError } from './tfjs.ts';
import { torchAvailable, torchMatmul, torchStep } from './torch.ts';
import { selfcheckVerdict } from './verdict.ts';
import { SMALL_CONFIG, writePeerFiles, type PeerConfig } from './weights.ts';

const full = process.argv.includes('--full');
const SEED = 1234;
const LOSS_TOL = 1e-3;
const TOY: PeerConfig = { nLayers: 1, dModel: 64, nHeads: 2, T: 32, B: 2, vocab: 1000 };

function isError(r: object): r is PeerError {
  return 'error' in r;
}

function show(label: string, r: object): void {
  console.log(`${label.padEnd(34)} ${JSON.stringify(r)}`);
}

let failures = 0;

async function main(): Promise<void> {
  const tfA = await tfjsAvailable();
  const thA = await torchAvailable();
  show('tfjs available', tfA);
  show('torch available', thA);

  const sizes = full ? [256, 1024] : [256];
  for (const s of sizes) {
    for (const mode of full || s === 256 ? MATMUL_MODES : (['x·W'] as const)) {
      if (tfA.ok) show(`tfjs  matmul ${s}³ ${mode}`, await tfjsMatmul(s, s, s, mode, s >= 1024 ? 3 : 5));
      if (thA.ok) show(`torch matmul ${s}³ ${mode}`, await torchMatmul(s, s, s, mode, 5));
    }
  }

  const configs: [string, PeerConfig, number][] = [['toy', TOY, 3]];
  // One timed step: a tfjs step of `small` takes minutes on llvmpipe.
  if (full) configs.push(['small', SMALL_CONFIG, 1]);
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'wgpt-peers-'));
  try {
    for (const [name, config, reps] of configs) {
      const files = await writePeerFiles(config, SEED, dir);
      const tf = tfA.ok ? await tfjsStep(config, reps, SEED) : null;
      if (tf) show(`tfjs  step ${name}`, tf);
      const th = thA.ok ? await torchStep(config, files.weights, files.batch, reps) : null;
      if (th) show(`torch step ${name}`, th);
      if (tf && th && !isError(tf) && !isError(th)) {
        const d0 = Math.abs(tf.loss - th.loss);
        const d1 = Math.abs(tf.loss_last - th.loss_last);
        const ok = d0 <= LOSS_TOL && d1 <= LOSS_TOL;
        if (!ok) failures++;
        console.log(
          `${ok ? 'OK  ' : 'FAIL'} ${name}: first-step loss tfjs ${tf.loss.toFixed(6)} torch ${th.loss.toFixed(6)} ` +
            `(|Δ| ${d0.toExponential(2)}); ` +
            `loss after ${reps} AdamW updates tfjs ${tf.loss_last.toFixed(6)} torch ${th.loss_last.toFixed(6)} ` +
            `(|Δ| ${d1.toExponential(2)})`,
        );
      } else if ((tf && isError(tf)) || (th && isError(th))) {
        failures++;
      }
    }
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
  const verdict = selfcheckVerdict({ tfjs: tfA.ok, torch: thA.ok, failures });
  if (!verdict.ok && failures === 0) failures++;
  console.log(verdict.line);
}

await main();
// tfjs's Dawn device keeps Node alive: exit explicitly.
process.exit(failures === 0 ? 0 : 1);
