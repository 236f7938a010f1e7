// Loading a model keeps the cause and class of what went wrong: an engine error (out of memory)
// stays itself, a reader's error is kept as the cause, and only a missing file is "not found".
import t from 'tap';
import { copyFileSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GPUOutOfMemoryError, WgptError } from '../engine/index.ts';
import { loadGPT } from '../model/build.ts';
import { loadCheckpoint } from '../model/checkpoint.ts';
import { withDevice } from './helpers/device.ts';

const golden = new URL('./golden/tied/', import.meta.url).pathname;
const dir = mkdtempSync(path.join(tmpdir(), 'wgpt-model-errors-'));

t.test('a stat failure other than "missing" is not "checkpoint not found"', async (t) => {
  const loop = path.join(dir, 'loop');
  symlinkSync('loop', loop); // ELOOP: fails for root as well, unlike a permission error
  await t.rejects(loadCheckpoint(loop), { message: /cannot read checkpoint .*loop: ELOOP/ });
  await t.rejects(loadCheckpoint(path.join(dir, 'missing')), { message: /checkpoint not found: .*missing/ });
  const err = await loadCheckpoint(loop).catch((e: Error) => e);
  t.equal((err as Error & { cause?: { code?: string } }).cause?.code, 'ELOOP', 'the fs error is the cause');
  // An unreadable config.json is an error, not a silent fallback to shapes-only inference.
  const m = path.join(dir, 'model');
  mkdirSync(m);
  copyFileSync(path.join(golden, 'model.safetensors'), path.join(m, 'model.safetensors'));
  symlinkSync('config.json', path.join(m, 'config.json'));
  await t.rejects(loadCheckpoint(m), { message: /cannot read config .*config\.json: ELOOP/ });
});

t.test('loadGPT keeps the class of engine errors and the cause of reader errors', async (t) => {
  await withDevice(t, { memoryBudget: 4096 });
  const oom = await loadGPT(golden).catch((e: Error) => e);
  t.ok(oom instanceof GPUOutOfMemoryError, `out of memory stays GPUOutOfMemoryError (${(oom as Error).name})`);
  const bad = await loadGPT(path.join(dir, 'model')).catch((e: Error) => e);
  t.ok(bad instanceof WgptError, 'a reader error becomes a WgptError');
  t.match((bad as Error).message, /cannot read config/);
  t.ok((bad as Error).cause instanceof Error, 'with the original as its cause');
});
