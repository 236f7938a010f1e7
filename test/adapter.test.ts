// The adapter choice: --backend / WGPT_BACKEND names (lavapipe among them), the one-line error where
// lavapipe is missing, what `wgpt info --json` reports for the adapter at hand, and the measured
// preference between the two software adapters that `auto` follows.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chooseAdapter } from '../engine/adapter.ts';
import { parseBackend } from '../engine/settings.ts';
import type { ClassResult } from '../engine/tune/cache.ts';
import { preferredSoftwareAdapter, saveSoftwareAdapterChoice, trainingScore } from '../engine/tune/software-adapter.ts';
import { withDevice } from './helpers/device.ts';

const cli = path.join(import.meta.dirname, '..', 'bin', 'wgpt.js');
const wgpt = (env: NodeJS.ProcessEnv, ...args: string[]) => spawnSync(process.execPath, [cli, ...args], {
  encoding: 'utf8', timeout: 120_000, env: { ...process.env, WGPT_TUNE: 'off', ...env },
});
const device = await withDevice(t);

t.test('backend names', async (t) => {
  t.equal(parseBackend('lavapipe'), 'lavapipe');
  t.equal(parseBackend('Software'), 'software');
  t.equal(parseBackend(undefined), 'auto');
  t.throws(() => parseBackend('vulkan'), { message: 'unknown backend "vulkan": use auto, gpu, software or lavapipe' });
});

t.test('where lavapipe is missing, --backend lavapipe says how to get it, in one line', async (t) => {
  // No Vulkan driver manifest at all, whatever is installed: lavapipe cannot be found.
  const r = wgpt({ VK_DRIVER_FILES: path.join(tmpdir(), 'no-such-dir', 'lvp_icd.json'), VK_ICD_FILENAMES: '' },
    'info', '--backend', 'lavapipe');
  t.equal(r.status, 1, 'exit status 1');
  const last = r.stderr.trim().split('\n').pop() ?? '';
  t.match(last, new RegExp("^wgpt info: no lavapipe adapter \\(backend=lavapipe: Dawn's Vulkan backend on Mesa >= 24\\): " +
    'install Mesa >= 24 with bash scripts\\/setup\\.sh --mesa-backports, ' +
    'or use a side-by-side copy: bash scripts\\/mesa-copy\\.sh && \\. \\.mesa\\/env\\.sh$'));
  t.equal(r.stdout, '', 'nothing on stdout');
});

t.test('the adapter at hand, as wgpt info --json reports it', async (t) => {
  const r = wgpt({}, 'info', '--json');
  t.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout) as { backend: string; featureLevel: string; adapter: string; features: string[] };
  t.equal(info.backend, device.backend, `backend ${info.backend}`);
  t.equal(info.featureLevel, device.featureLevel);
  t.equal(info.adapter, device.adapterDescription);
  if (device.backend === 'lavapipe') {
    // The real GPU's code path: core limits, timestamps, subgroups, and llvmpipe's own kernels.
    t.equal(device.featureLevel, 'core');
    for (const f of ['timestamp-query', 'subgroups']) t.ok(info.features.includes(f), `has ${f}`);
    t.match(device.adapterDescription, /llvmpipe.*Mesa (2[4-9]|[3-9]\d)\./, 'Mesa >= 24 named in the description');
    t.equal(device.kernelProfile, process.env.WGPT_KERNELS === 'gpu' ? 'gpu' : 'software');
    t.ok(device.subgroups, 'the row reductions use subgroups');
  } else if (device.backend === 'software') {
    t.equal(device.featureLevel, 'compatibility');
  }
});

t.test('auto follows the measured software adapter only while both adapters are the ones measured', async (t) => {
  const saved = { cache: process.env.WGPT_CACHE, tune: process.env.WGPT_TUNE };
  process.env.WGPT_CACHE = mkdtempSync(path.join(tmpdir(), 'wgpt-adapter-'));
  process.env.WGPT_TUNE = 'on';
  t.teardown(() => {
    for (const [k, v] of [['WGPT_CACHE', saved.cache], ['WGPT_TUNE', saved.tune]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  const classes = (gflops: number[]): Map<string, ClassResult> => new Map(['nn vv large', 'nt vv large', 'tn vv large'].map((c, i) => [c,
    { choice: 'x', shape: [1, 1, 1], speed: { x: gflops[i], y: 1000 }, unit: 'GFLOP/s', first_s: {}, measured_at: '' }]));
  t.equal(trainingScore(classes([10, 20, 40])), 3 / (1 / 10 + 1 / 20 + 1 / 40), 'the harmonic mean of the chosen kernels');
  t.ok(Number.isNaN(trainingScore(new Map())), 'NaN where a training class was not measured');

  t.equal(preferredSoftwareAdapter('GL 1'), null, 'nothing measured: GL');
  const file = saveSoftwareAdapterChoice({ software: { adapter: 'GL 1', score_gflops: 20 },
    lavapipe: { adapter: 'LVP 1', score_gflops: 25 } });
  t.equal(file.choice, 'lavapipe');
  t.same(preferredSoftwareAdapter('GL 1'), { lavapipe: 'LVP 1' }, 'lavapipe measured faster');
  t.equal(preferredSoftwareAdapter('GL 2'), null, 'another GL adapter (a Mesa update): measured no more');
  process.env.WGPT_TUNE = 'off';
  t.equal(preferredSoftwareAdapter('GL 1'), null, 'WGPT_TUNE=off (the tests): never');
  process.env.WGPT_TUNE = 'on';
  t.equal(saveSoftwareAdapterChoice({ software: { adapter: 'GL 1', score_gflops: 25 },
    lavapipe: { adapter: 'LVP 1', score_gflops: 20 } }).choice, 'software');
  t.equal(preferredSoftwareAdapter('GL 1'), null, 'GL measured faster');
  t.equal(saveSoftwareAdapterChoice({ software: { adapter: 'GL 1', score_gflops: 25 } }).choice, 'software', 'no lavapipe: GL');
});

t.test('auto takes lavapipe where it was measured faster (run where lavapipe is at hand)',
  { skip: device.backend !== 'lavapipe' && 'lavapipe is not the adapter in use' }, async (t) => {
  const saved = { WGPT_CACHE: process.env.WGPT_CACHE, WGPT_TUNE: process.env.WGPT_TUNE, WGPT_BACKEND: process.env.WGPT_BACKEND };
  t.teardown(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  process.env.WGPT_CACHE = mkdtempSync(path.join(tmpdir(), 'wgpt-adapter-auto-'));
  process.env.WGPT_BACKEND = 'auto';
  // Adapters only, no device: the choice itself.
  const gl = await chooseAdapter('software');
  saveSoftwareAdapterChoice({ software: { adapter: gl.description, score_gflops: 1 },
    lavapipe: { adapter: device.adapterDescription, score_gflops: 2 } });
  process.env.WGPT_TUNE = 'on';
  t.equal((await chooseAdapter('auto')).backend, 'lavapipe', 'measured faster: lavapipe');
  process.env.WGPT_TUNE = 'off';
  t.equal((await chooseAdapter('auto')).backend, 'software', 'with WGPT_TUNE=off, GL');
});
