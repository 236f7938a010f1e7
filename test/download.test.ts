// downloadModel against a hub imitation on 127.0.0.1: /openai-community/NAME/resolve/main/FILE
// answers 302 with X-Linked-ETag (sha256) like huggingface.co, and /cdn/FILE serves the bytes
// with Range support. Knobs let a test cut the connection, lie about the sha, or 404.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { defaultModelDir, downloadModel } from '../model/download.ts';

const body = randomBytes(3 * 1024 * 1024 + 123);
const config = Buffer.from(JSON.stringify({ model_type: 'gpt2', n_embd: 768, n_layer: 12, n_head: 12 }));
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Knobs { cutAfter?: number; cuts: number; badSha?: boolean; missing?: boolean; ranges: (string | undefined)[] }
let knobs: Knobs = { cuts: 0, ranges: [] };

const server = http.createServer((req, res) => {
  const url = req.url ?? '';
  const m = /^\/openai-community\/([\w-]+)\/resolve\/main\/(model\.safetensors|config\.json)$/.exec(url);
  if (m) {
    if (knobs.missing) { res.writeHead(404).end('Entry not found'); return; }
    const data = m[2] === 'config.json' ? config : body;
    const headers: Record<string, string> = { location: `/cdn/${m[2]}` };
    // The hub gives a sha256 X-Linked-ETag for LFS files only; config.json gets a git sha1 etag.
    if (m[2] === 'model.safetensors') headers['x-linked-etag'] = `"${knobs.badSha ? sha(Buffer.from('x')) : sha(data)}"`;
    else headers.etag = '"' + 'a'.repeat(40) + '"';
    res.writeHead(302, headers).end();
    return;
  }
  const data = url === '/cdn/config.json' ? config : url === '/cdn/model.safetensors' ? body : undefined;
  if (!data) { res.writeHead(404).end(); return; }
  if (data === body) knobs.ranges.push(req.headers.range);
  const r = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const start = r ? Number(r[1]) : 0;
  if (r) {
    res.writeHead(206, { 'content-length': data.length - start, 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` });
  } else {
    res.writeHead(200, { 'content-length': data.length });
  }
  if (data === body && knobs.cutAfter !== undefined && knobs.cuts > 0) {
    knobs.cuts--;
    // Send part of the body, then drop the connection mid-transfer.
    res.write(data.subarray(start, start + knobs.cutAfter), () => setTimeout(() => res.socket?.destroy(), 20));
    return;
  }
  res.end(data.subarray(start));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'wgpt-dl-'));
t.teardown(async () => {
  server.close();
  await fsp.rm(root, { recursive: true, force: true });
});
const quiet = { endpoint, progressBar: false, retryDelayMs: 10 };

t.test('full download: both files, byte-identical, progress reported', async (t) => {
  knobs = { cuts: 0, ranges: [] };
  const dir = path.join(root, 'full');
  let last = 0;
  let total: number | undefined;
  const got = await downloadModel('gpt2', { ...quiet, dir,
    onProgress: (p) => { if (p.file === 'model.safetensors') { last = p.doneBytes; total = p.totalBytes; } } });
  t.equal(got, dir);
  t.ok((await fsp.readFile(path.join(dir, 'model.safetensors'))).equals(body));
  t.ok((await fsp.readFile(path.join(dir, 'config.json'))).equals(config));
  t.same(await fsp.readdir(dir).then((f) => f.sort()), ['config.json', 'model.safetensors'], 'no .partial left');
  t.equal(last, body.length);
  t.equal(total, body.length);
  t.same(knobs.ranges, [undefined], 'one plain GET');
  await downloadModel('gpt2', { ...quiet, dir });
  t.equal(knobs.ranges.length, 1, 'already cached: nothing fetched again');
});

t.test('a dropped connection resumes with a Range request', async (t) => {
  const cutAfter = 1_000_000;
  knobs = { cutAfter, cuts: 1, ranges: [] };
  const dir = path.join(root, 'resume');
  await downloadModel('gpt2-medium', { ...quiet, dir });
  t.ok((await fsp.readFile(path.join(dir, 'model.safetensors'))).equals(body), 'byte-identical after resume');
  t.equal(knobs.ranges.length, 2);
  t.equal(knobs.ranges[0], undefined);
  t.match(knobs.ranges[1], /^bytes=\d+-$/);
  const from = Number(/\d+/.exec(knobs.ranges[1]!)![0]);
  t.ok(from > 0 && from <= cutAfter, `resumed from byte ${from} (cut after ${cutAfter})`);
  t.notOk(await fsp.stat(path.join(dir, 'model.safetensors.partial')).catch(() => undefined));
});

t.test('a .partial from an earlier run is resumed, and too many drops keep it for next time', async (t) => {
  knobs = { cutAfter: 500_000, cuts: 3, ranges: [] };
  const dir = path.join(root, 'later');
  await t.rejects(downloadModel('gpt2', { ...quiet, dir, retries: 2 }), /failed after 2 attempts.*model\.safetensors\.partial is kept/s);
  const kept = (await fsp.stat(path.join(dir, 'model.safetensors.partial'))).size;
  t.ok(kept > 0 && kept < body.length, `kept ${kept} bytes`);
  knobs.cuts = 0;
  knobs.ranges = [];
  await downloadModel('gpt2', { ...quiet, dir });
  t.same(knobs.ranges, [`bytes=${kept}-`]);
  t.ok((await fsp.readFile(path.join(dir, 'model.safetensors'))).equals(body));
});

t.test('sha256 mismatch: clear error, no final file, no partial', async (t) => {
  knobs = { cuts: 0, ranges: [], badSha: true };
  const dir = path.join(root, 'badsha');
  await t.rejects(downloadModel('gpt2', { ...quiet, dir }),
    new RegExp(`sha256 mismatch: server says ${sha(Buffer.from('x'))}, file has ${sha(body)}`));
  t.same(await fsp.readdir(dir), ['config.json'], 'only the verified config.json is there');
});

t.test('404 and unknown names are clear errors', async (t) => {
  knobs = { cuts: 0, ranges: [], missing: true };
  const dir = path.join(root, 'missing');
  await t.rejects(downloadModel('gpt2-xl', { ...quiet, dir }), /openai-community\/gpt2-xl\/resolve\/main\/config\.json: HTTP 404/);
  t.same(await fsp.readdir(dir), []);
  await t.rejects(downloadModel('gpt5', quiet), /unknown model 'gpt5'; available: gpt2, gpt2-medium, gpt2-large, gpt2-xl/);
});

t.test('HF_ENDPOINT and WGPT_CACHE are honoured', async (t) => {
  knobs = { cuts: 0, ranges: [] };
  const saved = { e: process.env.HF_ENDPOINT, c: process.env.WGPT_CACHE };
  process.env.HF_ENDPOINT = endpoint;
  process.env.WGPT_CACHE = path.join(root, 'cache');
  t.teardown(() => {
    for (const [k, v] of [['HF_ENDPOINT', saved.e], ['WGPT_CACHE', saved.c]] as const) {
      if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  });
  t.equal(defaultModelDir('gpt2-large'), path.join(root, 'cache', 'models', 'gpt2-large'));
  const dir = await downloadModel('gpt2-large', { progressBar: false });
  t.equal(dir, path.join(root, 'cache', 'models', 'gpt2-large'));
  t.ok((await fsp.readFile(path.join(dir, 'model.safetensors'))).equals(body));
});
