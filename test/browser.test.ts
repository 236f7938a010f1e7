// The engine in a real browser: headless Chromium on SwiftShader (puppeteer-core driving the
// system's /usr/bin/chromium). Skipped, saying why, where chromium is not installed
// (bash scripts/setup.sh --browser; CI installs it). SwiftShader runs a step of `tiny` in tens of
// seconds on this machine's CPUs, so the checks are few and the page's run is its small preset.
/// <reference lib="dom" />
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { ElementHandle } from 'puppeteer-core';
import t from 'tap';
import { openDevice } from '../engine/index.ts';
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
