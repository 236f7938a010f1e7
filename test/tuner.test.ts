// The matmul tuner (engine/tune/): a class met for the first time is measured at the next wait and
// its choice kept in the machine's cache file; the next device (or process) reads the choice and
// times nothing; the file is keyed by what decides the fastest kernel; a corrupt file is ignored
// with one warning; WGPT_TUNE=off reads and writes nothing. The candidates' correctness is checked
// in matmul-candidates.test.ts.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { adamwStep, closeDevice, matmul, noGrad, openDevice, Tensor, type Device } from '../engine/index.ts';
import { overrideMatmul } from '../engine/tune/matmul-pick.ts';
import { cpuClass, loadTuneFile, machineKey, saveTuneFile, tuneFilePath } from '../engine/tune/cache.ts';
import { ADAMW_TUNED, candidatesFor, chooseCandidate, classKey, classOf, parseClassKey, tuningOf, type Candidate,
  type MatmulClass } from '../engine/tune/choices.ts';
import { retune, standardClasses } from '../engine/tune/tuner.ts';
import { tuneWork } from '../model/tune-work.ts';
import { kernelsDispatched } from './helpers/device.ts';
import { randn } from './helpers/opcheck.ts';

const cacheDir = mkdtempSync(path.join(tmpdir(), 'wgpt-tune-'));
const saved = { cache: process.env.WGPT_CACHE, tune: process.env.WGPT_TUNE, budget: process.env.WGPT_TUNE_BUDGET_S };
process.env.WGPT_CACHE = cacheDir;
process.env.WGPT_TUNE = 'on';
// A few seconds: the default candidate and perhaps one more are timed.
process.env.WGPT_TUNE_BUDGET_S = '3';
t.teardown(() => {
  for (const [k, v] of [['WGPT_CACHE', saved.cache], ['WGPT_TUNE', saved.tune], ['WGPT_TUNE_BUDGET_S', saved.budget]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(cacheDir, { recursive: true, force: true });
});

// 64x256x256: 4.2M multiply-adds, just past the untuned small products; every operand aligned.
const [M, N, K] = [64, 256, 256];
const A = randn(M * K, 1);
const B = randn(K * N, 2);

/** Runs fn on a device of its own (each device reads the cache file afresh). */
async function onDevice<T>(fn: (d: Device) => Promise<T>): Promise<T> {
  const d = await openDevice();
  try {
    return await fn(d);
  } finally {
    closeDevice(d);
  }
}

/** The product's class on this device (alignment counts only on the software kernel). */
function productClass(d: Device): MatmulClass {
  const vec = d.kernelProfile === 'software';
  return classOf(M, N, K, false, false, vec, vec).cls;
}

/** Records the product, returning the kernels it dispatched and the tensors to read. */
function multiply(d: Device): { names: string[]; c: Tensor; free: () => void } {
  const a = Tensor.fromData(A, [M, K]);
  const b = Tensor.fromData(B, [K, N]);
  let c!: Tensor;
  const names = kernelsDispatched(d, () => {
    c = noGrad(() => matmul(a, b));
  });
  return { names, c, free: () => [a, b, c].forEach((x) => x.dispose()) };
}

t.test('a class met for the first time is measured at the next wait, and the next device only reads the choice', async (t) => {
  const [file, key] = await onDevice(async (d) => {
    const s = tuningOf(d);
    t.equal(s.results.size, 0, 'an empty cache');
    const { c, free } = multiply(d);
    t.same([...s.pending.keys()], [classKey(productClass(d))], 'the class is pending after its first product');
    t.notOk(existsSync(s.file), 'nothing measured or written yet');
    const before = d.counters.dispatches;
    await c.toArray();
    t.ok(d.counters.dispatches - before > 2, `the readback first timed the candidates (${d.counters.dispatches - before} dispatches)`);
    t.equal(s.pending.size, 0);
    const r = s.results.get(classKey(productClass(d)))!;
    t.ok(r && Object.keys(r.speed).length >= 1, `measured: ${JSON.stringify(r.speed)}`);
    t.ok(Object.values(r.speed).every((g) => g > 0), 'every timed candidate has a positive GFLOP/s');
    t.same(r.shape, [M, N, K], 'timed at the shape met');
    free();
    return [s.file, classKey(productClass(d))];
  });
  const onDisk = JSON.parse(readFileSync(file, 'utf8'));
  t.same(Object.keys(onDisk.classes), [key], 'the file holds the class');
  await onDevice(async (d) => {
    const s = tuningOf(d);
    const choice = s.results.get(classKey(productClass(d)))!.choice;
    const { names, c, free } = multiply(d);
    t.equal(s.pending.size, 0, 'the class is known: nothing pending');
    const before = d.counters.dispatches;
    await c.toArray();
    t.equal(d.counters.dispatches - before, 0, 'the readback timed nothing');
    const forced = candidatesFor(d.kernelProfile, productClass(d)).find((x) => x.name === choice)!;
    overrideMatmul({ candidate: forced });
    const { names: forcedNames, free: free2 } = multiply(d);
    overrideMatmul(null);
    t.same(names, forcedNames, `the product ran the cached choice (${choice})`);
    free();
    free2();
  });
});

t.test('AdamW on a large parameter is a class of its own: measured at the next wait', async (t) => {
  await onDevice(async (d) => {
    const s = tuningOf(d);
    const n = ADAMW_TUNED;
    const [p, g, m, v] = [1, 2, 3, 4].map((seed) => Tensor.fromData(randn(n, seed, 0.1), [n]));
    adamwStep(p, g, m, v, { lr: 1e-3, step: 1 });
    const tuned = candidatesFor(d.kernelProfile, { kind: 'adamw' }).length > 1;
    t.equal(s.pending.has('adamw'), tuned, tuned ? 'pending' : 'one candidate on this adapter: nothing to measure');
    await d.finish();
    if (tuned) {
      const r = s.results.get('adamw')!;
      t.equal(r.unit, 'GB/s');
      t.ok(Object.keys(r.speed).length >= 1 && Object.values(r.speed).every((x) => x > 0), `measured: ${JSON.stringify(r.speed)}`);
    }
    [p, g, m, v].forEach((x) => x.dispose());
  });
});

t.test("the cache's choice is honoured, whichever candidate it names", async (t) => {
  await onDevice(async (d) => {
    const s = tuningOf(d);
    const cls = productClass(d);
    const other = candidatesFor(d.kernelProfile, cls)[1];
    saveTuneFile(s.file, { key: s.key, classes: { [classKey(cls)]: { choice: other.name, shape: [M, N, K], speed: {},
      unit: 'GFLOP/s', first_s: {}, measured_at: 'test' } } });
  });
  await onDevice(async (d) => {
    const cls = productClass(d);
    const [def, other] = candidatesFor(d.kernelProfile, cls);
    const { names, free } = multiply(d);
    overrideMatmul({ candidate: other });
    const { names: otherNames, free: f2 } = multiply(d);
    overrideMatmul({ candidate: def });
    const { names: defNames, free: f3 } = multiply(d);
    overrideMatmul(null);
    t.same(names, otherNames, `ran ${other.name}, as the file says`);
    t.not(names.join(), defNames.join(), `not the default ${def.name}`);
    [free, f2, f3].forEach((f) => f());
  });
});

t.test('the tuner chooses the faster of two candidates and the engine then runs it', async (t) => {
  // A candidate made slow on purpose, first in the list, where the built-in default sits: a tuner
  // that kept the default, or a cache not read, would run it. On llvmpipe: one invocation a
  // workgroup and a 4x4 tile. On a GPU: one invocation a workgroup too, a lane of a warp (on an
  // H200 a 16x16 1x1 tile was faster than 64x64 at this size, and 128x128 8x8 only 1.6x slower).
  const saved = process.env.WGPT_TUNE_BUDGET_S;
  process.env.WGPT_TUNE_BUDGET_S = '60';
  t.teardown(() => {
    if (saved === undefined) delete process.env.WGPT_TUNE_BUDGET_S;
    else process.env.WGPT_TUNE_BUDGET_S = saved;
  });
  await onDevice(async (d) => {
    const s = tuningOf(d);
    const cls = productClass(d);
    const software = d.kernelProfile === 'software';
    const fast = candidatesFor(d.kernelProfile, cls).find((c) => c.name === (software ? 'texture 32x16' : '32x64x16 2x4'))!;
    const slow: Candidate = software
      ? { name: 'slow storage 4x4 1x1', llvmpipe: { tm: 4, tn: 4, wgx: 1, wgy: 1, textures: false } }
      : { name: 'slow 8x8x8 8x8', gpu: { bm: 8, bn: 8, bk: 8, tm: 8, tn: 8 } };
    s.candidates = (c) => (c.kind === 'matmul' ? [slow, fast] : candidatesFor(d.kernelProfile, c));
    s.results.clear();
    const first = multiply(d);
    t.equal(s.pending.size, 1, 'the class is pending');
    await first.c.toArray();
    const r = s.results.get(classKey(cls))!;
    t.same(Object.keys(r.speed).sort(), [fast.name, slow.name].sort(), `both timed: ${JSON.stringify(r.speed)}`);
    t.ok(r.speed[fast.name] > 2 * r.speed[slow.name], 'the slow candidate is slow');
    t.equal(r.choice, fast.name, 'the faster one chosen');
    const next = multiply(d);
    overrideMatmul({ candidate: fast });
    const forcedFast = multiply(d);
    overrideMatmul(null);
    t.same(next.names, forcedFast.names, `the next product ran ${fast.name}`);
    t.not(next.names.join(), first.names.join(), 'not what ran before the measurement (the slow default)');
    [first, next, forcedFast].forEach((x) => x.free());
  });
});

t.test('wgpt tune measures the classes under the keys the engine looks up, on either kernel set', async (t) => {
  // GPT-2's products as the engine meets them (aligned operands): their keys are `vv` on either
  // kernel set (the GPU's v4 tiles load aligned operands as vec4).
  const gpt2: Array<[number, number, number, boolean, boolean]> = [
    [1024, 2304, 768, false, false], [1024, 768, 2304, false, true], [768, 2304, 1024, true, false],
    [16, 2304, 768, false, false], [16, 50257, 768, false, true],
  ];
  for (const kernels of ['software', 'gpu'] as const) {
    const d = await openDevice({ kernels });
    try {
      const s = tuningOf(d);
      s.results.clear();
      // A budget of 0: each class recorded with its default, nothing timed.
      const measured = await retune(d, tuneWork(), { budgetMs: 0, log: null });
      const looked = gpt2.map(([m, n, k, ta, tb]) => classKey(classOf(m, n, k, ta, tb, true, true).cls));
      t.ok(looked.every((key) => measured.has(key)), `${kernels}: every key looked up was measured (${looked.join(', ')})`);
      t.same([...measured.keys()].filter((k) => k !== 'adamw').sort(), [...new Set(looked)].sort(), `${kernels}: and nothing else`);
      t.same(standardClasses(d, tuneWork()).map((p) => classKey(p.cls)), [...measured.keys()], `${kernels}: the standard classes`);
      for (const [m, n, k, ta, tb] of gpt2) chooseCandidate(d, m, n, k, ta, tb, true, true);
      t.equal(s.pending.size, 0, `${kernels}: no GPT-2 product is left pending after wgpt tune`);
      t.ok(looked.every((key) => / vv /.test(key)), `${kernels}: the standard products' operands are aligned`);
    } finally {
      closeDevice(d);
    }
  }
});

t.test('WGPT_MATMUL_TEXTURES forces the operand source, so nothing is measured under it', async (t) => {
  const saved = process.env.WGPT_MATMUL_TEXTURES;
  process.env.WGPT_MATMUL_TEXTURES = 'on';
  const d = await openDevice({ kernels: 'software' });
  try {
    await t.rejects(retune(d, tuneWork(), { budgetMs: 0, log: null }),
      /a matmul override is in force \(WGPT_MATMUL_TILE, WGPT_MATMUL_TEXTURES/);
  } finally {
    closeDevice(d);
    if (saved === undefined) delete process.env.WGPT_MATMUL_TEXTURES;
    else process.env.WGPT_MATMUL_TEXTURES = saved;
  }
});

t.test("a tiny model's products and GPT-2's are classes apart: the first model trained does not choose for the next", async (t) => {
  const key = (m: number, n: number, k: number): string => classKey(classOf(m, n, k, false, false, true, true).cls);
  t.equal(key(16, 2304, 768), 'nn vv thin', 'decoding a batch of prompts');
  t.equal(key(1024, 384, 128), 'nn vv medium', "tiny's MLP (8x128 tokens, d=128)");
  t.equal(key(1024, 2304, 768), 'nn vv large', "GPT-2's qkv at 1024 tokens");
  t.same(candidatesFor('software', classOf(1024, 384, 128, false, false, true, true).cls),
    candidatesFor('software', classOf(1024, 2304, 768, false, false, true, true).cls), 'the same candidates, measured apart');
  t.equal(classKey(parseClassKey('tn vs medium')!), 'tn vs medium', 'the key reads back');
});

t.test('the file is keyed by what decides the fastest kernel', async (t) => {
  const key = machineKey('llvmpipe (Mesa 22.3.6)', 'software (compatibility)', 'software', 'v1: a, b');
  const file = tuneFilePath(key);
  t.ok(file.startsWith(path.join(cacheDir, 'tune')), 'under the cache directory');
  const other = (patch: Partial<typeof key>): string => tuneFilePath({ ...key, ...patch });
  t.not(other({ adapter: 'llvmpipe (Mesa 25.0.7)' }), file, 'another Mesa version');
  t.not(other({ cpu_vector_flags: 'avx avx2 fma' }), file, 'another CPU class');
  t.not(other({ variants: 'v2: a, b' }), file, 'another candidate set');
  const prev = process.env.GALLIUM_OVERRIDE_CPU_CAPS;
  process.env.GALLIUM_OVERRIDE_CPU_CAPS = 'avx';
  t.not(tuneFilePath(machineKey('llvmpipe (Mesa 22.3.6)', 'software (compatibility)', 'software', 'v1: a, b')), file,
    'Mesa told to generate AVX2 code');
  t.match(cpuClass(),
    new RegExp(`family ${key.cpu_family_model.replace('/', ' model ')}, .*; llvmpipe under GALLIUM_OVERRIDE_CPU_CAPS=avx$`),
    'the class every figure names says so too');
  if (prev === undefined) delete process.env.GALLIUM_OVERRIDE_CPU_CAPS;
  else process.env.GALLIUM_OVERRIDE_CPU_CAPS = prev;
  if (prev === undefined) t.notMatch(cpuClass(), /llvmpipe under/, 'nothing of the kind where Mesa is left to itself');
  // A file whose key is not this machine's is not trusted.
  saveTuneFile(file, { key: { ...key, cpu: 'another' }, classes: { 'nn vv large': { choice: 'x', shape: [1, 1, 1], speed: {},
    unit: 'GFLOP/s', first_s: {}, measured_at: '' } } });
  const warnings: string[] = [];
  t.same(loadTuneFile(file, key, (w) => warnings.push(w)), {}, 'ignored');
  t.match(warnings, [/another machine key/]);
});

t.test('a corrupt cache file is ignored with one warning, and replaced once the class is measured', async (t) => {
  // This machine's file (the same for every device here), cut short.
  const file = await onDevice(async (d) => tuningOf(d).file);
  writeFileSync(file, '{"key": {"adapter": "llvm');
  await onDevice(async (d) => {
    const s = tuningOf(d);
    t.equal(s.warnings.length, 1, 'one warning');
    t.match(s.warnings[0], /ignoring the kernel tuning cache .*measured again/);
    t.equal(s.results.size, 0, 'no choice taken from it');
    const { c, free } = multiply(d);
    await c.toArray();
    free();
  });
  const fixed = JSON.parse(readFileSync(file, 'utf8'));
  t.equal(Object.keys(fixed.classes).length, 1, 'the file is whole again, with the class measured');
});

t.test('WGPT_TUNE=off: the built-in default, nothing read, measured or written', async (t) => {
  process.env.WGPT_TUNE = 'off';
  t.teardown(() => {
    process.env.WGPT_TUNE = 'on';
  });
  await onDevice(async (d) => {
    const s = tuningOf(d);
    rmSync(s.file, { force: true });
    const { names, c, free } = multiply(d);
    const before = d.counters.dispatches;
    await c.toArray();
    t.equal(d.counters.dispatches - before, 0, 'nothing timed');
    t.notOk(existsSync(s.file), 'no file written');
    overrideMatmul({ candidate: candidatesFor(d.kernelProfile, productClass(d))[0] });
    const { names: defNames, free: f2 } = multiply(d);
    overrideMatmul(null);
    t.same(names, defNames, 'the default candidate ran');
    free();
    f2();
  });
});
