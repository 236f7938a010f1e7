// The engine in a real browser: headless Chromium on SwiftShader (puppeteer-core driving the
// system's /usr/bin/chromium). Skipped, saying why, where chromium is not installed
// (bash scripts/setup.sh --browser; CI installs it). SwiftShader runs a step of `tiny` in tens of
// seconds on this machine's CPUs, so the checks are few and the page's run is its small preset.
/// <reference lib="dom" />
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ElementHandle } from 'puppeteer-core';
import t from 'tap';
import { openDevice } from '../engine/index.ts';
import { randomGPT, saveGPT } from '../model/build.ts';
import { outputVocabOf } from '../train/data/encode.ts';
import { browserMissing, launch, openPage } from './helpers/browser.ts';
import { tinyLosses } from './browser/tiny-steps.ts';

const missing = browserMissing();
// Launched before any test starts (the hygiene rule: no top-level await after one has).
const browser = missing ? null : await launch(t);
if (!browser) {
  t.plan(0, `browser tests skipped: ${missing}`);
} else {
  type Checks = {
    ops(): Promise<{ family: string; ok: boolean; failures: string[] }[]>; tinyLosses(n: number): Promise<number[]>; families: string[];
  };

  t.test('every op family matches its f64 reference in the page; two steps of tiny give Node\'s losses', async (t) => {
    const { page, errors } = await openPage(t, browser, { entry: 'test/browser/page-checks.ts' });
    await page.waitForFunction(() => document.title === 'wgpt checks: ready');
    const outcomes = await page.evaluate(() => (globalThis as unknown as { wgptChecks: Checks }).wgptChecks.ops());
    t.same(outcomes.map((o) => o.family), ['elementwise', 'reduce', 'matmul', 'layout', 'norm', 'activation', 'softmax', 'attention',
      'loss', 'embedding', 'dropout', 'argmax', 'adamw']);
    for (const o of outcomes) t.ok(o.ok, `${o.family}: ${o.failures.join('; ') || 'matches'}`);
    const inPage = await page.evaluate(() => (globalThis as unknown as { wgptChecks: Checks }).wgptChecks.tinyLosses(2));
    await openDevice();
    const inNode = await tinyLosses(2);
    // Same kernels and the same f32 arithmetic on two CPU rasterizers (Dawn on llvmpipe, Chromium's
    // SwiftShader); an FMA contracted in one and not the other may differ in the last bits.
    t.equal(inPage.length, 2);
    inPage.forEach((l, i) => t.ok(Math.abs(l - inNode[i]) <= 1e-4 * Math.abs(inNode[i]), `step ${i}: page ${l}, Node ${inNode[i]}`));
    t.same(errors, [], 'no console error');
  });

  t.test('the page\'s built-in run (small preset) ends with the summary and no console error', async (t) => {
    const { page, errors } = await openPage(t, browser);
    await page.waitForFunction(() => /WebGPU adapter/.test(document.getElementById('adapter')!.textContent ?? ''));
    await page.select('#preset', 'small');
    await page.click('#run');
    await page.waitForFunction(() => document.title === 'wgpt: done' || document.title === 'wgpt: error', { timeout: 0, polling: 1000 });
    t.equal(await page.title(), 'wgpt: done', await page.$eval('#error', (e) => e.textContent ?? ''));
    const summary = JSON.parse(await page.$eval('#summary', (e) => e.textContent ?? '{}')) as Record<string, unknown>;
    t.same(Object.keys(summary), ['heldout_exact_match', 'control_exact_match', 'copied_answer_share', 'base_cloze_accuracy',
      'heldout_by_base_knowledge', 'heldout_unseen_instruction', 'seed', 'fact_world', 'base_exact_match', 'base_examples', 'seconds',
      'base_model'], 'the keys of the CLI\'s summary.json');
    t.equal((summary.heldout_exact_match as { n: number }).n, 4, 'the small preset asks 4 held-out questions');
    t.ok(await page.$eval('#table', (e) => e.querySelectorAll('tr').length > 3), 'the held-out table is drawn');
    if (process.env.BROWSER_SCREENSHOT) await page.screenshot({ path: process.env.BROWSER_SCREENSHOT, fullPage: true });
    t.same(errors, [], 'no console error');
  });

  t.test('an adapter too small for the kernels is one sentence in the page', async (t) => {
    // The browser's adapter, reporting WebGPU compatibility mode's 4 storage buffers per stage.
    const { page } = await openPage(t, browser, { beforeLoad: (p) => p.evaluateOnNewDocument(() => {
      const request = GPU.prototype.requestAdapter;
      GPU.prototype.requestAdapter = async function (this: GPU, o?: GPURequestAdapterOptions) {
        const a = await request.call(this, o);
        if (!a) return a;
        const limits = new Proxy(a.limits, { get: (l, k) => (k === 'maxStorageBuffersPerShaderStage' ? 4 : Reflect.get(l, k, l)) });
        return new Proxy(a, { get: (x, k) => (k === 'limits' ? limits : Reflect.get(x, k, x)) });
      };
    }) });
    await page.waitForFunction(() => (document.getElementById('error')!.textContent ?? '') !== '');
    t.match(await page.$eval('#error', (e) => e.textContent),
      /^this GPU adapter \(.+\) is too small for wgpt: it allows 4 storage buffers per shader stage, where wgpt's kernels need 8$/);
  });

  t.test('a dropped model finetuned on a dropped file in the page is downloaded, and wgpt generate loads it', async (t) => {
    // A micro model as `wgpt train` writes one (model.safetensors + config.json) and 10 entries (one
    // batch of 8 to train on, one held out): on SwiftShader a step through a 50257-token head takes
    // most of a minute, so its head spans only the data's tokens (outputVocab, kept in config.json).
    const dir = mkdtempSync('/tmp/wgpt-browser-');
    const entries = Array.from({ length: 10 }, (_, i) => ({ instruction: `Add ${i} and 1.`, input: '', output: `${i + 1}` }));
    await openDevice();
    const micro = randomGPT({ vocabSize: 50257, contextLength: 64, dModel: 32, nLayers: 1, nHeads: 2, layerNormEps: 1e-5,
      dropout: 0, tiedHead: true, outputVocab: outputVocabOf(entries, 'alpaca') }, 5);
    await saveGPT(micro, dir);
    micro.dispose();
    writeFileSync(`${dir}/data.json`, JSON.stringify(entries));
    const { page, errors } = await openPage(t, browser);
    const input = (await page.$('#files')) as ElementHandle<HTMLInputElement>;
    await input.uploadFile(`${dir}/model.safetensors`, `${dir}/config.json`, `${dir}/data.json`);
    await page.waitForFunction(() => !(document.getElementById('finetune') as HTMLButtonElement).disabled);
    await page.click('#finetune');
    await page.waitForFunction(() => !document.getElementById('download-model')!.hidden ||
      document.getElementById('error')!.textContent !== '', { timeout: 0, polling: 1000 });
    t.equal(await page.$eval('#error', (e) => e.textContent), '', 'no error');
    // The two downloads, as the browser would save them.
    const files = await page.evaluate(async () => Promise.all(['download-model', 'download-config'].map(async (id) =>
      Array.from(new Uint8Array(await (await fetch((document.getElementById(id) as HTMLAnchorElement).href)).arrayBuffer())))));
    const out = path.join(dir, 'downloaded');
    mkdirSync(out);
    writeFileSync(path.join(out, 'model.safetensors'), Uint8Array.from(files[0]));
    writeFileSync(path.join(out, 'config.json'), Uint8Array.from(files[1]));
    t.not(Buffer.compare(readFileSync(`${dir}/model.safetensors`), Buffer.from(files[0])), 0, 'the download holds the trained weights');
    const cli = path.join(import.meta.dirname, '..', 'bin', 'wgpt.js');
    const r = spawnSync(process.execPath, [cli, 'generate', '--model', out, '--prompt', 'Add 2 and 1.', '--max-new-tokens', '3'],
      { encoding: 'utf8', timeout: 120_000, env: { ...process.env, WGPT_TUNE: 'off' } });
    t.equal(r.status, 0, r.stderr);
    t.match(r.stderr, /3 tokens in/, 'wgpt generate ran the downloaded model');
    t.same(errors, [], 'no console error');
  });

  t.test('a dropped bad file is refused in one sentence and what was accepted stays', async (t) => {
    const { page } = await openPage(t, browser);
    const input = (await page.$('#files')) as ElementHandle<HTMLInputElement>;
    const dir = mkdtempSync('/tmp/wgpt-browser-');
    writeFileSync(`${dir}/data.json`, JSON.stringify([{ instruction: 'Say hi', input: '', output: 'hi' }]));
    writeFileSync(`${dir}/model.safetensors`, 'not a model');
    await input.uploadFile(`${dir}/data.json`);
    await page.waitForFunction(() => /data\.json \(1 entries\)/.test(document.getElementById('dropped')!.textContent ?? ''));
    await input.uploadFile(`${dir}/model.safetensors`);
    await page.waitForFunction(() => (document.getElementById('error')!.textContent ?? '') !== '');
    t.match(await page.$eval('#error', (e) => e.textContent), /^model\.safetensors: .*not a safetensors file/);
    t.match(await page.$eval('#dropped', (e) => e.textContent), /data\.json \(1 entries\)/, 'the instruction file stays');
  });
}
