// A directory replaced in one atomic step, so a crash (power, SIGKILL, OOM) at any point of a save
// leaves either the previous copy or the new one under its name, never neither.
//
// Layout: `dir` is a symbolic link to a generation `dir.<n>` beside it. A save writes `dir.<n+1>`,
// fsyncs its files, marks it complete, fsyncs it and its parent, makes a new link `dir.link-<pid>`
// and renames that link over `dir`: rename(2) replaces the link atomically, so readers of
// `dir/state.json` see one generation or the other. The previous generation is removed afterwards.
// Anything a crash leaves behind (an unmarked generation, a stray link, a generation no longer
// pointed to) is cleaned up by `recoverDir` before the next save and on `--resume`.
//
// Older runs kept `dir` as a real directory and swapped it with two renames (`dir.old-<pid>`,
// `dir.tmp-<pid>`); `recoverDir` adopts such a directory (and finishes a swap that crashed between
// those renames) as generation 0.
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { WgptError } from '../../engine/index.ts';
import { setting } from '../../engine/settings.ts';

/** Written last into a generation, after its files are on disk. */
const COMPLETE = '.complete';

/** Test hook: WGPT_TEST_PAUSE_SAVE=<point> stops a save at that point (written, linked, renamed)
 *  and reports it on stderr, so a test can SIGKILL the process there. */
async function pausePoint(point: string): Promise<void> {
  if (setting('WGPT_TEST_PAUSE_SAVE') !== point) return;
  process.stderr.write(`wgpt: paused at save point ${point}\n`);
  await new Promise(() => setInterval(() => {}, 60_000));
}

async function fsyncPath(p: string): Promise<void> {
  const fh = await fsp.open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsyncs every file under `dir`, then `dir` itself. */
async function fsyncTree(dir: string): Promise<void> {
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await fsyncTree(p);
    else if (e.isFile()) await fsyncPath(p);
  }
  await fsyncPath(dir);
}

/** Generation numbers present beside `dir`. */
async function generations(dir: string): Promise<number[]> {
  const base = path.basename(dir);
  const names = await fsp.readdir(path.dirname(dir)).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [] as string[];
    throw e;
  });
  return names.flatMap((n) => {
    const m = /^(.*)\.(\d+)$/.exec(n);
    return m && m[1] === base ? [Number(m[2])] : [];
  }).sort((a, b) => a - b);
}

/** The generation `dir` points to, null when `dir` is absent, 'directory' for the old layout. */
async function current(dir: string): Promise<number | null | 'directory'> {
  const st = await fsp.lstat(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw e;
  });
  if (!st) return null;
  if (st.isDirectory()) return 'directory';
  if (!st.isSymbolicLink()) throw new WgptError(`${dir} is neither a checkpoint directory nor a link to one; move it away`);
  const target = await fsp.readlink(dir);
  const m = /\.(\d+)$/.exec(target);
  if (!m || target !== `${path.basename(dir)}.${m[1]}`) throw new WgptError(
    `${dir} points to ${target}, not to a checkpoint generation beside it; move it away`);
  return Number(m[1]);
}

async function pointTo(dir: string, gen: number): Promise<void> {
  const link = `${dir}.link-${process.pid}`;
  await fsp.rm(link, { force: true });
  await fsp.symlink(`${path.basename(dir)}.${gen}`, link);
  await fsyncPath(path.dirname(dir));
  await pausePoint('linked');
  await fsp.rename(link, dir); // the one atomic step
  await fsyncPath(path.dirname(dir));
}

/** Brings `dir` into a consistent state after a crash; returns what it did, one line each. */
export async function recoverDir(dir: string): Promise<string[]> {
  const done: string[] = [];
  const parent = path.dirname(dir);
  const base = path.basename(dir);
  let now = await current(dir);
  if (now === null) {
    // The old layout's swap crashed between its two renames: the new copy (tmp) was complete.
    const names = existsSync(parent) ? await fsp.readdir(parent) : [];
    const tmp = names.find((n) => n.startsWith(`${base}.tmp-`));
    const old = names.find((n) => n.startsWith(`${base}.old-`));
    if (old) {
      const from = tmp ?? old;
      await fsp.rename(path.join(parent, from), dir);
      done.push(`recovered ${dir} from ${from} (a save was interrupted)`);
      now = 'directory';
    }
  }
  if (now === 'directory') {
    // Adopt the old layout as generation 0; until the link exists, recovery finds generation 0.
    const gen0 = `${dir}.0`;
    await fsp.rm(gen0, { recursive: true, force: true });
    await fsp.writeFile(path.join(dir, COMPLETE), '');
    await fsyncTree(dir);
    await fsp.rename(dir, gen0);
    await pointTo(dir, 0);
    now = 0;
  }
  if (now === null) {
    // No link (a crash before one was ever renamed into place): the newest complete generation.
    const complete = [];
    for (const g of await generations(dir)) if (existsSync(path.join(`${dir}.${g}`, COMPLETE))) complete.push(g);
    if (complete.length > 0) {
      now = complete[complete.length - 1];
      await pointTo(dir, now);
      done.push(`recovered ${dir} from generation ${now} (a save was interrupted)`);
    }
  }
  // Leftovers: generations not pointed to, stray links, the old layout's temporaries.
  const names = existsSync(parent) ? await fsp.readdir(parent) : [];
  for (const n of names) {
    const m = /^(.*)\.(\d+|link-\d+|tmp-\d+|old-\d+)$/.exec(n);
    if (!m || m[1] !== base || n === `${base}.${now}`) continue;
    await fsp.rm(path.join(parent, n), { recursive: true, force: true });
  }
  return done;
}

/** Replaces `dir` by what `write` puts into a fresh directory beside it, in one atomic rename. */
export async function replaceDirAtomically(dir: string, write: (tmp: string) => Promise<void>): Promise<void> {
  await recoverDir(dir);
  const prev = await current(dir);
  const gens = await generations(dir);
  const gen = Math.max(typeof prev === 'number' ? prev : 0, ...gens) + 1;
  const next = `${dir}.${gen}`;
  try {
    await fsp.mkdir(next, { recursive: true });
    await write(next);
    await fsyncTree(next);
    await fsp.writeFile(path.join(next, COMPLETE), '');
    await fsyncPath(path.join(next, COMPLETE));
    await fsyncPath(next);
  } catch (e) {
    await fsp.rm(next, { recursive: true, force: true });
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOSPC') throw new WgptError(`no space left on the device while saving ${dir}; the previous copy is kept`);
    throw e;
  }
  await pausePoint('written');
  await pointTo(dir, gen);
  await pausePoint('renamed');
  if (typeof prev === 'number') await fsp.rm(`${dir}.${prev}`, { recursive: true, force: true });
}
