// What the page draws: the live loss plot and the held-out table with the answers side by side.
import type { BuiltinSummary } from '../train/builtin/summary.ts';
import type { Phase } from './tab-run.ts';

export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

const COLORS: Record<Phase, string> = { pretrain: '#1f77b4', finetune: '#d62728', control: '#7f7f7f' };

/** Step losses per phase, drawn as polylines one after the other (each phase its own x range). */
export class LossPlot {
  private readonly series: { phase: Phase; total: number; losses: number[] }[] = [];
  private pending = false;

  start(phase: Phase, total: number): void {
    this.series.push({ phase, total, losses: [] });
  }

  add(loss: number): void {
    this.series.at(-1)?.losses.push(loss);
    if (!this.pending) {
      this.pending = true;
      requestAnimationFrame(() => this.draw());
    }
  }

  private draw(): void {
    this.pending = false;
    const svg = $('plot');
    const w = 640;
    const h = 220;
    const all = this.series.flatMap((s) => s.losses);
    const top = Math.max(...all, 1);
    const span = this.series.reduce((a, s) => a + s.total, 0) || 1;
    let x0 = 0;
    const lines = this.series.map((s) => {
      const pts = s.losses.map((l, i) => `${(40 + ((x0 + i) / span) * (w - 50)).toFixed(1)},${(h - 20 - (l / top) * (h - 30)).toFixed(1)}`);
      x0 += s.total;
      return `<polyline fill="none" stroke="${COLORS[s.phase]}" stroke-width="1.5" points="${pts.join(' ')}"/>`;
    });
    svg.innerHTML = `<text x="2" y="14" font-size="11">${top.toFixed(2)}</text><text x="2" y="${h - 20}" font-size="11">0</text>` +
      `<text x="${w - 150}" y="${h - 4}" font-size="11">optimizer steps →</text>` +
      `<text x="40" y="14" font-size="11">training loss</text>${lines.join('')}`;
  }
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const pct = (x: number | undefined): string => (x === undefined ? '–' : `${(100 * x).toFixed(1)}%`);

/** The CLI's table (bin/commands/train.ts prints the same numbers): held-out exact match per task
 *  of the base, the finetuned model and the control, then the first question of each task answered by all. */
export function summaryTable(s: BuiltinSummary): string {
  const tasks = Object.keys(s.heldout_exact_match.per_task);
  const row = (name: string, m: BuiltinSummary['heldout_exact_match'] | null): string =>
    `<tr><th>${name}</th><td>${pct(m?.accuracy)}</td>${tasks.map((t) => `<td>${pct(m?.per_task[t]?.accuracy)}</td>`).join('')}</tr>`;
  const scores = `<table><tr><th>held-out exact match</th><th>all</th>${tasks.map((t) => `<th>${esc(t)}</th>`).join('')}</tr>` +
    row('base (before finetuning)', s.base_exact_match) + row('finetuned', s.heldout_exact_match) +
    row('control (never pretrained)', s.control_exact_match) + '</table>';
  const answers = `<table><tr><th>question</th><th>answer</th><th>base continues the statement</th><th>base continues the question</th>` +
    `<th>finetuned</th><th>control</th></tr>${s.base_examples.map((e) => `<tr><td>${esc(e.question)}</td><td>${esc(e.answer)}</td>` +
      `<td>${esc(e.base_statement)}<b>${esc(e.base_statement_continuation)}</b></td><td>${esc(e.base_continuation)}</td>` +
      `<td>${esc(e.finetuned_answer)}</td><td>${esc(e.control_answer)}</td></tr>`).join('')}</table>`;
  return scores + answers;
}
