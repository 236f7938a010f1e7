// Fetches OpenAI's GPT-2 checkpoints from the Hugging Face hub (or a mirror) into a local cache:
//   ${endpoint}/openai-community/${name}/resolve/main/{model.safetensors, config.json}
// Downloads go to `<file>.partial` and resume with an HTTP Range request after a dropped
// connection (in the same call, with a few retries, or in a later call). The size is checked
// against Content-Length/Content-Range and, where the server names one, the sha256: the hub sends
// X-Linked-ETag (on the redirect) / ETag holding the sha256 of LFS files. Only a verified file is
// renamed to its final name.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { wgptCacheDir } from '../engine/cache-dir.ts';
import path from 'node:path';

export const HF_MODELS = ['gpt2', 'gpt2-medium', 'gpt2-large', 'gpt2-xl'] as const;
export type HFModelName = (typeof HF_MODELS)[number];

export interface DownloadProgress {
  file: string;
  doneBytes: number;
  /** Undefined while the server has not said. */
  totalBytes?: number;
}

export interface DownloadOptions {
  /** Directory for this model's files. Default: `${WGPT_CACHE ?? ~/.cache/wgpt}/models/NAME`. */
  dir?: string;
  /** Hub root; default `$HF_ENDPOINT` or https://huggingface.co. */
  endpoint?: string;
  onProgress?: (p: DownloadProgress) => void;
  /** Draw a progress bar on stderr; default: when stderr is a TTY. */
  progressBar?: boolean;
  /** Attempts per file when the connection drops (each resumes where the last stopped). */
  retries?: number;
  retryDelayMs?: number;
}

/** `${WGPT_CACHE ?? ~/.cache/wgpt}/models/NAME`, like HF_HOME's layout but ours. */
export function defaultModelDir(name: string): string {
  return path.join(wgptCacheDir(), 'models', name);
}

