// Writes `wgpt bench` results: JSON ({date, machine, peak, results: rows}) and a markdown report with
// one table per suite and a chart (SVG, and PNG where @resvg/resvg-js is installed) beside it.
import path from 'node:path';
import { promises as fsp } from 'node:fs';
import { barChart, writeChart } from '../train/run/charts.ts';
import { fmt, type BenchRow, type Machine } from './common.ts';

export interface BenchReport {
  date: string;
  command: string;
  quick: boolean;
  machine: Machine;
  /** Matmul peak the MFU figures use, and where it came from. */
  peak: { gflops: number; source: string };
  /** Wall time of the whole suite, in seconds. */
  seconds: number;
  results: BenchRow[];
}

export async function writeJson(file: string, report: BenchReport): Promise<void> {
  await fsp.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await fsp.writeFile(file, JSON.stringify(report, null, 2) + '\n');
}

type Column = [string, (r: BenchRow) => string];

const mb = (b: number | undefined): string => (b === undefined ? '' : `${(b / 2 ** 20).toFixed(0)} MiB`);

const COLUMNS: Column[] = [
  ['name', (r) => r.name],
  ['impl', (r) => r.impl],
  ['case', (r) => r.variant ?? ''],
  ['mode', (r) => r.mode ?? ''],
  ['m×n×k', (r) => (r.m !== undefined ? `${r.m}×${r.n}×${r.k}` : '')],
  ['ms (median)', (r) => (r.error ? '' : fmt(r.ms))],
  ['min .. max', (r) => (r.ms_min !== undefined ? `${fmt(r.ms_min)} .. ${fmt(r.ms_max)}` : '')],
  ['cpu ms', (r) => fmt(r.cpu_ms)],
  ['compile ms', (r) => fmt(r.compile_ms)],
  ['GFLOP/s', (r) => (r.gflops !== undefined ? r.gflops.toFixed(2) : '')],
  ['GB/s', (r) => (r.gbps !== undefined ? r.gbps.toFixed(2) : '')],
  ['tokens/s', (r) => (r.tokens_per_s !== undefined ? r.tokens_per_s.toFixed(1) : '')],
  ['MFU', (r) => (r.mfu !== undefined ? `${(100 * r.mfu).toFixed(0)}%` : '')],
  ['loss', (r) => (r.loss !== undefined ? r.loss.toFixed(6) : '')],
  ['loss (last)', (r) => (r.loss_last !== undefined ? r.loss_last.toFixed(6) : '')],
  ['peak GPU', (r) => mb(r.peak_bytes)],
  ['buffers created / step', (r) => (r.buffers_created !== undefined ? String(r.buffers_created) : '')],
  ['submits / step', (r) => (r.submits !== undefined ? String(r.submits) : '')],
  ['dispatches / step', (r) => (r.dispatches !== undefined ? String(r.dispatches) : '')],
  ['wgpt speed-up (×)', (r) => (r.ratio !== undefined ? r.ratio.toFixed(2) : '')],
  ['notes', (r) => [r.error, r.note].filter(Boolean).join('; ')],
];

export function markdownTable(rows: BenchRow[]): string {
  const cols = COLUMNS.filter(([, f]) => rows.some((r) => f(r) !== ''));
  const esc = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines = [`| ${cols.map((c) => c[0]).join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`];
  for (const r of rows) lines.push(`| ${cols.map(([, f]) => esc(f(r))).join(' | ')} |`);
  return lines.join('\n');
}

/** Column order of the side-by-side tables; implementations not listed follow in order of appearance. */
const IMPL_ORDER = ['wgpt', 'jax-js', 'tfjs-webgpu', 'torch-cpu', 'torch-cuda'];

/**
 * One line per case (name, mode, shape), one column per implementation, `value` in each cell; a
 * row that did not run shows the first word of its error (missing, skipped, ...). Cases only wgpt
 * ran are left out: the detailed table below has them.
 */
