// `wgpt bench adapters`: the software adapters side by side on this machine, each named with its
// Mesa version: GL llvmpipe on the system's Mesa, and, where scripts/mesa-copy.sh has made the copy
// in .mesa/, GL llvmpipe and lavapipe on that Mesa (without the copy: lavapipe on the system's Mesa,
// where it is >= 24). Each runs in a process of its own (the Mesa a process loads is fixed when it
// starts): the matmul at 1024³ and GPT-2 small's qkv shape in the three forms (bench/matmul.ts)
// and a `small` training step, full and LoRA (`wgpt bench step --configs small --no-peers`).
// The adapters run one after another, so load may differ between columns: the load average at
// each start is printed. WGPT_TUNE passes through (off: the built-in kernels on every adapter).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MatmulRow } from './matmul.ts';
import type { BenchRow } from './common.ts';

const root = path.join(import.meta.dirname, '..');

interface Setup {
  backend: 'software' | 'lavapipe';
  /** A file to source before the process starts (the Mesa copy's env.sh), or none. */
  source: string | null;
}

export interface AdapterColumn {
  /** Backend and Mesa version, e.g. "lavapipe, Mesa 25.0.7". */
  label: string;
  adapter: string;
  load_avg: number[];
  /** Case -> figure: GFLOP/s for matmul rows, ms per step for the step rows (full and LoRA). */
  figures: Record<string, number>;
  error?: string;
}

function setups(): Setup[] {
  const copy = path.join(root, '.mesa', 'env.sh');
  if (existsSync(copy)) return [{ backend: 'software', source: null }, { backend: 'software', source: copy },
    { backend: 'lavapipe', source: copy }];
  return [{ backend: 'software', source: null }, { backend: 'lavapipe', source: null }];
}

/** Runs a node command under the setup's environment; its stdout, or the reason it failed. */
function runIn(s: Setup, args: string[]): { ok: true; out: string } | { ok: false; error: string } {
  const env = { ...process.env, WGPT_BACKEND: s.backend };
  const r = s.source
    ? spawnSync('bash', ['-c', '. "$0" && exec "$@"', s.source, process.execPath, ...args], { cwd: root, env, encoding: 'utf8' })
    : spawnSync(process.execPath, args, { cwd: root, env, encoding: 'utf8' });
  if (r.status !== 0) return { ok: false, error: (r.stderr || r.stdout).trim().split('\n').pop() ?? `exit ${r.status}` };
  return { ok: true, out: r.stdout };
}

function mesaLabel(backend: string, adapter: string): string {
  const mesa = /Mesa (\d+\.\d+\.\d+)/.exec(adapter)?.[1];
  return `${backend === 'software' ? 'GL llvmpipe' : backend}, Mesa ${mesa ?? '?'}`;
}

export async function adaptersSuite(quick: boolean): Promise<AdapterColumn[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wgpt-bench-adapters-'));
  const columns: AdapterColumn[] = [];
  for (const [i, s] of setups().entries()) {
    const load = os.loadavg().map((x) => +x.toFixed(2));
    const mm = path.join(dir, `matmul-${i}.json`);
    const step = path.join(dir, `step-${i}.json`);
    const shapes = quick ? '1024³' : '1024³,qkv';
    const m = runIn(s, ['--import', 'tsx', 'bench/matmul.ts', '--quick', '--only', shapes, '--json', mm]);
    if (!m.ok) {
      columns.push({ label: `${s.backend}${s.source ? ' (Mesa copy)' : ''}`, adapter: '', load_avg: load, figures: {}, error: m.error });
      console.log(`${s.backend}: ${m.error}`);
      continue;
    }
    const st = runIn(s, ['bin/wgpt.js', 'bench', 'step', '--configs', 'small', '--no-peers', '--json', step]);
    const report = st.ok ? JSON.parse(readFileSync(step, 'utf8')) as { machine: { adapter: string }; results: BenchRow[] } : null;
    const adapter = report?.machine.adapter ?? /matmul on (.*) \(\w+\), median/.exec(m.out)?.[1] ?? '';
    const figures: Record<string, number> = {};
    for (const r of JSON.parse(readFileSync(mm, 'utf8')) as MatmulRow[]) {
      if (r.name !== 'naive 1024³') figures[`matmul ${r.name} ${r.mode}, GFLOP/s`] = r.gflops;
    }
    for (const r of report?.results ?? []) {
      // impl is `wgpt` or `wgpt LoRA r16`.
      if (String(r.impl).startsWith('wgpt') && r.ms !== undefined) figures[`${r.name} ${r.impl} ${r.variant ?? ''}, ms/step`] = r.ms;
    }
    const col: AdapterColumn = { label: mesaLabel(s.backend, adapter), adapter, load_avg: load, figures,
      error: st.ok ? undefined : `step: ${st.error}` };
    columns.push(col);
    console.log(`${col.label}: ${adapter} (load ${load.join(' ')})${col.error ? `; ${col.error}` : ''}`);
  }
  printTable(columns);
  return columns;
}

function printTable(columns: AdapterColumn[]): void {
  const cases = [...new Set(columns.flatMap((c) => Object.keys(c.figures)))];
  const w = Math.max(...cases.map((c) => c.length), 10) + 2;
  const cw = Math.max(...columns.map((c) => c.label.length), 10) + 2;
  console.log(`\n${'case'.padEnd(w)}${columns.map((c) => c.label.padStart(cw)).join('')}`);
  for (const k of cases) {
    console.log(k.padEnd(w) + columns.map((c) => (c.figures[k] === undefined ? '-' : c.figures[k].toFixed(2)).padStart(cw)).join(''));
  }
}

export function writeAdaptersJson(file: string, columns: AdapterColumn[]): void {
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), cpu: os.cpus()[0]?.model, cores: os.cpus().length,
    columns }, null, 2) + '\n');
}
