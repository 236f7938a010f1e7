// `wgpt sweep status` and `wgpt sweep report`: what each run is doing, and the final metrics across
// the grid, grouped by every axis but the seed and summarised over seeds (mean, spread, count).
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WgptError } from '../../engine/errors.ts';
import { barChart, writeChart } from '../run/charts.ts';
import { readPlan } from './plan.ts';
import type { PlannedRun, Scalar, SweepSpec } from './spec.ts';
import { currentStatus, LOG_FILE, readState, type RunStatus } from './state.ts';

export interface RunRow {
  index: number;
  id: string;
  params: Record<string, Scalar>;
  status: RunStatus;
  attempts: number;
  resumedFrom?: number;
  log: string | null;
  metrics: Record<string, number>;
}

export interface GroupRow {
  params: Record<string, Scalar>;
  runs: number;
  done: number;
  /** metric -> [mean, sample standard deviation (0 for one run)] over the group's done runs. */
  stats: Record<string, [number, number]>;
}

/** Every planned run with its status and, when done, its metrics. */
export function gather(sweepDir: string, spec: SweepSpec): { command: string; axes: string[]; rows: RunRow[] } {
  const { plan, runs } = readPlan(sweepDir);
  const rows = runs.map((r: PlannedRun): RunRow => {
    const dir = path.join(sweepDir, r.dir);
    const status = currentStatus(dir);
    const state = readState(dir);
    let metrics: Record<string, number> = {};
    if (status === 'done') {
      try {
        metrics = spec.metrics(dir);
      } catch {
        metrics = {}; // a done run whose files were removed: shown, but without numbers
      }
    }
    const log = existsSync(path.join(dir, LOG_FILE)) ? path.join(dir, LOG_FILE) : null;
    return { index: r.index, id: r.id, params: r.params, status,
      attempts: state?.attempts ?? 0, resumedFrom: state?.resumedFrom, log, metrics };
  });
  return { command: plan.command, axes: plan.axes, rows };
}

export function counts(rows: RunRow[]): Record<RunStatus, number> {
  const c: Record<RunStatus, number> = { done: 0, running: 0, stopped: 0, failed: 0, pending: 0 };
  for (const r of rows) c[r.status]++;
  return c;
}

export function countLine(rows: RunRow[]): string {
  const c = counts(rows);
  return `${rows.length} runs: ${c.done} done, ${c.running} running, ${c.stopped} stopped (resume with sweep run), ` +
    `${c.failed} failed, ${c.pending} pending`;
}

const fmt = (v: number): string => (Number.isFinite(v) ? String(+v.toPrecision(4)) : '-');

