// `wgpt bench kernels`, the row reductions with and without subgroups on the adapter at hand:
// softmax (causal, attention scores [12, T, T]), layer norm ([1024, 768]), the fused cross-entropy
// ([N, 50257]), each forward + backward, and argmax over [16, 50257] (greedy decoding). The two
// builds (kernels/rows-subgroups.wgsl, kernels/rows.wgsl) run on one device, switched by
// Device.subgroups and interleaved round by round, so both see the same machine load; the
// subgroup row's ratio is the workgroup-memory build's median over its own. Where the adapter has
// no subgroups, the workgroup-memory build alone, and a row that says so.
import { argmax, backward, crossEntropy, layerNorm, noGrad, param, softmax, Tensor, tidy, type Device } from '../engine/index.ts';
import { cpuNow, stats } from './peers/measure.ts';
import { logRow, seeded, type BenchRow } from './common.ts';

interface Case {
  name: string;
  variant: string;
  /** Bytes the op must move at least (for GB/s). */
  bytes: number;
  run: () => Promise<void>;
  dispose: () => void;
}

function cases(device: Device, quick: boolean): Case[] {
  const out: Case[] = [];
  const finish = (): Promise<void> => device.finish('bench row reductions');
  const clear = (t: Tensor): void => {
    t.grad?.dispose();
    t.grad = null;
  };
  /** Forward and backward of f, with `seed` as the upstream gradient of a non-scalar output. */
  const withGrad = (x: Tensor, f: () => Tensor, seed?: Tensor) => async (): Promise<void> => {
    clear(x);
    tidy(() => backward(f(), seed));
    await finish();
    clear(x);
  };
  {
    const T = quick ? 128 : 256;
    const x = param(Tensor.fromData(seeded(12 * T * T, 1, 4), [12, T, T]));
    const g = Tensor.fromData(seeded(x.size, 7, 1), x.shape);
    out.push({ name: 'rows/softmax causal', variant: `[12, ${T}, ${T}] fwd+bwd`, bytes: 5 * 4 * x.size,
      run: withGrad(x, () => softmax(x, { causal: true }), g), dispose: () => [x, g].forEach((t) => t.dispose()) });
  }
  {
    const [n, d] = [quick ? 256 : 1024, 768];
    const x = param(Tensor.fromData(seeded(n * d, 2, 1), [n, d]));
    const w = Tensor.fromData(seeded(d, 3, 1), [d]);
    const b = Tensor.fromData(seeded(d, 4, 1), [d]);
    const g = Tensor.fromData(seeded(x.size, 8, 1), x.shape);
    out.push({ name: 'rows/layerNorm', variant: `[${n}, ${d}] fwd+bwd (dx)`, bytes: 5 * 4 * x.size,
      run: withGrad(x, () => layerNorm(x, w, b), g), dispose: () => [x, w, b, g].forEach((t) => t.dispose()) });
  }
  {
    const [n, v] = [quick ? 64 : 256, 50257];
    const x = param(Tensor.fromData(seeded(n * v, 5, 4), [n, v]));
    const tgt = Tensor.fromData(Int32Array.from({ length: n }, (_, i) => (i * 7919 + 13) % v), [n], 'i32');
    out.push({ name: 'rows/crossEntropy', variant: `[${n}, ${v}] fwd+bwd`, bytes: 12 * x.size,
      run: withGrad(x, () => crossEntropy(x, tgt)), dispose: () => [x, tgt].forEach((t) => t.dispose()) });
  }
  {
    const [n, v] = [16, 50257];
    const x = Tensor.fromData(seeded(n * v, 6, 4), [n, v]);
    out.push({ name: 'rows/argmax', variant: `[${n}, ${v}]`, bytes: 4 * x.size,
      run: async () => {
        const ids = noGrad(() => argmax(x));
        await ids.toArray();
        ids.dispose();
      },
      dispose: () => x.dispose() });
  }
  return out;
}

export async function rowReductionsSuite(device: Device, quick: boolean): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const has = device.features.includes('subgroups');
  const builds: [string, boolean][] = has ? [['subgroups', true], ['workgroup memory', false]] : [['workgroup memory', false]];
  const rounds = quick ? 3 : 5;
  const before = device.subgroups;
  try {
    for (const c of cases(device, quick)) {
      const wall = new Map<boolean, number[]>(builds.map(([, s]) => [s, []]));
      const cpu = new Map<boolean, number[]>(builds.map(([, s]) => [s, []]));
      for (const [, s] of builds) {
        device.subgroups = s;
        await c.run(); // compile and warm up
      }
      for (let r = 0; r < rounds; r++) {
        for (const [, s] of builds) {
          device.subgroups = s;
          const c0 = cpuNow();
          const t0 = performance.now();
          await c.run();
          wall.get(s)!.push(performance.now() - t0);
          cpu.get(s)!.push(cpuNow() - c0);
        }
      }
      c.dispose();
      const made = builds.map(([label, s]): BenchRow => {
        const t = stats(wall.get(s)!, cpu.get(s)!);
        return { name: c.name, impl: 'wgpt', variant: `${c.variant}, ${label}`, ...t, runs: rounds, gbps: c.bytes / t.ms / 1e6 };
      });
      if (has) {
        made[0].ratio = made[1].ms! / made[0].ms!;
        made[0].ratio_baseline = 'the workgroup-memory build (kernels/rows.wgsl), interleaved in the same run';
      } else {
        made.push({ name: c.name, impl: 'wgpt', variant: `${c.variant}, subgroups`,
          error: `no subgroups on ${device.adapterDescription}` });
      }
      for (const r of made) {
        rows.push(r);
        logRow(r);
      }
    }
  } finally {
    device.subgroups = before;
  }
  return rows;
}