export function sideBySide(rows: BenchRow[], value: (r: BenchRow) => string): string {
  const key = (r: BenchRow): string => [r.name, r.mode, r.m !== undefined ? `${r.m}×${r.n}×${r.k}` : r.variant].filter(Boolean).join(' ');
  const measured = rows.filter((r) => r.impl !== 'peers' && !r.variant?.includes('naive'));
  const impls = [...new Set(measured.map((r) => String(r.impl)))].sort((a, b) => rank(a) - rank(b));
  const cases = [...new Set(measured.map(key))].filter((c) => new Set(measured.filter((r) => key(r) === c).map((r) => r.impl)).size > 1);
  if (cases.length === 0 || impls.length < 2) return '';
  const cell = (c: string, impl: string): string => {
    const r = measured.find((x) => key(x) === c && x.impl === impl)
      // A peer that failed to start is one row with no shape: say so in every cell of its column.
      ?? measured.find((x) => x.impl === impl && x.error?.startsWith('missing'));
    if (!r) return '';
    return r.error ? r.error.split(/[:(]/)[0].trim() : value(r);
  };
  const lines = [`| case | ${impls.join(' | ')} |`, `|---|${impls.map(() => '---:').join('|')}|`];
  for (const c of cases) lines.push(`| ${c} | ${impls.map((i) => cell(c, i)).join(' | ')} |`);
  return lines.join('\n');
}

function rank(impl: string): number {
  const i = IMPL_ORDER.indexOf(impl);
  return i < 0 ? IMPL_ORDER.length : i;
}

/** The figure each suite's side-by-side table shows. */
const SIDE_BY_SIDE: Record<string, [string, (r: BenchRow) => string]> = {
  matmul: ['GFLOP/s (higher is better)', (r) => (r.gflops !== undefined ? r.gflops.toFixed(2) : '')],
  step: ['ms per step, median (lower is better); first-step loss in brackets',
    (r) => (r.ms !== undefined ? `${fmt(r.ms)}${r.loss !== undefined ? ` (${r.loss.toFixed(6)})` : ''}` : '')],
};

const SUITES: [string, string, string][] = [
  ['matmul', 'Matmul', 'GFLOP/s = 2·m·n·k / median time. The speed-up on a peer row is the peer\'s median ms over wgpt\'s at the same ' +
    'shape and mode (> 1: wgpt is faster). MFU is over the best wgpt matmul GFLOP/s of this run. The Conv1D layers store W as [in, out]; ' +
    'the LM head is the tied wte, [50257, 768], multiplied as the model does (logits x·Wᵀ, dx = dy·W, dW = dyᵀ·x).'],
  ['dispatch', 'Dispatch cost', 'Per dispatch, 2000 recorded into one submit. The bare Dawn row is the baseline: the same one-workgroup ' +
    'dispatch written against Dawn directly (one bind group, no engine), in rounds interleaved with wgpt\'s; its speed-up figure is its ' +
    'time over wgpt\'s in those rounds.'],
  ['attention', 'Attention', 'q/k/v [1, 12, T, 64]. FLOPs count the full T² (no causal halving): forward 4·B·H·T²·Dh, backward ' +
    '8·B·H·T²·Dh. The speed-up on a causalSelfAttention row is attentionComposed\'s median ms over its own at the same T and pass.'],
  ['cross-entropy', 'Cross-entropy', 'Logits [N, 50257], forward + backward. The speed-up on the fused row is the composed form\'s ' +
    'median ms over the fused one\'s at the same N.'],
  ['step', 'Training step', 'Forward + backward + AdamW (lr 1e-4, weight decay 0.1) on the same seeded weights and batch for every ' +
    'implementation; equal first-step losses show equal work. The speed-up on a peer row is that peer\'s median ms per step over ' +
    'wgpt\'s; on the LoRA row (rank 16 on attn+mlp, the base frozen, same weights and batch) it is the full-finetuning step\'s time over ' +
    'LoRA\'s. MFU: model matmul FLOPs per step (6·tokens·params in matmuls + 12·L·B·T²·D attention) over the matmul peak (both measured ' +
    'in this run, under whatever load the machine had then: above 100% means the load fell). `loss (last)` is the loss of the last timed ' +
    'step, after (1 warm-up + timed steps − 1) updates, so it differs between implementations run for different numbers of steps.'],
  ['generate', 'Generation', 'Greedy, random weights, 8-token prompt, 16 new tokens. The speed-up on a KV-cache row is the no-cache ' +
    'median over the cached one.'],
];

export async function writeMarkdown(file: string, report: BenchReport): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  await fsp.mkdir(dir, { recursive: true });
  const m = report.machine;
  const out: string[] = [
    '# wgpt benchmark results',
    '',
    `Generated ${report.date} by \`${report.command}\`${report.quick ? ' (quick)' : ''} in ${(report.seconds / 60).toFixed(1)} min.`,
    '',
    `- **Adapter**: ${m.adapter} — ${m.backend}`,
    `- **CPU**: ${m.cpu_class ?? m.cpu} × ${m.cores} cores, ${m.memory_gib} GiB; ${m.platform}; Node ${m.node}`,
    ...(m.kernels ? [`- **Kernels**: ${m.kernels}`] : []),
    `- **Load average at start**: ${m.load_avg.join(', ')} (other processes may share these cores: compare rows of one run only; ` +
      `\`cpu ms\` is the process CPU time per operation, which competition does not inflate)`,
    `- **Matmul peak for MFU**: ${report.peak.gflops.toFixed(2)} GFLOP/s (${report.peak.source})`,
    '- **Figures**: median of several timed runs after warm-up, with min and max; ratios are wgpt\'s speed-up: the baseline\'s median ' +
      'time over wgpt\'s (> 1 means wgpt is faster); each section names its baseline.',
    '',
  ];
  const charts = await writeCharts(dir, report.results);
  for (const c of charts) out.push(`![${c.title}](${c.file})`, '');
  const used = new Set<BenchRow>();
  for (const [prefix, title, note] of SUITES) {
    const rows = report.results.filter((r) => r.name.split('/')[0] === prefix || (prefix === 'matmul' && r.name === 'matmul/other-shapes'));
    if (rows.length === 0) continue;
    rows.forEach((r) => used.add(r));
    out.push(`## ${title}`, '', note, '');
    const side = SIDE_BY_SIDE[prefix];
    const table = side ? sideBySide(rows, side[1]) : '';
    if (table) out.push(`Side by side, ${side[0]}:`, '', table, '', 'All figures:', '');
    out.push(markdownTable(rows), '');
  }
  const rest = report.results.filter((r) => !used.has(r));
  if (rest.length) out.push('## Other', '', markdownTable(rest), '');
  const versions = [...new Set(report.results.filter((r) => r.version).map((r) => `${r.impl}: ${r.version}`))];
  if (versions.length) out.push('Peers: ' + versions.join('; ') + '.', '');
  await fsp.writeFile(file, out.join('\n'));
}

