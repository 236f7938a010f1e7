// Attention benchmark (not a test): causal self-attention as flash attention (the engine's
// qkvAttention, on the model's qkv layout [B, T, 3·D]) against the composed form on heads
// [B, H, T, Dh] (matmul, scale, causal softmax, matmul) at
// B=1, H=12, Dh=64 for T = 256 and 1024, and at B=8, H=12, T=64 (GPT-2 at the chapter's batch shape).
// 'attention/forward' times the forward alone (no tape); 'attention/backward' times forward plus
// backward (a training step's attention: taped forward, then dQ, dK, dV from a given dO).
// Each figure is the median of several runs after a warm-up (which pays the JIT compile); a run is
// `await device.finish()` (the GPU's completion) around the work. Flash and composed runs are interleaved, alternating which
// goes first, so that load from other processes on the machine hits both alike.
//   npx tsx bench/attention.ts [--quick] [--json out.json]
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import {
  attentionComposed, backward, closeDevice, noGrad, param, qkvAttention, Tensor, tidy,
} from '../engine/index.ts';
import { currentOrOpenDevice } from './common.ts';
import { median } from './peers/measure.ts';

export interface AttentionRow {
  name: 'attention/forward' | 'attention/backward';
  impl: 'flash' | 'composed';
  B: number;
  H: number;
  T: number;
  Dh: number;
  ms: number;
  ms_min: number;
  ms_max: number;
}

const CONFIGS: { B: number; H: number; T: number; Dh: number }[] = [
  { B: 1, H: 12, T: 256, Dh: 64 },
  { B: 1, H: 12, T: 1024, Dh: 64 },
  { B: 8, H: 12, T: 64, Dh: 64 },
];

function filled(n: number, seed: number): Float32Array {
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = ((i * 2654435761 + seed * 7919) % 1000) / 500 - 1;
  return data;
}

type Impl = AttentionRow['impl'];

export async function benchAttention(opts: { quick?: boolean; json?: string } = {}): Promise<AttentionRow[]> {
  const { device, opened } = await currentOrOpenDevice();
  const runs = opts.quick ? 3 : 7;
  const rows: AttentionRow[] = [];
  console.log(`attention on ${device.adapterDescription} (${device.backend}), median of ${runs} interleaved runs after a warm-up`);
  console.log(`${'name'.padEnd(19)} ${'impl'.padEnd(9)} ${'B x H x T x Dh'.padEnd(16)} ${'ms'.padStart(9)}    [min .. max]`);
  try {
    for (const c of CONFIGS) {
      const shape = [c.B, c.H, c.T, c.Dh];
      const n = c.B * c.H * c.T * c.Dh;
      const [q, k, v] = [1, 2, 3].map((s) => param(Tensor.fromData(filled(n, s), shape)));
      const g = Tensor.fromData(filled(n, 4), shape);
      const qkv = param(Tensor.fromData(filled(3 * n, 5), [c.B, c.T, 3 * c.H * c.Dh]));
      const gOut = Tensor.fromData(filled(n, 6), [c.B, c.T, c.H * c.Dh]);
      const impls: Record<Impl, () => Tensor> = { flash: () => qkvAttention(qkv, c.H), composed: () => attentionComposed(q, k, v) };
      const seeds: Record<Impl, Tensor> = { flash: gOut, composed: g };
      const forward = (impl: Impl): void => noGrad(() => tidy(() => {
        impls[impl]();
      }));
      const step = (impl: Impl): void => {
        tidy(() => {
          backward(impls[impl](), seeds[impl]);
        });
      };
      const clearGrads = (): void => {
        for (const x of [q, k, v, qkv]) {
          x.grad?.dispose();
          x.grad = null;
        }
      };
      for (const [name, fn] of [['attention/forward', forward], ['attention/backward', step]] as const) {
        const times: Record<Impl, number[]> = { flash: [], composed: [] };
        const once = async (impl: Impl): Promise<number> => {
          clearGrads();
          await device.finish();
          const t0 = performance.now();
          fn(impl);
          await device.finish();
          return performance.now() - t0;
        };
        for (const impl of ['flash', 'composed'] as const) await once(impl); // warm-up (JIT)
        for (let r = 0; r < runs; r++) {
          const order: Impl[] = r % 2 === 0 ? ['flash', 'composed'] : ['composed', 'flash'];
          for (const impl of order) times[impl].push(await once(impl));
        }
        for (const impl of ['flash', 'composed'] as const) {
          const ts = times[impl];
          const row: AttentionRow = { name, impl, ...c, ms: median(ts), ms_min: Math.min(...ts), ms_max: Math.max(...ts) };
          rows.push(row);
          console.log(`${name.padEnd(19)} ${impl.padEnd(9)} ${`${c.B}x${c.H}x${c.T}x${c.Dh}`.padEnd(16)} ` +
            `${row.ms.toFixed(2).padStart(9)}    [${row.ms_min.toFixed(2)} .. ${row.ms_max.toFixed(2)}]`);
        }
        const f = rows[rows.length - 2].ms;
        const co = rows[rows.length - 1].ms;
        console.log(`${''.padEnd(19)} composed / flash = ${(co / f).toFixed(2)}x`);
      }
      clearGrads();
      for (const x of [q, k, v, g, qkv, gOut]) x.dispose();
    }
    if (opts.json) writeFileSync(opts.json, JSON.stringify(rows, null, 2) + '\n');
    return rows;
  } finally {
    if (opened) closeDevice(device);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--json');
  await benchAttention({ quick: args.includes('--quick'), json: at >= 0 ? args[at + 1] : undefined });
  process.exit(0);
}
