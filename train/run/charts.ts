// Small SVG charts for reports: lines (one series per strategy), grouped bars, and panels of
// means with their spread over seeds. Written by hand like plot.ts; PNG copies come from plot.ts's svgToPng.
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
  for (const t of niceTicks(x0, x1, 6)) out.push(
    `<text x="${x(t)}" y="${H - M.bottom + 16}" text-anchor="middle">${+t.toPrecision(4)}</text>`);
  out.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - M.bottom + 34}" text-anchor="middle">${esc(xLabel)}</text>`);
  names.forEach((n, i) => {
    const d = series[n].filter((p) => Number.isFinite(p[1])).map((p, j) =>
      `${j ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
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
      out.push(`<rect x="${(gx + si * bw).toFixed(1)}" y="${top.toFixed(1)}" width="${(bw - 1).toFixed(1)}" ` +
        `height="${Math.abs(y(0) - y(v)).toFixed(1)}" fill="${COLORS[si % COLORS.length]}"/>`);
    });
    out.push(`<text transform="translate(${gx + gw * 0.4} ${H - M.bottom + 14}) rotate(25)" font-size="10">${esc(g)}</text>`);
  });
  return [...out, ...legend(names), '</svg>'].join('\n');
}

/** One point of a spread panel: a setting's values over seeds. */
export interface Spread {
  values: number[];
}

/** Panels side by side, one per metric, sharing categorical x labels (a study's settings): per
 *  series, each seed's value as a dot, the mean as a marker joined across x, the min–max as a bar. */
export function spreadPanels(title: string, xLabel: string, xs: string[],
  panels: { title: string; series: Record<string, Spread[]> }[]): string {
  const PW = 250;
  const PH = 220;
  const P = { left: 52, right: 12, top: 62, bottom: 50 };
  const width = panels.length * (PW + P.left + P.right);
  const height = PH + P.top + P.bottom;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="16" text-anchor="middle" font-size="13">${esc(title)}</text>`,
  ];
  panels.forEach((panel, pi) => {
    const x0 = pi * (PW + P.left + P.right) + P.left;
    const names = Object.keys(panel.series);
    const all = names.flatMap((n) => panel.series[n].flatMap((s) => s.values)).filter(Number.isFinite);
    const lo = Math.min(...all, Infinity);
    const hi = Math.max(...all, -Infinity);
    const pad = all.length === 0 ? 1 : (hi - lo) * 0.08 || Math.abs(hi) * 0.05 || 1;
    const ticks = niceTicks(lo - pad, hi + pad, 4);
    const [b, t] = [Math.min(lo - pad, ticks[0]), Math.max(hi + pad, ticks[ticks.length - 1])];
    const y = (v: number): number => P.top + PH * (1 - (v - b) / (t - b || 1));
    const x = (i: number): number => x0 + (PW * (i + 0.5)) / xs.length;
    out.push(`<text x="${x0 + PW / 2}" y="${P.top - 26}" text-anchor="middle" font-size="12">${esc(panel.title)}</text>`);
    out.push(`<rect x="${x0}" y="${P.top}" width="${PW}" height="${PH}" fill="none" stroke="#999"/>`);
    for (const tk of ticks.filter((v) => v >= b && v <= t)) {
      out.push(`<line x1="${x0}" x2="${x0 + PW}" y1="${y(tk).toFixed(1)}" y2="${y(tk).toFixed(1)}" stroke="#eee"/>`);
      out.push(`<text x="${x0 - 4}" y="${(y(tk) + 4).toFixed(1)}" text-anchor="end">${+tk.toPrecision(4)}</text>`);
    }
    xs.forEach((label, i) => out.push(`<text x="${x(i).toFixed(1)}" y="${P.top + PH + 15}" text-anchor="middle">${esc(label)}</text>`));
    out.push(`<text x="${x0 + PW / 2}" y="${P.top + PH + 32}" text-anchor="middle">${esc(xLabel)}</text>`);
    names.forEach((n, si) => {
      const color = COLORS[si % COLORS.length];
      const dx = (si - (names.length - 1) / 2) * 8;
      const means: string[] = [];
      panel.series[n].forEach((s, i) => {
        const v = s.values.filter(Number.isFinite);
        if (v.length === 0) return;
        const cx = x(i) + dx;
        const mean = v.reduce((a, c) => a + c, 0) / v.length;
        out.push(`<line x1="${cx.toFixed(1)}" x2="${cx.toFixed(1)}" y1="${y(Math.min(...v)).toFixed(1)}" ` +
          `y2="${y(Math.max(...v)).toFixed(1)}" stroke="${color}" stroke-width="2"/>`);
        for (const e of v) out.push(
          `<circle cx="${(cx + 4).toFixed(1)}" cy="${y(e).toFixed(1)}" r="2" fill="${color}" fill-opacity="0.5"/>`);
        out.push(`<rect x="${(cx - 3.5).toFixed(1)}" y="${(y(mean) - 3.5).toFixed(1)}" width="7" height="7" fill="${color}"/>`);
        means.push(`${means.length ? 'L' : 'M'}${cx.toFixed(1)},${y(mean).toFixed(1)}`);
      });
      if (means.length > 1) out.push(`<path d="${means.join(' ')}" fill="none" stroke="${color}" stroke-opacity="0.6"/>`);
      if (names.length > 1) {
        // The legend sits between the panel's title and its frame, one entry after another.
        const lx = x0 + (PW * si) / names.length;
        out.push(`<rect x="${lx}" y="${P.top - 17}" width="9" height="9" fill="${color}"/>`);
        out.push(`<text x="${lx + 13}" y="${P.top - 9}">${esc(n)}</text>`);
      }
    });
  });
  return [...out, '</svg>'].join('\n');
}

/** Writes `<base>.svg` and `<base>.png`; returns the name to link (the PNG). */
export async function writeChart(base: string, svg: string): Promise<string> {
  writeFileSync(`${base}.svg`, svg);
  writeFileSync(`${base}.png`, await svgToPng(svg));
  return `${base}.png`;
}
