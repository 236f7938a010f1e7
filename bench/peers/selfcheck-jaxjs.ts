// Self-check of the jax-js peer (not part of `npm test`: a jax-js step compiles for minutes on
// llvmpipe). It goes through the same child-process requests `wgpt bench` makes and compares the
// numbers with wgpt's, computed here on the same inputs:
//   - a small matmul in the three forms (x·W, dy·Wᵀ, xᵀ·dy): every element of C against wgpt's;
//   - the first-step loss (before any update) of a 1-layer toy config and of the `small` bench
//     config against wgpt's (and PyTorch's where it is installed, for reference).
// Exits non-zero when jax-js is missing, fails, or gives a different number.
//
//   npx tsx bench/peers/selfcheck-jaxjs.ts           toy and small steps
//   npx tsx bench/peers/selfcheck-jaxjs.ts --quick   toy step only
import os from 'node:os';
import path from 'node:path';
import { promises as fsp } from 'node:fs';
import { closeDevice, matmul, noGrad, openDevice, Tensor } from '../../engine/index.ts';
import { writeHFConfig } from '../../model/hf-config-file.ts';
import { isError, jaxjsRequest } from '../common.ts';
import { SEED, wgptStep } from '../step.ts';
import { matmulOperand, type JaxMatmulResult, type JaxStepResult } from './jaxjs.ts';
import { MATMUL_MODES, type MatmulMode } from './tfjs.ts';
import { torchAvailable, torchStep } from './torch.ts';
import { SMALL_CONFIG, writePeerFiles, type PeerConfig } from './weights.ts';

const quick = process.argv.includes('--quick');
const TOY: PeerConfig = { nLayers: 1, dModel: 64, nHeads: 2, T: 32, B: 2, vocab: 1000 };
/** fp32 sums of 64 products in different orders: a few ulps of |C| ≈ 4. */
const MATMUL_TOL = 1e-4;
/** fp32 losses of ~7-11, summed over thousands of logits in different orders, agree to ~1e-6 (measured 9.5e-7). */
const LOSS_TOL = 1e-5;

let failures = 0;
function verdict(ok: boolean, text: string): void {
  if (!ok) failures++;
  console.log(`${ok ? 'OK  ' : 'FAIL'} ${text}`);
}

/** A and B as the jax-js peer builds them (its seeded operands), C = A·B by wgpt in the given form. */
async function wgptMatmul(m: number, n: number, k: number, mode: MatmulMode): Promise<Float32Array> {
  const transA = mode === 'xᵀ·dy';
  const transB = mode === 'dy·Wᵀ';
  const aShape = transA ? [k, m] : [m, k];
  const bShape = transB ? [n, k] : [k, n];
  const a = Tensor.fromData(matmulOperand(aShape[0], aShape[1], 1, 'A'), aShape);
  const b = Tensor.fromData(matmulOperand(bShape[0], bShape[1], 1, 'B'), bShape);
  const c = noGrad(() => matmul(a, b, { transA, transB }));
  const out = (await c.toArray()) as Float32Array;
  a.dispose();
  b.dispose();
  c.dispose();
  return out;
}

async function main(): Promise<void> {
  const avail = await jaxjsRequest<{ ok: boolean; version?: string; adapter?: string; reason?: string }>({ kind: 'available' }, 180_000);
  console.log(`jax-js available: ${JSON.stringify(avail)}`);
  if (isError(avail) || !avail.ok) {
    verdict(false, 'jax-js is missing or does not start (npm install puts @jax-js/jax in devDependencies)');
    return;
  }
  const device = await openDevice();
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'wgpt-jaxjs-check-'));
  try {
    const [m, n, k] = [96, 80, 64];
    for (const mode of MATMUL_MODES) {
      const res = await jaxjsRequest<JaxMatmulResult>({ kind: 'matmul', m, n, k, mode, reps: 1, returnOutput: true });
      if (isError(res) || !res.output) {
        verdict(false, `matmul ${m}x${n}x${k} ${mode}: ${isError(res) ? res.error : 'no output returned'}`);
        continue;
      }
      const ours = await wgptMatmul(m, n, k, mode);
      let worst = 0;
      for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - res.output[i]));
      const sizeOk = res.output.length === m * n;
      verdict(sizeOk && worst <= MATMUL_TOL, `matmul ${m}x${n}x${k} ${mode}: max |jax-js − wgpt| ${worst.toExponential(2)} ` +
        `over ${res.output.length} elements (tolerance ${MATMUL_TOL})`);
    }

    const th = await torchAvailable().catch(() => ({ ok: false as const, reason: 'torch check failed' }));
    const configs: [string, PeerConfig][] = quick ? [['toy', TOY]] : [['toy', TOY], ['small', SMALL_CONFIG]];
    for (const [name, config] of configs) {
      const sub = path.join(dir, name);
      const files = await writePeerFiles(config, SEED, sub);
      await writeHFConfig(path.join(sub, 'config.json'), {
        vocabSize: config.vocab, contextLength: config.T, dModel: config.dModel, nLayers: config.nLayers,
        nHeads: config.nHeads, layerNormEps: 1e-5, dropout: 0, tiedHead: true,
      });
      const jx = await jaxjsRequest<JaxStepResult>({ kind: 'step', config, seed: SEED, reps: 1 }, 1_200_000);
      if (isError(jx)) {
        verdict(false, `step ${name}: ${jx.error}`);
        continue;
      }
      const ours = await wgptStep(device, config, files.weights, 1);
      const torch = th.ok ? await torchStep(config, files.weights, files.batch, 1) : null;
      const torchText = torch && !isError(torch)
        ? `, torch ${torch.loss.toFixed(6)} (|Δ| ${Math.abs(torch.loss - jx.loss).toExponential(2)})`
        : '';
      const d = Math.abs(jx.loss - ours.loss);
      verdict(d <= LOSS_TOL, `step ${name}: first-step loss jax-js ${jx.loss.toFixed(6)}, wgpt ${ours.loss.toFixed(6)} ` +
        `(|Δ| ${d.toExponential(2)})${torchText}; ` +
        `jax-js compile ${(jx.compile_ms / 1000).toFixed(1)} s, step ${jx.ms.toFixed(0)} ms`);
    }
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
    closeDevice(device);
  }
}

await main();
console.log(failures === 0 ? 'jax-js selfcheck passed' : `jax-js selfcheck: ${failures} failure(s)`);
// The Dawn device keeps Node alive: exit explicitly.
process.exit(failures === 0 ? 0 : 1);