/** Downloads model.safetensors and config.json (skipping ones already there); returns the dir. */
export async function downloadModel(name: string, opts: DownloadOptions = {}): Promise<string> {
  if (!(HF_MODELS as readonly string[]).includes(name)) {
    throw new Error(`downloadModel: unknown model '${name}'; available: ${HF_MODELS.join(', ')}`);
  }
  const endpoint = (opts.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
  const dir = opts.dir ?? defaultModelDir(name);
  await fsp.mkdir(dir, { recursive: true });
  for (const file of ['config.json', 'model.safetensors']) {
    const dest = path.join(dir, file);
    if (await fsp.stat(dest).then((s) => s.isFile(), () => false)) continue;
    await downloadFile(`${endpoint}/openai-community/${name}/resolve/main/${file}`, dest, opts);
  }
  return dir;
}

/** A 64-hex-digit entity tag is taken to be a sha256 (the hub's LFS convention). */
function shaFromTag(tag: string | null): string | undefined {
  const m = tag && /^(?:W\/)?"?([0-9a-f]{64})"?$/i.exec(tag.trim());
  return m ? m[1].toLowerCase() : undefined;
}

/** GET with redirects followed by hand, so that X-Linked-ETag on the hub's 302 is not lost. */
async function get(url: string, headers: Record<string, string>): Promise<{ res: Response; sha?: string; url: string }> {
  let sha: string | undefined;
  for (let hop = 0; hop < 10; hop++) {
    const res = await fetch(url, { headers, redirect: 'manual' });
    sha ??= shaFromTag(res.headers.get('x-linked-etag'));
    const loc = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && loc) {
      await res.body?.cancel();
      url = new URL(loc, url).toString();
      continue;
    }
    sha ??= shaFromTag(res.headers.get('etag'));
    return { res, sha, url };
  }
  throw new Error(`too many redirects fetching ${url}`);
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Downloads one URL to `dest` via `dest.partial`, resuming, verifying, then renaming. */
export async function downloadFile(url: string, dest: string, opts: DownloadOptions = {}): Promise<void> {
  const partial = dest + '.partial';
  const label = path.basename(dest);
  const retries = opts.retries ?? 5;
  const bar = (opts.progressBar ?? process.stderr.isTTY) ? progressBar(label) : undefined;
  let lastError: unknown;
  for (let attempt = 0; attempt < retries; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, (opts.retryDelayMs ?? 1000) * attempt));
    const have = await fsp.stat(partial).then((s) => s.size, () => 0);
    let res: Response;
    let sha: string | undefined;
    try {
      ({ res, sha } = await get(url, have > 0 ? { range: `bytes=${have}-` } : {}));
    } catch (e) {
      lastError = e; // connection refused/reset before any headers: worth another try
      continue;
    }
    let start = 0;
    let total: number | undefined;
    if (res.status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      if (!m || Number(m[1]) !== have) {
        await res.body?.cancel();
        throw new Error(`${url}: asked for bytes ${have}- but got Content-Range '${res.headers.get('content-range')}'`);
      }
      start = have;
      if (m[3] !== '*') total = Number(m[3]);
    } else if (res.status === 416 && have > 0) {
      // The partial is as long as (or longer than) the file: start over rather than guess.
      await res.body?.cancel();
      await fsp.rm(partial, { force: true });
      attempt--;
      continue;
    } else if (res.status === 200) {
      const len = res.headers.get('content-length');
      if (len !== null) total = Number(len);
    } else {
      await res.body?.cancel();
      const err = new Error(`download ${url}: HTTP ${res.status} ${res.statusText}`);
      if (res.status >= 500) { lastError = err; continue; } // server trouble may pass
      throw err;
    }
    // 200 means the server ignored the range (or there was none): rewrite from byte 0.
    const fh = await fsp.open(partial, start > 0 ? 'a' : 'w');
    let done = start;
    try {
      if (!res.body) throw new Error(`download ${url}: empty response body`);
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        await fh.write(chunk);
        done += chunk.byteLength;
        opts.onProgress?.({ file: label, doneBytes: done, totalBytes: total });
        bar?.(done, total);
      }
    } catch (e) {
      lastError = e; // connection dropped: keep what arrived and resume on the next attempt
      continue;
    } finally {
      await fh.close();
    }
    if (total !== undefined && done !== total) {
      lastError = new Error(`download ${url}: got ${done} of ${total} bytes`);
      if (done > total) await fsp.rm(partial, { force: true });
      continue;
    }
    bar?.(done, total, true);
    if (sha) {
      const got = await sha256File(partial);
      if (got !== sha) {
        await fsp.rm(partial, { force: true });
        throw new Error(`download ${url}: sha256 mismatch: server says ${sha}, file has ${got}; partial download deleted`);
      }
    }
    await fsp.rename(partial, dest);
    return;
  }
  throw new Error(`download ${url}: failed after ${retries} attempts (${(lastError as Error)?.message ?? lastError}); ` +
    `${partial} is kept and the next call resumes it`);
}

/** A one-line stderr progress bar, redrawn at most 10 times a second. */
function progressBar(label: string): (done: number, total?: number, final?: boolean) => void {
  const t0 = Date.now();
  let last = 0;
  return (done, total, final = false) => {
    const now = Date.now();
    if (!final && now - last < 100) return;
    last = now;
    const mb = (n: number): string => (n / 1e6).toFixed(1);
    const rate = done / Math.max(0.001, (now - t0) / 1000);
    const width = 30;
    const frac = total ? Math.min(1, done / total) : 0;
    const fill = Math.round(frac * width);
    const pct = total ? `${(frac * 100).toFixed(0).padStart(3)}%` : '   ?';
    process.stderr.write(`\r${label} [${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${pct} ` +
      `${mb(done)}/${total ? mb(total) : '?'} MB ${mb(rate)} MB/s${final ? '\n' : ''}`);
  };
}
