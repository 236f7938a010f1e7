// `wgpt bench kernels`: fused kernels against the same computation composed from engine ops.
//   attention  the engine's causalSelfAttention against attentionComposed (matmul, scale, causal
//              softmax, matmul), q/k/v [1, 12, T, 64] at T = 256 and 1024: forward, and forward +
//              backward (the backward row is the difference of the two medians);
//   cross-entropy  crossEntropy (fused: online log-sum-exp, softmax − onehot backward) against a
//              composed loss −mean(log(sum(softmax(x) · onehot, −1))) from the engine's softmax, mul,
//              sum and mean, forward + backward, on [N, 50257] logits at N = 256 and 1024. The engine
//              has no elementwise log: the composed form takes the log of its N picked probabilities
//              with a one-line WGSL kernel written here (N elements, negligible next to the N·V passes).
//   rows/*     softmax, layer norm, cross-entropy and argmax with and without subgroups
//              (bench/row-reductions.ts).
import {
  attentionComposed, backward, causalSelfAttention, crossEntropy, div, mean, mul, noGrad, param, scale, softmax, sum,
  Tensor, tidy, type Device,
} from '../engine/index.ts';
import { record } from '../engine/tensor.ts';
import { launch1d } from '../engine/ops/util.ts';
import { kernel, WG } from '../kernels/kernel.ts';
import { errorText, logRow, seeded, timeRuns, type BenchRow } from './common.ts';
import { rowReductionsSuite } from './row-reductions.ts';

const LOG = kernel('bench.log', 'main', { params: { n: 'u32' }, bindings: { x: 'read f32', y: 'read_write f32' }, overrides: { WG } }, `
@compute @workgroup_size(WG)
fn main(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let i = grid_index(grid, lid);
  if (i >= P.n) { return; }
  y[i] = log(x[i]);
}`);

/** Natural log, elementwise, for the composed cross-entropy (small tensors: bound whole). */
function log(x: Tensor): Tensor {
  const out = Tensor.empty(x.shape, 'f32', 'bench log');
  launch1d(LOG, x.size, { n: x.size }, [x.bind(), out.bind()], 'bench log');
  return record(out, 'log', [x], (g) => [div(g, x)]);
}

/** Cross-entropy composed from ops: −mean over rows of log(softmax(x)[target]), the target picked
 *  by a dense one-hot product and a row sum. */
function composedCrossEntropy(logits: Tensor, onehot: Tensor): Tensor {
  const picked = sum(mul(softmax(logits), onehot), -1);
  return scale(mean(log(picked)), -1);
}

function clearGrads(ts: Tensor[]): void {
  for (const t of ts) {
    t.grad?.dispose();
    t.grad = null;
  }
}

