// Headless Chromium on SwiftShader, driven by puppeteer-core (the system's /usr/bin/chromium; no
// browser download): the browser tests open the page `wgpt web` serves in it.
import { existsSync } from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import type { Test } from 'tap';
import { servePage } from '../../web/serve.ts';

export const CHROMIUM = '/usr/bin/chromium';

/** Why the browser tests cannot run here, or null where they can. */
export function browserMissing(): string | null {
  return existsSync(CHROMIUM) ? null : `no ${CHROMIUM}: bash scripts/setup.sh --browser installs chromium (CI does)`;
}

export async function launch(t: Test): Promise<Browser> {
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--enable-features=Vulkan'],
  });
  t.teardown(() => browser.close());
  return browser;
}

/** A tab on the page (served for this test), its console errors collected. */
export async function openPage(t: Test, browser: Browser,
  options: { run?: string; entry?: string; beforeLoad?: (page: Page) => Promise<unknown> } = {}):
  Promise<{ page: Page; errors: string[]; url: string }> {
  const server = await servePage({ port: 0, run: options.run ?? null, entry: options.entry });
  t.teardown(() => server.close());
  const page = await browser.newPage();
  t.teardown(() => page.close());
  await options.beforeLoad?.(page);
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(server.url);
  return { page, errors, url: server.url };
}