/** Matmul GFLOP/s per shape and implementation (x·W), and training-step tokens/s. */
async function writeCharts(dir: string, rows: BenchRow[]): Promise<{ title: string; file: string }[]> {
  const out: { title: string; file: string }[] = [];
  const mm = rows.filter((r) => r.name.startsWith('matmul/') && r.mode === 'x·W' && r.gflops !== undefined
    && !r.variant?.includes('naive'));
  if (mm.length) {
    const groups = [...new Set(mm.map((r) => r.name.slice('matmul/'.length)))];
    const impls = [...new Set(mm.map((r) => String(r.impl)))];
    const series: Record<string, number[]> = {};
    for (const i of impls) series[i] = groups.map((g) => mm.find((r) => r.impl === i && r.name === `matmul/${g}`)?.gflops ?? NaN);
    const title = 'matmul x·W, GFLOP/s (higher is better)';
    out.push({ title, file: path.basename(await writeChart(path.join(dir, 'results-matmul'),
      barChart(title, 'GFLOP/s', groups, series))) });
  }
  const st = rows.filter((r) => (r.name.startsWith('step/') || r.name.startsWith('generate/')) && r.tokens_per_s !== undefined);
  if (st.length) {
    const groups = [...new Set(st.map((r) => (r.name.startsWith('generate/') ? `${r.name} ${r.variant?.split(',')[0]}` : r.name)))];
    const impls = [...new Set(st.map((r) => String(r.impl)))];
    const key = (r: BenchRow): string => (r.name.startsWith('generate/') ? `${r.name} ${r.variant?.split(',')[0]}` : r.name);
    const series: Record<string, number[]> = {};
    for (const i of impls) series[i] = groups.map((g) => st.find((r) => r.impl === i && key(r) === g)?.tokens_per_s ?? NaN);
    const title = 'training step and generation, tokens/s';
    out.push({ title, file: path.basename(await writeChart(path.join(dir, 'results-tokens'),
      barChart(title, 'tokens/s', groups, series))) });
  }
  return out;
}
