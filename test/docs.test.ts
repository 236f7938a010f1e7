// The docs describe what exists: no source cites a file outside the repository (shared/ADAPTER.md
// was cited by two comments and is not in the repo), what docs/DESIGN.md names is in the code, every
// path, link, `wgpt <command>` and `--flag` README.md and the pages of docs/ name is real, and the
// README and DESIGN.md stay short enough to read.
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgsOptions, type Entry } from '../bin/commands/flags.ts';

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
  t.match(design, /a bind\s+group is keyed by kernel and bound windows only/);
  t.match(read('engine', 'device', 'recorder.ts'), /private bindGroupFor\(/, 'the cache DESIGN.md describes');
});

const ROOMS = ['bin', 'train', 'model', 'engine', 'kernels', 'bench', 'scripts', 'docs', 'test'];

t.test("every pointer of the code into docs/ (\"DESIGN.md, 'Section'\") names a section that exists", async (t) => {
  const files = ['bench', 'bin', 'engine', 'kernels', 'model', 'scripts', 'train'].flatMap(sources);
  const pointers = files.flatMap((f) => [...readFileSync(path.join(root, f), 'utf8').matchAll(/(DESIGN|measurements)\.md, '([^']+)'/g)]
    .map((m) => ({ at: f, doc: `docs/${m[1]}.md`, section: m[2].replace(/\s*\n\s*(\/\/|\*)?\s*/g, ' ') })));
  t.ok(pointers.length >= 8, `${pointers.length} pointers`);
  const headings = (doc: string): string[] => [...readFileSync(path.join(root, doc), 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) => m[1]);
  t.same(pointers.filter((p) => !headings(p.doc).some((h) => h.startsWith(p.section))), [], 'each names a heading of its page');
});
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

/** README.md and every page of docs/. */
const DOCS = ['README.md', ...readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const readDoc = (doc: string): string => readFileSync(path.join(root, doc), 'utf8');

t.test('README.md stays under 250 lines and DESIGN.md under 400', async (t) => {
  const lines = (doc: string): number => readDoc(doc).split('\n').length - 1;
  t.ok(lines('README.md') <= 250, `README.md: ${lines('README.md')} lines`);
  t.ok(lines('docs/DESIGN.md') <= 400, `docs/DESIGN.md: ${lines('docs/DESIGN.md')} lines`);
});

t.test('every path README.md and the pages of docs/ name exists', async (t) => {
  t.ok(DOCS.length >= 10, `${DOCS.length} docs`);
  for (const doc of DOCS) {
    const named = [...new Set(readDoc(doc).match(new RegExp(`\\b(${ROOMS.join('|')})/[\\w./-]*\\w`, 'g')) ?? [])]
      .filter((p) => !/\.(json|jsonl|md|png|svg|safetensors|txt|bin)$/.test(p) || p.startsWith('docs/') || p.startsWith('bench/'));
    if (doc === 'README.md' || doc === 'docs/DESIGN.md') t.ok(named.length > 10, `${doc}: ${named.length} paths`);
    t.same(named.filter((p) => !existsSync(path.join(root, p))), [], `${doc}: no path that is not in the tree`);
  }
});

t.test('every link of README.md and the pages of docs/ leads to a file that exists', async (t) => {
  for (const doc of DOCS) {
    const targets = [...readDoc(doc).matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/.test(l));
    const missing = targets.filter((l) => !existsSync(path.join(root, path.dirname(doc), l)));
    t.same(missing, [], `${doc}: ${targets.length} links, none to a missing file`);
  }
  const readme = readDoc('README.md');
  const pages = DOCS.filter((d) => d !== 'README.md');
  t.same(pages.filter((d) => !readme.includes(`(${d})`)), [], 'the README links every page of docs/');
});

const COMMANDS = [
  'train', 'pretrain', 'dpo', 'mask-study', 'generate', 'eval', 'grads', 'sweep', 'tune', 'bench', 'download', 'info', 'web',
];
/** Flags the docs name that belong to something other than a wgpt command, and the file that takes each. */
const OTHER_FLAGS: Record<string, string> = {
  'mesa-backports': 'scripts/setup.sh', 'dry-run': 'scripts/setup.sh', peers: 'scripts/setup.sh',
  runs: 'bench/matmul.ts', compare: 'bench/matmul.ts', quick: 'bench/peers/selfcheck-jaxjs.ts',
  requeue: 'train/sweep/slurm.ts', 'enable-unsafe-webgpu': 'test/helpers/browser.ts',
};

t.test('every `wgpt <command>` and `--flag` the docs name is in the flag tables of bin/commands/', async (t) => {
  const tables: Record<string, Set<string>> = {};
  for (const c of COMMANDS) {
    const { FLAGS } = (await import(`../bin/commands/${c}.ts`)) as { FLAGS: readonly Entry<never>[] };
    tables[c] = new Set(Object.keys(parseArgsOptions(FLAGS)));
  }
  const anyTable = new Set(Object.values(tables).flatMap((s) => [...s]));
  for (const [flag, file] of Object.entries(OTHER_FLAGS)) {
    t.match(readFileSync(path.join(root, file), 'utf8'), `--${flag}`, `--${flag} is ${file}'s`);
  }
  let commands = 0;
  for (const doc of DOCS) {
    const text = readDoc(doc);
    // Code: fenced blocks' lines and inline spans.
    const code = [...text.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].flatMap((m) => m[1].split('\n'))
      .concat([...text.replace(/```[\s\S]*?```/g, '').matchAll(/`([^`\n]+)`/g)].map((m) => m[1]));
    const wrong: string[] = [];
    for (const line of code) {
      for (const m of line.matchAll(/\bwgpt ([a-z][a-z-]*)/g)) {
        commands++;
        if (!tables[m[1]]) wrong.push(`wgpt ${m[1]}: no such command`);
      }
      // The flags after `wgpt <command>` on a line of code are that command's, up to a pipe, a `;` or a comment.
      const at = /\bwgpt ([a-z][a-z-]*)([^|;#]*)/.exec(line);
      const own = at && tables[at[1]] ? [...at[2].matchAll(/(?:^|\s)--([a-z][a-z0-9-]*)/g)].map((f) => f[1]) : [];
      for (const f of own) if (!tables[at![1]].has(f)) wrong.push(`wgpt ${at![1]} --${f}: not in its table`);
      for (const f of line.matchAll(/(?:^|[\s([])--([a-z][a-z0-9-]*)/g)) {
        if (!anyTable.has(f[1]) && !(f[1] in OTHER_FLAGS)) wrong.push(`--${f[1]}: in no flag table`);
      }
    }
    t.same(wrong, [], `${doc}: every command and flag exists`);
  }
  t.ok(commands > 50, `${commands} commands named`);
});
