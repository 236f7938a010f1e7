import t from 'tap';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lossPlotSvg, niceTicks, svgToPng, writeLossPlot } from '../train/run/plot.ts';

const series = {
  epochsSeen: [0, 0.5, 1, 1.5, 2],
  tokensSeen: [0, 12000, 24000, 36000, 48000],
  trainLosses: [2.6, 1.1, 0.7, 0.55, 0.42],
  valLosses: [2.5, 1.2, 0.9, 0.8, 0.78],
};

const attr = (svg: string, id: string, name: string): string => {
  const m = new RegExp(`<polyline id="${id}"[^>]* ${name}="([^"]*)"`).exec(svg);
  if (!m) throw new Error(`no ${name} on ${id}`);
  return m[1];
};

t.test('ticks', async (t) => {
  t.same(niceTicks(0, 2, 5, true), [0, 1, 2]);
  t.same(niceTicks(0, 48000, 5), [0, 10000, 20000, 30000, 40000]);
  t.same(niceTicks(0.3, 2.8, 5), [0.5, 1, 1.5, 2, 2.5]);
});

t.test('svg holds both series and both axes', async (t) => {
  const svg = lossPlotSvg(series);
  t.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  t.equal(attr(svg, 'train-loss', 'data-values'), '2.6,1.1,0.7,0.55,0.42');
  t.equal(attr(svg, 'val-loss', 'data-values'), '2.5,1.2,0.9,0.8,0.78');
  t.equal(attr(svg, 'train-loss', 'data-tokens'), '0,12000,24000,36000,48000');
  for (const label of ['Epochs', 'Loss', 'Tokens seen', 'Training loss', 'Validation loss', '>40k<', '>2<'])
    t.ok(svg.includes(label), label);
  // Points: 5 per line, x from left to right, the highest train loss at the top.
  const pts = attr(svg, 'train-loss', 'points').split(' ').map((p) => p.split(',').map(Number));
  t.equal(pts.length, 5);
  t.ok(pts.every((p, i) => i === 0 || p[0] > pts[i - 1][0]));
  t.ok(pts.every((p, i) => i === 0 || p[1] > pts[i - 1][1]), 'falling loss goes down the image');
  t.throws(() => lossPlotSvg({ ...series, valLosses: [1] }), /valLosses has 1 values but epochsSeen has 5/);
  t.throws(() => lossPlotSvg({ ...series, trainLosses: [1, 2, NaN, 3, 4] }), /trainLosses contains a non-finite value/);
});

t.test('files written', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wgpt-plot-'));
  const out = await writeLossPlot(join(dir, 'sub', 'loss-plot.png'), series);
  t.equal(out.svg, join(dir, 'sub', 'loss-plot.svg'));
  const svg = readFileSync(out.svg, 'utf8');
  t.equal(attr(svg, 'val-loss', 'data-values'), '2.5,1.2,0.9,0.8,0.78');
  t.equal(out.png, join(dir, 'sub', 'loss-plot.png'));
  t.ok(existsSync(out.png!));
  const png = readFileSync(out.png!);
  t.same([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  t.equal(png.readUInt32BE(16), 500, 'width');
  t.equal(png.readUInt32BE(20), 300, 'height');
});

t.test('a rasteriser that cannot be loaded is an error that says what to do', async (t) => {
  await t.rejects(svgToPng('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>', '@resvg/not-installed'),
    /cannot load @resvg\/not-installed to draw PNG plots .*; run npm install/);
});
