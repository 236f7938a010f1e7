// The docs describe what exists: no source cites a file outside the repository (shared/ADAPTER.md
// was cited by two comments and is not in the repo), and what docs/DESIGN.md names is in the code.
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.join(import.meta.dirname, '..');
const sources = (dir: string): string[] => readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
  const rel = path.join(dir, e.name);
  if (e.isDirectory()) return e.name === 'node_modules' || e.name.startsWith('.') ? [] : sources(rel);
  return /\.(ts|wgsl|md|py)$/.test(e.name) ? [rel] : [];
});

t.test('no source or doc cites an ADAPTER.md the repository does not have', async (t) => {
  const files = ['bench', 'bin', 'docs', 'engine', 'kernels', 'model', 'scripts', 'train'].flatMap(sources);
  t.ok(files.length > 50, `${files.length} files scanned`);
  const citing = files.filter((f) => /ADAPTER\.md/.test(readFileSync(path.join(root, f), 'utf8')));
  t.same(existsSync(path.join(root, 'ADAPTER.md')) || existsSync(path.join(root, 'docs', 'ADAPTER.md')) ? [] : citing, [], 'no citations');
});

t.test('DESIGN.md: the matmul tile tables, the tuner, its overrides and the bind-group cache exist', async (t) => {
  const design = readFileSync(path.join(root, 'docs', 'DESIGN.md'), 'utf8');
  const read = (...p: string[]): string => readFileSync(path.join(root, ...p), 'utf8');
  t.match(design, /MATMUL_TILES/);
  t.match(read('kernels', 'matmul-tiled.ts'), /export const MATMUL_TILES/);
  t.match(design, /LLVMPIPE_CANDIDATES/);
  t.match(read('kernels', 'matmul-llvmpipe.ts'), /export const LLVMPIPE_CANDIDATES/);
  t.match(design, /GPU_MATMUL_CANDIDATES/);
  t.match(read('kernels', 'matmul-gpu.ts'), /export const GPU_MATMUL_CANDIDATES/);
  t.match(design, /engine\/tune\/tuner\.ts/);
  t.ok(existsSync(path.join(root, 'engine', 'tune', 'tuner.ts')), 'the tuner DESIGN.md describes');
  const plan = read('engine', 'ops', 'matmul-plan.ts');
  for (const env of ['WGPT_MATMUL_TILE', 'WGPT_MATMUL_TEXTURES']) t.match(plan, new RegExp(env), `${env} is read where DESIGN.md says`);
  t.match(read('engine', 'tune', 'choices.ts'), /WGPT_TUNE/);
  t.match(design, /Bind groups are cached per \(pipeline, parameter slot, bound windows\)/);
  t.match(read('engine', 'device', 'recorder.ts'), /private bindGroupFor\(/, 'the cache DESIGN.md describes');
});