export async function kernelsSuite(device: Device, quick: boolean, peak: number): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const push = (r: BenchRow): void => {
    rows.push(r);
    logRow(r);
  };
  const runs = 3;

  // ---- attention ----
  const B = 1;
  const H = 12;
  const Dh = 64;
  const impls: [string, (q: Tensor, k: Tensor, v: Tensor) => Tensor][] = [
    ['causalSelfAttention', causalSelfAttention],
    ['attentionComposed', attentionComposed],
  ];
  for (const T of quick ? [256] : [256, 1024]) {
    const shape = [B, H, T, Dh];
    const n = B * H * T * Dh;
    const q = param(Tensor.fromData(seeded(n, 1, 1), shape));
    const k = param(Tensor.fromData(seeded(n, 2, 1), shape));
    const v = param(Tensor.fromData(seeded(n, 3, 1), shape));
    const seed = Tensor.fromData(seeded(n, 4, 1), shape);
    const fwdFlops = 4 * B * H * T * T * Dh;
    const bwdFlops = 8 * B * H * T * T * Dh;
    const measured: Record<string, { f: number; fb: number }> = {};
    for (const [implName, fn] of impls) {
      const f = await timeRuns(async () => {
        noGrad(() => tidy(() => void fn(q, k, v)));
        await device.finish('bench attention');
      }, runs);
      const fb = await timeRuns(async () => {
        clearGrads([q, k, v]);
        tidy(() => backward(fn(q, k, v), seed));
        await device.finish('bench attention backward');
      }, runs);
      clearGrads([q, k, v]);
      measured[implName] = { f: f.ms, fb: fb.ms };
      const variant = `${implName} T=${T}`;
      push({ name: 'attention/forward', impl: 'wgpt', variant, ...f, gflops: fwdFlops / f.ms / 1e6, mfu: fwdFlops / f.ms / 1e6 / peak });
      push({ name: 'attention/forward+backward', impl: 'wgpt', variant, ...fb, gflops: (fwdFlops + bwdFlops) / fb.ms / 1e6,
        mfu: (fwdFlops + bwdFlops) / fb.ms / 1e6 / peak });
      const b = fb.ms - f.ms;
      push({ name: 'attention/backward', impl: 'wgpt', variant, ms: b, gflops: bwdFlops / b / 1e6, note: 'median(fwd+bwd) − median(fwd)' });
    }
    // Fused over composed, per figure.
    const [fused, comp] = [measured.causalSelfAttention, measured.attentionComposed];
    for (const r of rows.slice(-6).filter((x) => x.variant?.startsWith('causalSelfAttention'))) {
      const c = r.name.endsWith('forward') ? comp.f : r.name.endsWith('backward') && !r.name.includes('+') ? comp.fb - comp.f : comp.fb;
      const o = r.name.endsWith('forward') ? fused.f : r.name.endsWith('backward') && !r.name.includes('+') ? fused.fb - fused.f : fused.fb;
      r.ratio = c / o;
      r.ratio_baseline = `attentionComposed at T=${T}`;
    }
    for (const t of [q, k, v, seed]) t.dispose();
  }

  // ---- cross-entropy ----
  const V = 50257;
  for (const N of quick ? [256] : [256, 1024]) {
    const logits = param(Tensor.fromData(seeded(N * V, 5, 4), [N, V]));
    const tgt = new Int32Array(N);
    for (let i = 0; i < N; i++) tgt[i] = (i * 7919 + 13) % V;
    const targets = Tensor.fromData(tgt, [N], 'i32');
    const hot = new Float32Array(N * V);
    for (let i = 0; i < N; i++) hot[i * V + tgt[i]] = 1;
    const onehot = Tensor.fromData(hot, [N, V]);
    const bytes = 12 * N * V; // forward reads the logits; backward reads them and writes their gradient
    for (const [implName, fn] of [
      ['crossEntropy (fused)', () => crossEntropy(logits, targets)],
      ['composed: softmax·onehot, sum, log, mean', () => composedCrossEntropy(logits, onehot)],
    ] as [string, () => Tensor][]) {
      let loss = NaN;
      const name = 'cross-entropy/forward+backward';
      try {
        const t = await timeRuns(async () => {
          clearGrads([logits]);
          const l = tidy(() => {
            const x = fn();
            backward(x);
            return x;
          });
          loss = await l.item();
          l.dispose();
        }, 3);
        push({ name, impl: 'wgpt', variant: `${implName} N=${N}`, ...t, gbps: bytes / t.ms / 1e6, loss,
          note: 'GB/s over the minimal traffic 12·N·V bytes' });
      } catch (e) {
        // A form the engine cannot run at this size is a row that says so, not the end of the suite.
        push({ name, impl: 'wgpt', variant: `${implName} N=${N}`, error: `failed: ${errorText(e)}` });
      } finally {
        clearGrads([logits]);
      }
    }
    const [fusedRow, composedRow] = rows.slice(-2);
    if (fusedRow.ms && composedRow.ms) {
      fusedRow.ratio = composedRow.ms / fusedRow.ms;
      fusedRow.ratio_baseline = `composed cross-entropy at N=${N}`;
    }
    for (const t of [logits, targets, onehot]) t.dispose();
    device.releasePooled();
  }

  // ---- the row reductions, with and without subgroups ----
  rows.push(...await rowReductionsSuite(device, quick));
  device.releasePooled();
  return rows;
}
