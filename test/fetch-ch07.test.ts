import t from 'tap';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CH07_SHA256, DATASETS, defaultDataCacheDir, fetchCh07, fetchDataset, loadCh07, sha256 } from '../train/data/datasets.ts';

const SHARED = fileURLToPath(new URL('../../shared/data/instruction-data.json', import.meta.url));
const skip = existsSync(SHARED) ? false : `reference file absent: ${SHARED}`;
const SHARED_DPO = fileURLToPath(new URL('../../shared/data/instruction-data-with-preference.json', import.meta.url));
const skipDpo = existsSync(SHARED_DPO) ? false : `reference file absent: ${SHARED_DPO}`;

async function serve(body: Buffer): Promise<{ url: string; hits: () => number; server: Server }> {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/instruction-data.json`, hits: () => hits, server };
}

t.test('the pinned hash is the shared file', { skip }, async (t) => {
  t.equal(sha256(readFileSync(SHARED)), CH07_SHA256);
});

t.test('downloads, verifies, caches', { skip }, async (t) => {
  const { url, hits, server } = await serve(readFileSync(SHARED));
  t.teardown(() => server.close());
  const cacheDir = join(mkdtempSync(join(tmpdir(), 'wgpt-cache-')), 'data');
  const path = await fetchCh07({ cacheDir, url });
  t.equal(path, join(cacheDir, 'instruction-data.json'));
  t.equal(sha256(readFileSync(path)), CH07_SHA256);
  t.same(readdirSync(cacheDir), ['instruction-data.json'], 'no temp file left');
  t.equal(hits(), 1);
  const entries = await loadCh07({ cacheDir, url });
  t.equal(entries.length, 1100);
  t.equal(hits(), 1, 'second use is served from the cache');
  // A damaged cache file is replaced.
  writeFileSync(path, '[]');
  await fetchCh07({ cacheDir, url });
  t.equal(hits(), 2);
  t.equal(sha256(readFileSync(path)), CH07_SHA256);
});

t.test('environment overrides', { skip }, async (t) => {
  const { url, hits, server } = await serve(readFileSync(SHARED));
  const root = mkdtempSync(join(tmpdir(), 'wgpt-root-'));
  const saved = { c: process.env.WGPT_CACHE, u: process.env.WGPT_CH07_URL };
  t.teardown(() => {
    server.close();
    for (const [k, v] of [['WGPT_CACHE', saved.c], ['WGPT_CH07_URL', saved.u]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  process.env.WGPT_CACHE = root;
  process.env.WGPT_CH07_URL = url;
  t.equal(defaultDataCacheDir(), join(root, 'data'));
  const path = await fetchCh07();
  t.equal(path, join(root, 'data', 'instruction-data.json'));
  t.equal(hits(), 1);
});

t.test('corrupted bytes: sha256 error, nothing cached', { skip }, async (t) => {
  const bytes = Buffer.from(readFileSync(SHARED));
  bytes[100] ^= 0x01;
  const { url, server } = await serve(bytes);
  t.teardown(() => server.close());
  const cacheDir = join(mkdtempSync(join(tmpdir(), 'wgpt-cache-')), 'data');
  await t.rejects(fetchCh07({ cacheDir, url }), /sha256 mismatch for the chapter 7 data .*expected 7e09a9af/);
  t.equal(existsSync(cacheDir) ? readdirSync(cacheDir).length : 0, 0, 'cache left empty');
});

t.test('HTTP and connection errors are clear', async (t) => {
  const server = createServer((_q, res) => {
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const cacheDir = mkdtempSync(join(tmpdir(), 'wgpt-cache-'));
  await t.rejects(fetchCh07({ cacheDir, url: `http://127.0.0.1:${port}/x` }), /HTTP 404/);
  await new Promise((r) => server.close(r));
  await t.rejects(fetchCh07({ cacheDir, url: `http://127.0.0.1:${port}/x` }),
    /cannot download the chapter 7 data from http:\/\/127\.0\.0\.1/);
});

t.test('ch07-dpo: the preference data set from the same table (hash, cache, env override, mismatch)', { skip: skipDpo }, async (t) => {
  t.equal(sha256(readFileSync(SHARED_DPO)), DATASETS['ch07-dpo'].sha256, 'the pinned hash is the shared file');
  t.match(DATASETS['ch07-dpo'].url, /04_preference-tuning-with-dpo\/instruction-data-with-preference\.json$/);
  const { url, hits, server } = await serve(readFileSync(SHARED_DPO));
  const saved = process.env.WGPT_CH07_DPO_URL;
  t.teardown(() => {
    server.close();
    if (saved === undefined) delete process.env.WGPT_CH07_DPO_URL;
    else process.env.WGPT_CH07_DPO_URL = saved;
  });
  const cacheDir = join(mkdtempSync(join(tmpdir(), 'wgpt-cache-')), 'data');
  process.env.WGPT_CH07_DPO_URL = url;
  const path = await fetchDataset('ch07-dpo', { cacheDir });
  t.equal(path, join(cacheDir, 'instruction-data-with-preference.json'));
  t.equal(hits(), 1, 'fetched from the URL the environment names');
  const entries = JSON.parse(readFileSync(path, 'utf8'));
  t.equal(entries.length, 1100);
  t.ok(typeof entries[0].chosen === 'string' && typeof entries[0].rejected === 'string', 'entries have chosen and rejected');
  await fetchDataset('ch07-dpo', { cacheDir });
  t.equal(hits(), 1, 'second use is served from the cache');
  const bad = Buffer.from(readFileSync(SHARED_DPO));
  bad[10] ^= 1;
  const other = await serve(bad);
  t.teardown(() => other.server.close());
  const empty = join(mkdtempSync(join(tmpdir(), 'wgpt-cache-')), 'data');
  await t.rejects(fetchDataset('ch07-dpo', { cacheDir: empty, url: other.url }),
    /sha256 mismatch for the chapter 7 preference data .*expected 305315ab.*nothing was saved/);
  t.notOk(existsSync(empty), 'nothing cached');
});
