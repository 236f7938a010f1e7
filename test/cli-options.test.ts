// Options say what they do: `wgpt grads` needs --data (it once fell back to the built-in data
// silently), `--data synthetic` asks for the built-in data, and `--test-limit 0` means no test
// responses (it once meant all).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { getConfig } from '../model/config.ts';
import { randomGPT, saveGPT } from '../model/build.ts';
import { train } from '../train/sft/trainer.ts';
import { generateSyntheticData } from '../train/data/synthetic.ts';
import { withDevice } from './helpers/device.ts';

const cli = path.join(import.meta.dirname, '..', 'bin', 'wgpt.js');
const wgpt = (...args: string[]): { code: number | null; out: string; stdout: string } => {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, out: r.stdout + r.stderr, stdout: r.stdout };
};
await withDevice(t);
const dir = mkdtempSync(path.join(tmpdir(), 'wgpt-cli-'));
const modelDir = path.join(dir, 'micro');

t.test('wgpt grads without --data is an error that says what to give', async (t) => {
  const r = wgpt('grads', '--model', 'tiny', '--examples', '0-1');
  t.not(r.code, 0, 'exit status');
  t.match(r.out, /give --data FILE \(instruction JSON\), ch07 \(the chapter's data\) or synthetic \(the built-in tasks\)/);
  t.notMatch(r.out, /loss \d/, 'no report');
  // A missing --data and a temporary --out: a regression fails fast instead of training a default run.
  const neg = wgpt('train', '--test-limit=-1', '--max-steps', '1', '--data', path.join(dir, 'missing.json'),
    '--out', path.join(dir, 'neg'));
  t.not(neg.code, 0);
  t.match(neg.out, /--test-limit must be 0 \(no test responses\) or more, got -1/);
});

t.test('wgpt grads --data synthetic uses the built-in data', async (t) => {
  const micro = randomGPT(getConfig('tiny', { dModel: 32, nLayers: 1, nHeads: 2, contextLength: 96 }), 7);
  await saveGPT(micro, modelDir);
  micro.dispose();
  const r = wgpt('grads', '--model', modelDir, '--data', 'synthetic', '--examples', '0-1', '--json');
  t.equal(r.code, 0, r.out);
  const report = JSON.parse(r.stdout);
  t.ok(report.count > 0 && Number.isFinite(report.loss) && report.globalNorm > 0, `loss ${report.loss}, ${report.count} targets`);
});

t.test('--test-limit 0 responds to no test entry', async (t) => {
  const dataFile = path.join(dir, 'data.json');
  writeFileSync(dataFile, JSON.stringify(generateSyntheticData({ seed: 5, count: 40 })));
  const out = path.join(dir, 'no-test');
  const r = await train({
    data: dataFile, model: modelDir, fromScratch: false, untie: false, out, epochs: 1, maxSteps: 1, batchSize: 4,
    lr: 1e-3, weightDecay: 0.1, mask: 'none', style: 'alpaca', evalEvery: 100, evalBatches: 1, seed: 123, maxNewTokens: 4,
    scoreBefore: false, syntheticCount: 0, testLimit: 0,
  });
  t.equal(r.after, undefined, 'nothing scored');
  t.notOk(existsSync(path.join(out, 'test-responses.json')), 'no test responses written');
});

t.test("Dawn's two limit warnings are hidden unless WGPT_DEBUG is set; everything else on stderr still shows", async (t) => {
  const info = spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8', timeout: 300_000 });
  t.equal(info.status, 0, info.stderr);
  t.match(info.stdout, /limits in force/);
  t.notMatch(info.stderr, /artificially reduced/, 'no Dawn limit warning');
  const unknown = spawnSync(process.execPath, [cli, 'nope'], { encoding: 'utf8' });
  t.equal(unknown.status, 2);
  t.match(unknown.stderr, /wgpt: unknown command "nope"/, 'other stderr lines pass through');
  // The launcher runs the CLI in a child: its exit status and signals come through (train's Ctrl-C
  // test checks 130); with WGPT_DEBUG the CLI runs in the launcher's own process, stack traces on.
  const debug = spawnSync(process.execPath, [cli, 'info'],
    { encoding: 'utf8', timeout: 300_000, env: { ...process.env, WGPT_DEBUG: '1' } });
  t.equal(debug.status, 0);
  t.match(debug.stdout, /limits in force/);
});
