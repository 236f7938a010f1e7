// A GPT-2 124M-sized checkpoint (~500 MB of F32) must load with memory bounded by the largest
// single tensor (wte, 154 MB), not by the file size: the loader streams tensor by tensor.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { getConfig } from '../model/config.ts';
import { hfTensorSpecs } from '../model/hf-names.ts';
import { writeSafetensors } from '../model/safetensors.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'wgpt-rss-'));
t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
const MB = 1024 * 1024;

t.test('124M-size checkpoint loads with bounded RSS and correct values', async (t) => {
  const cfg = getConfig('gpt2');
  const specs = hfTensorSpecs(cfg);
  const sizes = specs.map((s) => s.shape.reduce((a, b) => a * b, 1));
  const largest = Math.max(...sizes);
  // One pool of pseudo-random floats; every tensor is a view at its own offset, so writing a
  // 500 MB file needs only the pool (154 MB) in this process.
  const pool = new Float32Array(largest + 4096);
  let x = 0x9e3779b9;
  for (let i = 0; i < pool.length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    pool[i] = (x / 2 ** 32 - 0.5) * 0.1;
  }
  const offsets = specs.map((_, k) => (k * 1237) % 4096);
  const file = path.join(dir, 'model.safetensors');
  await writeSafetensors(file, specs.map((s, k) => ({ ...s, data: pool.subarray(offsets[k], offsets[k] + sizes[k]) })));
  const fileSize = (await fsp.stat(file)).size;
  t.ok(fileSize > 497_000_000, `file is ${(fileSize / MB).toFixed(0)} MiB`);

  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/load-rss.ts'), dir], {
    cwd: root, maxBuffer: 16 * MB,
  });
  const r = JSON.parse(stdout) as {
    baseRss: number; peakRss: number; largestTensorBytes: number; totalBytes: number; ms: number;
    samples: Record<string, [number, number, number]>;
  };
  t.equal(r.largestTensorBytes, largest * 4);
  t.equal(r.totalBytes, 124_439_808 * 4);
  let wrong = 0;
  specs.forEach((s, k) => {
    const v = pool.subarray(offsets[k], offsets[k] + sizes[k]);
    const want = [v[0], v[v.length >> 1], v[v.length - 1]];
    if (r.samples[s.name].some((g, i) => g !== want[i])) wrong++;
  });
  t.equal(wrong, 0, 'first/middle/last element of every tensor as written');
  const bound = r.baseRss + 1.5 * r.largestTensorBytes + 64 * MB;
  t.comment(`load ${(fileSize / MB).toFixed(0)} MiB in ${(r.ms / 1000).toFixed(1)} s: base RSS ${(r.baseRss / MB).toFixed(0)} MiB, ` +
    `peak RSS ${(r.peakRss / MB).toFixed(0)} MiB (+${((r.peakRss - r.baseRss) / MB).toFixed(0)} MiB), ` +
    `largest tensor ${(r.largestTensorBytes / MB).toFixed(0)} MiB`);
  t.ok(r.peakRss < bound, `peak RSS ${(r.peakRss / MB).toFixed(0)} MiB < base + 1.5 x largest + 64 MiB = ${(bound / MB).toFixed(0)} MiB`);
});
