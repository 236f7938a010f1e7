// The shape of the tree, from its imports (type-only ones included: they tie files together for a
// reader as much as any): no import circle, and imports only point down the layers.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const root = path.join(import.meta.dirname, '..');

/** The layers, lowest first: a file may import from its own layer and those before it. */
const LAYERS = ['kernels', 'engine', 'model', 'train', 'bench', 'bin', 'scripts'];

const files = (dir: string): string[] => readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
  const rel = path.posix.join(dir, e.name);
  if (e.isDirectory()) return files(rel);
  return e.name.endsWith('.ts') ? [rel] : [];
});

/** Each source file and the files of this tree it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of LAYERS.flatMap(files)) {
    const { importedFiles } = ts.preProcessFile(readFileSync(path.join(root, f), 'utf8'), true, true);
    graph.set(f, importedFiles.map((i) => i.fileName).filter((s) => s.startsWith('.'))
      .map((s) => path.posix.normalize(path.posix.join(path.posix.dirname(f), s))));
  }
  return graph;
}

/** The strongly connected components of more than one file (Tarjan), each sorted. */
function circles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component = stack.splice(stack.indexOf(v));
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

const graph = importGraph();

t.test('no import circle', async (t) => {
  t.ok(graph.size > 100, `${graph.size} files read`);
  t.same(circles(graph), [], 'every circle, as its files');
});

// ops/ asks tune/ for its choices; the tuner gets the ops' dispatch functions from engine/index.ts.
t.test('engine/tune imports nothing of engine/ops', async (t) => {
  const up = [...graph].flatMap(([f, imports]) => (f.startsWith('engine/tune/') ? imports.filter((i) => i.startsWith('engine/ops/')) : [])
    .map((i) => `${f} imports ${i}`));
  t.same(up, []);
});

t.test('imports point down the layers', async (t) => {
  const layer = (f: string): number => LAYERS.indexOf(f.split('/')[0]);
  const up: string[] = [];
  for (const [f, imports] of graph) {
    for (const i of imports) if (layer(i) > layer(f)) up.push(`${f} imports ${i}`);
  }
  t.same(up, []);
});

t.test('the circle finder finds a circle', async (t) => {
  t.same(circles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]])), [['a', 'b', 'c']]);
});
