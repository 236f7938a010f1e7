// Two small SVG charts for reports: lines (one series per strategy) and grouped bars. Written by
// hand like plot.ts; PNG copies come from plot.ts's svgToPng.
import { writeFileSync } from 'node:fs';
import { niceTicks, svgToPng } from './plot.ts';

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];
const W = 560;
const H = 320;
const M = { left: 64, right: 150, top: 36, bottom: 60 };

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function frame(title: string, yTicks: number[], y: (v: number) => number, yLabel: string): string[] {
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - M.right / 2}" y="20" text-anchor="middle" font-size="13">${esc(title)}</text>`,
    `<text transform="translate(14 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
  ];
  for (const t of yTicks) {
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/>`);
    out.push(`<text x="${M.left - 6}" y="${y(t) + 4}" text-anchor="end">${+t.toPrecision(4)}</text>`);
  }
  return out;
}

function legend(names: string[]): string[] {
  return names.flatMap((n, i) => [
    `<rect x="${W - M.right + 12}" y="${M.top + 16 * i}" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/>`,
    `<text x="${W - M.right + 28}" y="${M.top + 16 * i + 9}">${esc(n)}</text>`,
  ]);
}

function yScale(values: number[]): { ticks: number[]; y: (v: number) => number } {
  const finite = values.filter(Number.isFinite);
  const lo = Math.min(0, ...finite);
  const hi = Math.max(...finite, lo + 1e-9);
  const ticks = niceTicks(lo, hi, 5);
  const top = Math.max(hi, ticks[ticks.length - 1]);
  const bottom = Math.min(lo, ticks[0]);
  return { ticks, y: (v) => M.top + (H - M.top - M.bottom) * (1 - (v - bottom) / (top - bottom || 1)) };
}

/** Lines: series[name] = points [x, y]. */
export function lineChart(title: string, xLabel: string, yLabel: string, series: Record<string, [number, number][]>): string {
  const names = Object.keys(series);
  const pts = names.flatMap((n) => series[n]);
  const { ticks, y } = yScale(pts.map((p) => p[1]));
  const xs = pts.map((p) => p[0]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs, Math.min(...xs) + 1)];
  const x = (v: number): number => M.left + ((W - M.left - M.right) * (v - x0)) / (x1 - x0);
  const out = frame(title, ticks, y, yLabel);
  for (const t of niceTicks(x0, x1, 6)) out.push(`<text x="${x(t)}" y="${H - M.bottom + 16}" text-anchor="middle">${+t.toPrecision(4)}</text>`);
  out.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - M.bottom + 34}" text-anchor="middle">${esc(xLabel)}</text>`);
  names.forEach((n, i) => {
    const d = series[n].filter((p) => Number.isFinite(p[1])).map((p, j) => `${j ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"/>`);
  });
  return [...out, ...legend(names), '</svg>'].join('\n');
}

/** Grouped bars: groups along x, one bar per series inside each group. */
export function barChart(title: string, yLabel: string, groups: string[], series: Record<string, number[]>): string {
  const names = Object.keys(series);
  const { ticks, y } = yScale(names.flatMap((n) => series[n]));
  const out = frame(title, ticks, y, yLabel);
  const gw = (W - M.left - M.right) / Math.max(groups.length, 1);
  const bw = (gw * 0.8) / Math.max(names.length, 1);
  groups.forEach((g, gi) => {
    const gx = M.left + gi * gw + gw * 0.1;
    names.forEach((n, si) => {
      const v = series[n][gi];
      if (!Number.isFinite(v)) return;
      const top = Math.min(y(v), y(0));
      out.push(`<rect x="${(gx + si * bw).toFixed(1)}" y="${top.toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${Math.abs(y(0) - y(v)).toFixed(1)}" fill="${COLORS[si % COLORS.length]}"/>`);
    });
    out.push(`<text transform="translate(${gx + gw * 0.4} ${H - M.bottom + 14}) rotate(25)" font-size="10">${esc(g)}</text>`);
  });
  return [...out, ...legend(names), '</svg>'].join('\n');
}

/** Writes `<base>.svg` and `<base>.png`; returns the name to link (the PNG). */
export async function writeChart(base: string, svg: string): Promise<string> {
  writeFileSync(`${base}.svg`, svg);
  writeFileSync(`${base}.png`, await svgToPng(svg));
  return `${base}.png`;
}
