// The WGPT_* settings: one table (engine/settings.ts) that every read goes through, each value
// refused in one line where its parser does not take it, and `wgpt info`'s list of those in force.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SETTINGS, setting, settingsInForce } from '../engine/settings.ts';

const root = path.join(import.meta.dirname, '..');
const sources = (dir: string): string[] => readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
  const rel = path.join(dir, e.name);
  if (e.isDirectory()) return sources(rel);
  return /\.(ts|js)$/.test(e.name) ? [rel] : [];
});

/** Files that may read WGPT_* variables themselves: the table, and the launcher, which decides
 *  whether to start a child before TypeScript can be loaded. */
const READERS = ['engine/settings.ts', 'bin/wgpt.js'];

t.test('no source reads a WGPT_* variable but through the table', async (t) => {
  const files = ['bench', 'bin', 'engine', 'kernels', 'model', 'scripts', 'train', 'test/helpers'].flatMap(sources);
  const reads = files.filter((f) => !READERS.includes(f))
    .flatMap((f) => readFileSync(path.join(root, f), 'utf8').split('\n').map((line, i) => ({ f, i, line })))
    .filter(({ line }) => /process\.env(\.WGPT_|\[['"`]WGPT_)/.test(line))
    .map(({ f, i, line }) => `${f}:${i + 1}: ${line.trim()}`);
  t.same(reads, []);
  const launcher = readFileSync(path.join(root, 'bin', 'wgpt.js'), 'utf8');
  for (const name of launcher.match(/WGPT_[A-Z_]+/g) ?? []) t.ok(name in SETTINGS, `${name}, read by the launcher, is in the table`);
});

t.test('values as they were accepted before the table, and one-line refusals', async (t) => {
  const withEnv = <T>(name: string, value: string | undefined, fn: () => T): T => {
    const saved = process.env[name];
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
    try {
      return fn();
    } finally {
      if (saved === undefined) delete process.env[name];
      else process.env[name] = saved;
    }
  };
  t.same(withEnv('WGPT_MATMUL_TILE', '32x16x8x1', () => setting('WGPT_MATMUL_TILE')), { tm: 32, tn: 16, wgx: 8, wgy: 1 });
  t.equal(withEnv('WGPT_MATMUL_TILE', '', () => setting('WGPT_MATMUL_TILE')), null, 'empty is unset');
  t.throws(() => withEnv('WGPT_MATMUL_TILE', '32x16', () => setting('WGPT_MATMUL_TILE')),
    /^WGPT_MATMUL_TILE "32x16" is not TMxTNxWGXxWGY \(positive integers joined by x\)$/);
  t.same(withEnv('WGPT_ATTENTION_TILE', '16x16x8', () => setting('WGPT_ATTENTION_TILE')), { r: 16, c: 16, wg: 8 });
  t.equal(withEnv('WGPT_MATMUL_TEXTURES', undefined, () => setting('WGPT_MATMUL_TEXTURES')), null, 'unset: no override');
  t.equal(withEnv('WGPT_MATMUL_TEXTURES', 'OFF', () => setting('WGPT_MATMUL_TEXTURES')), false);
  t.equal(withEnv('WGPT_PROFILE', '', () => setting('WGPT_PROFILE')), null, 'empty is off');
  t.equal(withEnv('WGPT_PROFILE', '1', () => setting('WGPT_PROFILE')), 'kernels');
  t.equal(withEnv('WGPT_PROFILE', 'shapes', () => setting('WGPT_PROFILE')), 'shapes');
  t.equal(withEnv('WGPT_TUNE_BUDGET_S', '2.5', () => setting('WGPT_TUNE_BUDGET_S')), 2500);
  t.equal(withEnv('WGPT_TUNE_BUDGET_S', undefined, () => setting('WGPT_TUNE_BUDGET_S')), null, 'unset: the tuner\'s default');
  t.throws(() => withEnv('WGPT_TUNE_BUDGET_S', 'soon', () => setting('WGPT_TUNE_BUDGET_S')),
    /^WGPT_TUNE_BUDGET_S must be a number of seconds, got "soon"$/);
  t.equal(withEnv('WGPT_TUNE_BUDGET_S', '', () => setting('WGPT_TUNE_BUDGET_S')), null, 'empty is unset, not a budget of 0');
  t.equal(withEnv('WGPT_TEST_READ_DELAY_MS', '5', () => setting('WGPT_TEST_READ_DELAY_MS')), 5);
  t.throws(() => withEnv('WGPT_TEST_READ_DELAY_MS', 'abc', () => setting('WGPT_TEST_READ_DELAY_MS')),
    /^WGPT_TEST_READ_DELAY_MS must be a number of milliseconds, got "abc"$/, 'not read as no delay');
  t.equal(withEnv('WGPT_BACKEND', 'LAVAPIPE', () => setting('WGPT_BACKEND')), 'lavapipe');
  t.equal(withEnv('WGPT_CACHE', '', () => setting('WGPT_CACHE')), '', 'empty: the default directory (wgptCacheDir)');
});

t.test('the settings in force: parsed, described, typos named, handshakes left out', async (t) => {
  const env = { WGPT_TUNE: 'off', WGPT_TUNES: 'off', WGPT_CLI_CHILD: '1', HOME: '/root' };
  t.same(settingsInForce(env), [
    { name: 'WGPT_TUNE', value: 'off', doc: SETTINGS.WGPT_TUNE.doc },
    { name: 'WGPT_TUNES', value: 'off', doc: 'not a wgpt setting: check the spelling (wgpt info --help lists them)' },
  ]);
  t.throws(() => settingsInForce({ WGPT_KERNELS: 'fast' }), /^unknown kernel set "fast" \(WGPT_KERNELS\): use auto, gpu or software$/);
});