/** Plain-text status table, one run a line. */
export function statusTable(rows: RunRow[], axes: string[]): string {
  const head = ['#', ...axes, 'status', 'attempts', 'note'];
  const body = rows.map((r) => [String(r.index), ...axes.map((a) => String(r.params[a])), r.status, String(r.attempts),
    r.status === 'failed' ? `log ${r.log}` : r.resumedFrom !== undefined ? `resumed from step ${r.resumedFrom}` : '']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  return [head, ...body].map((cols) => cols.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

/** Mean and sample standard deviation (0 for one value). */
export function meanSd(xs: number[]): [number, number] {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.length > 1 ? xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1) : 0;
  return [m, Math.sqrt(v)];
}

/** Groups runs by every axis except `over` (the seed), in plan order. */
export function groupRows(rows: RunRow[], axes: string[], over: string | null): { keys: string[]; groups: GroupRow[] } {
  const keys = axes.filter((a) => a !== over);
  const byKey = new Map<string, RunRow[]>();
  for (const r of rows) {
    const k = JSON.stringify(keys.map((a) => r.params[a]));
    byKey.set(k, [...(byKey.get(k) ?? []), r]);
  }
  const groups = [...byKey.values()].map((members): GroupRow => {
    const done = members.filter((m) => m.status === 'done' && Object.keys(m.metrics).length > 0);
    const names = [...new Set(done.flatMap((m) => Object.keys(m.metrics)))];
    const stats = Object.fromEntries(names.map((n) => [n, meanSd(done.map((m) => m.metrics[n]).filter(Number.isFinite))]));
    return { params: Object.fromEntries(keys.map((a) => [a, members[0].params[a]])), runs: members.length, done: done.length, stats };
  });
  return { keys, groups };
}

/** The markdown table of groups: one column per axis, then mean ± sd of each metric. */
export function groupTable(keys: string[], groups: GroupRow[], over: string | null): string {
  const metrics = [...new Set(groups.flatMap((g) => Object.keys(g.stats)))];
  const head = [...keys, `done/runs${over ? ` (over ${over})` : ''}`, ...metrics.map((m) => `${m} (mean ± sd)`)];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`];
  for (const g of groups) {
    const cells = metrics.map((m) => (g.stats[m] ? `${fmt(g.stats[m][0])} ± ${fmt(g.stats[m][1])}` : '-'));
    lines.push(`| ${[...keys.map((k) => String(g.params[k])), `${g.done}/${g.runs}`, ...cells].join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Bars of one metric: groups along x by all axes but the last, one bar per value of the last. */
function chartSvg(keys: string[], groups: GroupRow[], metric: string): string {
  const label = (g: GroupRow, ks: string[]): string => ks.map((k) => `${k}=${g.params[k]}`).join(' ') || 'all';
  if (keys.length < 2) {
    return barChart(`${metric}: mean over seeds`, metric, groups.map((g) => label(g, keys)),
      { [metric]: groups.map((g) => g.stats[metric]?.[0] ?? NaN) });
  }
  const last = keys[keys.length - 1];
  const outer = keys.slice(0, -1);
  const xs = [...new Set(groups.map((g) => label(g, outer)))];
  const series: Record<string, number[]> = {};
  for (const g of groups) {
    const s = (series[`${last}=${g.params[last]}`] ??= xs.map(() => NaN));
    s[xs.indexOf(label(g, outer))] = g.stats[metric]?.[0] ?? NaN;
  }
  return barChart(`${metric}: mean over seeds`, metric, xs, series);
}

/** Writes DIR/report.md, DIR/sweep.json and the chart; returns the markdown. */
export async function writeSweepReport(sweepDir: string, spec: SweepSpec, opts: { over?: string; metric?: string } = {}): Promise<string> {
  const { command, axes, rows } = gather(sweepDir, spec);
  if (opts.over !== undefined && !axes.includes(opts.over)) throw new WgptError(
    `--over ${opts.over}: not an axis of this sweep; its axes are ${axes.join(', ') || 'none'}`);
  const over = opts.over ?? (axes.includes('seed') ? 'seed' : null);
  const { keys, groups } = groupRows(rows, axes, over);
  const metricNames = [...new Set(groups.flatMap((g) => Object.keys(g.stats)))];
  if (opts.metric !== undefined && !metricNames.includes(opts.metric)) {
    throw new WgptError(
      `--metric ${opts.metric}: no finished run has it; metrics here: ${metricNames.join(', ') || 'none yet (no run is done)'}`);
  }
  const metric = opts.metric ?? metricNames[0];
  const md = [`# wgpt sweep: ${command}, ${rows.length} runs over ${axes.join(' × ') || 'no axis'}`, '', countLine(rows), ''];
  md.push(groupTable(keys, groups, over), '');
  if (metric && metricNames.includes(metric)) {
    const chart = await writeChart(path.join(sweepDir, `sweep-${metric}`), chartSvg(keys, groups, metric));
    md.push(`![${metric}](${path.basename(chart)})`, '');
  }
  const failed = rows.filter((r) => r.status === 'failed');
  if (failed.length > 0) md.push('## Failed runs', '', ...failed.map((r) => `- ${r.index} \`${r.id}\`: log ${r.log}`), '');
  md.push('## Runs', '', '```', statusTable(rows, axes), '```', '');
  writeFileSync(path.join(sweepDir, 'report.md'), md.join('\n'));
  writeFileSync(path.join(sweepDir, 'sweep.json'),
    `${JSON.stringify({ command, axes, over, metric: metric ?? null, groups, runs: rows }, null, 2)}\n`);
  return md.join('\n');
}
