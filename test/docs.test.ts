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
  const plan = read('engine', 'tune', 'matmul-pick.ts');
  for (const env of ['WGPT_MATMUL_TILE', 'WGPT_MATMUL_TEXTURES']) t.match(plan, new RegExp(env), `${env} is read where DESIGN.md says`);
  t.match(read('engine', 'tune', 'choices.ts'), /WGPT_TUNE/);
  t.match(design, /Bind groups are cached per \(pipeline, parameter slot, bound windows\)/);
  t.match(read('engine', 'device', 'recorder.ts'), /private bindGroupFor\(/, 'the cache DESIGN.md describes');
});

const ROOMS = ['bin', 'train', 'model', 'engine', 'kernels', 'bench', 'scripts', 'docs', 'test'];
/** The folders of the tree a reader meets: every room and the folders one level inside it. */
const folders = ROOMS.flatMap((room) => [room, ...readdirSync(path.join(root, room), { withFileTypes: true })
  .filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => `${room}/${e.name}`)]);

t.test("README's Layout names every folder, DESIGN.md every stage of train/ and part of engine/", async (t) => {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const layout = readme.slice(readme.indexOf('## Layout'));
  t.ok(folders.length > 20, `${folders.length} folders`);
  t.same(folders.filter((f) => !layout.includes(`${f}/`)), [], 'every folder in the Layout section');
  const design = readFileSync(path.join(root, 'docs', 'DESIGN.md'), 'utf8');
  const parts = folders.filter((f) => /^(train|engine)\//.test(f));
  t.same(parts.filter((f) => !design.includes(`${f}/`)), [], 'every folder of train/ and engine/ in DESIGN.md');
});

t.test('every path README.md and DESIGN.md name exists', async (t) => {
  for (const doc of ['README.md', 'docs/DESIGN.md']) {
    const text = readFileSync(path.join(root, doc), 'utf8');
    const named = [...new Set(text.match(new RegExp(`\\b(${ROOMS.join('|')})/[\\w./-]*\\w`, 'g')) ?? [])]
      .filter((p) => !/\.(json|jsonl|md|png|svg|safetensors|txt|bin)$/.test(p) || p.startsWith('docs/') || p.startsWith('bench/'));
    t.ok(named.length > 10, `${doc}: ${named.length} paths`);
    t.same(named.filter((p) => !existsSync(path.join(root, p))), [], `${doc}: no path that is not in the tree`);
  }
});
