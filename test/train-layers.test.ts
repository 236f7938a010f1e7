// train/ by stage: every file sits in a folder, and a folder imports only the folders below it.
// run/ (what every trainer shares) and data/ (instruction data) and eval/ (measuring a model) are
// shared; the stages (sft/, pretrain/, dpo/) import those and never each other; builtin/ chains the
// stages into the built-in models; study/ and sweep/ sit on top.
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const train = path.join(import.meta.dirname, '..', 'train');

/** Each folder of train/ and the folders of train/ it may import. */
const MAY_IMPORT: Record<string, string[]> = {
  run: [],
  data: ['run'],
  eval: ['run', 'data'],
  sft: ['run', 'data', 'eval'],
  pretrain: ['run', 'data', 'eval'],
  dpo: ['run', 'data', 'eval'],
  sweep: ['run', 'data', 'eval'],
  builtin: ['run', 'data', 'eval', 'sft', 'pretrain', 'dpo', 'sweep'],
  study: ['run', 'data', 'eval', 'builtin', 'sweep'],
};

t.test('train/ holds only its folders, each in the table', async (t) => {
  const entries = readdirSync(train);
  t.same(entries.filter((e) => !statSync(path.join(train, e)).isDirectory()), [], 'no loose file at train/\'s root');
  t.same(entries.sort(), Object.keys(MAY_IMPORT).sort(), 'every folder has its place in the layers');
});

t.test('a folder of train/ imports only the folders below it', async (t) => {
  const wrong: string[] = [];
  for (const folder of Object.keys(MAY_IMPORT)) {
    for (const file of readdirSync(path.join(train, folder)).filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(path.join(train, folder, file), 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
        const target = path.relative(train, path.resolve(train, folder, m[1]));
        if (target.startsWith('..')) continue; // model/ and engine/: the project's layer test
        const to = target.split(path.sep)[0];
        if (to !== folder && !MAY_IMPORT[folder].includes(to)) wrong.push(`train/${folder}/${file} imports train/${target}`);
      }
    }
  }
  t.same(wrong, [], 'imports point down');
});
