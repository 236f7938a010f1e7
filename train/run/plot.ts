// The loss plot of chapter 7 (`plot_losses`): training and validation loss against epochs, with
// tokens seen on a second, top x axis. Drawn as a small hand-written SVG (no plotting library);
// rasterised to PNG with @resvg/resvg-js (prebuilt binaries, no native build).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface LossSeries {
  epochsSeen: number[];
  tokensSeen: number[];
  trainLosses: number[];
  valLosses: number[];
  title?: string;
}

const W = 500;
const H = 300;
const M = { left: 58, right: 16, top: 52, bottom: 44 };
const TRAIN_COLOR = '#1f77b4';
const VAL_COLOR = '#ff7f0e';

function check(s: LossSeries): void {
  const n = s.epochsSeen.length;
  if (n === 0) throw new Error('plot: no points to plot');
  for (const [name, arr] of Object.entries({ tokensSeen: s.tokensSeen, trainLosses: s.trainLosses, valLosses: s.valLosses })) {
    if (arr.length !== n) throw new Error(`plot: ${name} has ${arr.length} values but epochsSeen has ${n}`);
  }
  for (const [name, arr] of Object.entries(s)) {
    if (Array.isArray(arr) && arr.some((v) => !Number.isFinite(v))) throw new Error(`plot: ${name} contains a non-finite value`);
  }
}

