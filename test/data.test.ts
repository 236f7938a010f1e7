import t from 'tap';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadInstructionData } from '../train/data/entries-file.ts';
import { parseEntries, requireNonEmpty, splitData, type Entry } from '../train/data/entries.ts';

const SHARED = fileURLToPath(new URL('../../shared/data/instruction-data.json', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'wgpt-data-'));

t.test('loads entries, missing input becomes empty', async (t) => {
  const p = join(dir, 'ok.json');
  writeFileSync(p, JSON.stringify([{ instruction: 'a', output: 'b' }, { instruction: 'c', input: 'd', output: 'e' }]));
  const e = loadInstructionData(p);
  t.same(e, [
    { instruction: 'a', input: '', output: 'b' },
    { instruction: 'c', input: 'd', output: 'e' },
  ]);
});

t.test('malformed JSON gives one line naming the file', async (t) => {
  const p = join(dir, 'bad.json');
  writeFileSync(p, '[{"instruction": "a",\n "output": }]');
  let msg = '';
  try {
    loadInstructionData(p);
  } catch (err) {
    msg = (err as Error).message;
  }
  t.ok(msg.startsWith(`${p}: malformed JSON (`), msg);
  t.notOk(msg.includes('\n'), 'single line');
});

t.test('bad entry names its index and field', async (t) => {
  const good = { instruction: 'x', output: 'y' };
  const data = Array.from({ length: 13 }, () => ({ ...good })) as unknown[];
  data[12] = { instruction: 'x', output: 5 };
  t.throws(() => parseEntries(JSON.stringify(data), 'f.json'), /^f\.json: entry 12: "output" must be a string/);
  data[12] = { output: 'y' };
  t.throws(() => parseEntries(JSON.stringify(data), 'f.json'), /entry 12: "instruction" must be a string, got nothing/);
  data[12] = { ...good, input: 3 };
  t.throws(() => parseEntries(JSON.stringify(data), 'f.json'), /entry 12: "input" must be a string/);
  data[12] = 'hello';
  t.throws(() => parseEntries(JSON.stringify(data), 'f.json'), /entry 12: must be an object/);
  t.throws(() => parseEntries('{"a":1}', 'f.json'), /expected a JSON array/);
  t.throws(() => loadInstructionData(join(dir, 'missing.json')), /missing\.json: cannot read.*ENOENT/);
});

t.test('split sizes and order', async (t) => {
  const mk = (n: number): Entry[] => Array.from({ length: n }, (_, i) => ({ instruction: `i${i}`, input: '', output: `o${i}` }));
  const s = splitData(mk(1100));
  t.same([s.train.length, s.test.length, s.val.length], [935, 110, 55]);
  t.equal(s.train[934].instruction, 'i934');
  t.equal(s.test[0].instruction, 'i935');
  t.equal(s.test[109].instruction, 'i1044');
  t.equal(s.val[0].instruction, 'i1045');
  t.equal(s.val[54].instruction, 'i1099');
  const small = splitData(mk(5));
  t.same([small.train.length, small.test.length, small.val.length], [4, 0, 1]);
  t.throws(() => requireNonEmpty(small.test, 'test'), /the test split is empty/);
  t.equal(requireNonEmpty(small.train, 'train').length, 4);
});

t.test('the chapter file', { skip: existsSync(SHARED) ? false : `reference file absent: ${SHARED}` }, async (t) => {
  const e = loadInstructionData(SHARED);
  t.equal(e.length, 1100);
  const s = splitData(e);
  t.same([s.train.length, s.test.length, s.val.length], [935, 110, 55]);
  t.equal(s.train[0].instruction, 'Evaluate the following phrase by transforming it into the spelling given.');
});
