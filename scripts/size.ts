// The size gate CI runs (tinygrad's sz.py in spirit): lines of source per folder, and a failure
// where the engine and its kernels pass ENGINE_LIMIT lines together or any source file passes
// FILE_LIMIT, or a line in WIDE_ROOMS passes WIDE_LIMIT columns. A small engine is a readable one;
// a file past FILE_LIMIT wants splitting. engine/ and kernels/ keep 46 wider lines: wrapping them
// costs lines their limit has no room for (Biome's formatter is off for that reason, biome.jsonc).
//   npx tsx scripts/size.ts [--json]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const ENGINE_LIMIT = 7000;
export const FILE_LIMIT = 400;
export const WIDE_LIMIT = 140;
export const WIDE_ROOMS = ['bin', 'train', 'model'];
export const ROOMS = ['bin', 'train', 'model', 'engine', 'kernels', 'bench', 'scripts', 'test'];
const SOURCE = /\.(ts|mts|js|wgsl|sh|py)$/;

const root = path.join(import.meta.dirname, '..');

function files(dir: string): string[] {
  return readdirSync(path.join(root, dir)).flatMap((name) => {
    const rel = path.join(dir, name);
    if (name === 'node_modules' || name.startsWith('.')) return [];
    return statSync(path.join(root, rel)).isDirectory() ? files(rel) : SOURCE.test(name) ? [rel] : [];
  });
}

const read = (file: string): string[] => readFileSync(path.join(root, file), 'utf8').split('\n').filter((l, i, all) => i < all.length - 1 || l !== '');

export interface SizeReport {
  rooms: Record<string, { files: number; lines: number }>;
  engine_and_kernels: number;
  over_limit: Array<{ file: string; lines: number }>;
  /** Lines in WIDE_ROOMS past WIDE_LIMIT columns, as file:line. */
  too_wide: string[];
}

export function sizeReport(): SizeReport {
  const rooms: SizeReport['rooms'] = {};
  const over: SizeReport['over_limit'] = [];
  const wide: string[] = [];
  for (const room of ROOMS) {
    const list = files(room);
    let total = 0;
    for (const f of list) {
      const text = read(f);
      const n = text.length;
      total += n;
      if (WIDE_ROOMS.includes(room)) text.forEach((l, i) => l.length > WIDE_LIMIT && wide.push(`${f}:${i + 1}`));
      if (n > FILE_LIMIT) over.push({ file: f, lines: n });
    }
    rooms[room] = { files: list.length, lines: total };
  }
  return { rooms, engine_and_kernels: rooms.engine.lines + rooms.kernels.lines, over_limit: over, too_wide: wide };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = sizeReport();
  if (process.argv.includes('--json')) console.log(JSON.stringify(r, null, 2));
  else {
    console.log('room       files   lines');
    for (const [room, { files: n, lines: l }] of Object.entries(r.rooms)) console.log(`${room.padEnd(10)} ${String(n).padStart(5)} ${String(l).padStart(7)}`);
    console.log(`engine + kernels: ${r.engine_and_kernels} lines (limit ${ENGINE_LIMIT})`);
  }
  const bad = [
    ...(r.engine_and_kernels >= ENGINE_LIMIT ? [`engine + kernels hold ${r.engine_and_kernels} lines, the limit is ${ENGINE_LIMIT}: make the engine smaller, not the limit larger`] : []),
    ...r.over_limit.map((o) => `${o.file} has ${o.lines} lines, over ${FILE_LIMIT}: split it by concern`),
    ...r.too_wide.map((at) => `${at} is over ${WIDE_LIMIT} columns: wrap it`),
  ];
  for (const b of bad) console.error(`size gate: ${b}`);
  process.exit(bad.length > 0 ? 1 : 0);
}