/** ~count "nice" tick values (1, 2, 5 × 10^k steps) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5, integer = false): number[] {
  if (hi <= lo) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  if (integer) step = Math.max(1, Math.round(step));
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** Short tick labels: 1500 → 1.5k, 2000000 → 2M. */
function fmt(v: number): string {
  const a = Math.abs(v);
  const trim = (x: number): string => String(Number(x.toPrecision(3)));
  if (a >= 1e6) return trim(v / 1e6) + 'M';
  if (a >= 1e3) return trim(v / 1e3) + 'k';
  return trim(v);
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The SVG text of the plot. Each line carries its values in data-values so tools (and tests) can
 *  read the series back without parsing coordinates. */
export function lossPlotSvg(s: LossSeries): string {
  check(s);
  const x0 = Math.min(...s.epochsSeen);
  const x1 = Math.max(...s.epochsSeen);
  const all = [...s.trainLosses, ...s.valLosses];
  let y0 = Math.min(...all);
  let y1 = Math.max(...all);
  const pad = (y1 - y0) * 0.05 || Math.abs(y1) * 0.05 || 1; // matplotlib-like margin
  y0 -= pad;
  y1 += pad;
  const xspan = x1 - x0 || 1;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const px = (e: number): number => M.left + ((e - x0) / xspan) * pw;
  const py = (l: number): number => M.top + (1 - (l - y0) / (y1 - y0)) * ph;
  const r = (v: number): string => v.toFixed(2);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
    `font-family="DejaVu Sans, Arial, sans-serif" font-size="11">`);
  out.push(`<title>${esc(s.title ?? 'Training and validation loss')}</title>`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="black"/>`);

  // Bottom axis: epochs, integer ticks (the chapter uses MaxNLocator(integer=True)).
  for (const e of niceTicks(x0, x1, 5, true).filter((v) => v >= x0 && v <= x1)) {
    const x = r(px(e));
    out.push(`<line x1="${x}" y1="${M.top + ph}" x2="${x}" y2="${M.top + ph + 4}" stroke="black"/>`);
    out.push(`<text x="${x}" y="${M.top + ph + 16}" text-anchor="middle">${fmt(e)}</text>`);
  }
  out.push(`<text x="${M.left + pw / 2}" y="${H - 8}" text-anchor="middle">Epochs</text>`);

  // Left axis: loss.
  for (const l of niceTicks(y0, y1, 5).filter((v) => v >= y0 && v <= y1)) {
    const y = r(py(l));
    out.push(`<line x1="${M.left - 4}" y1="${y}" x2="${M.left}" y2="${y}" stroke="black"/>`);
    out.push(`<text x="${M.left - 7}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmt(l)}</text>`);
  }
  out.push(`<text transform="translate(14 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">Loss</text>`);

  // Top axis: tokens seen, mapped linearly so the first/last points line up with the epochs
  // (the chapter's twiny() plots the same losses against tokens_seen).
  const t0 = s.tokensSeen[0];
  const t1 = s.tokensSeen[s.tokensSeen.length - 1];
  if (t1 > t0) {
    const e0 = s.epochsSeen[0];
    const e1 = s.epochsSeen[s.epochsSeen.length - 1];
    const tokenX = (tok: number): number => px(e0 + ((tok - t0) / (t1 - t0)) * (e1 - e0));
    for (const tok of niceTicks(t0, t1, 5)) {
      const x = tokenX(tok);
      if (x < M.left - 0.5 || x > M.left + pw + 0.5) continue;
      out.push(`<line x1="${r(x)}" y1="${M.top - 4}" x2="${r(x)}" y2="${M.top}" stroke="black"/>`);
      out.push(`<text x="${r(x)}" y="${M.top - 8}" text-anchor="middle">${fmt(tok)}</text>`);
    }
  }
  out.push(`<text x="${M.left + pw / 2}" y="16" text-anchor="middle">Tokens seen</text>`);

  const line = (id: string, ys: number[], color: string, dash: string): void => {
    const pts = s.epochsSeen.map((e, i) => `${r(px(e))},${r(py(ys[i]))}`).join(' ');
    out.push(
      `<polyline id="${id}" data-values="${ys.join(',')}" ` +
        `data-epochs="${s.epochsSeen.join(',')}" data-tokens="${s.tokensSeen.join(',')}" ` +
        `points="${pts}" fill="none" stroke="${color}" stroke-width="1.5"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
    );
  };
  line('train-loss', s.trainLosses, TRAIN_COLOR, '');
  line('val-loss', s.valLosses, VAL_COLOR, '6 3 1.5 3'); // dash-dot, as linestyle="-."

  // Legend, upper right.
  const lx = M.left + pw - 128;
  const ly = M.top + 8;
  out.push(`<rect x="${lx}" y="${ly}" width="120" height="38" fill="white" stroke="#ccc"/>`);
  out.push(`<line x1="${lx + 6}" y1="${ly + 12}" x2="${lx + 28}" y2="${ly + 12}" stroke="${TRAIN_COLOR}" stroke-width="1.5"/>`);
  out.push(`<text x="${lx + 34}" y="${ly + 12}" dominant-baseline="middle">Training loss</text>`);
  out.push(`<line x1="${lx + 6}" y1="${ly + 27}" x2="${lx + 28}" y2="${ly + 27}" stroke="${VAL_COLOR}" ` +
    `stroke-width="1.5" stroke-dasharray="6 3 1.5 3"/>`);
  out.push(`<text x="${lx + 34}" y="${ly + 27}" dominant-baseline="middle">Validation loss</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** The slice of @resvg/resvg-js used here. */
interface ResvgModule {
  Resvg: new (svg: string, options: object) => { render(): { asPng(): Uint8Array } };
}

/** Rasterises SVG text to PNG bytes. Text uses the system fonts (DejaVu Sans where present);
 *  without any font the labels are simply missing. @resvg/resvg-js is a declared dependency: a
 *  failure to load it (a broken install) is an error, not a silently missing PNG. */
export async function svgToPng(svg: string, specifier = '@resvg/resvg-js'): Promise<Uint8Array> {
  let mod: ResvgModule;
  try {
    // A variable specifier keeps the native module out of the type checker's way.
    mod = (await import(specifier)) as ResvgModule;
  } catch (e) {
    throw new Error(`cannot load ${specifier} to draw PNG plots (${(e as Error).message.split('\n')[0]}); run npm install`, { cause: e });
  }
  const resvg = new mod.Resvg(svg, { background: 'white', font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } });
  return resvg.render().asPng();
}

/** Writes `<base>.svg` and `<base>.png`. `path` may end in .svg or .png or have no extension;
 *  both files share the base name. */
export async function writeLossPlot(path: string, series: LossSeries): Promise<{ svg: string; png: string }> {
  const base = path.replace(/\.(svg|png)$/i, '');
  const svg = lossPlotSvg(series);
  mkdirSync(dirname(base) || '.', { recursive: true });
  writeFileSync(`${base}.svg`, svg);
  writeFileSync(`${base}.png`, await svgToPng(svg));
  return { svg: `${base}.svg`, png: `${base}.png` };
}
