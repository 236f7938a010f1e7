import t from 'tap';
import { generateSyntheticData, SYNTHETIC_TASKS, syntheticPools } from '../train/data/synthetic.ts';
import { splitData, validateEntries } from '../train/data/entries.ts';
import { encodeEntry } from '../train/data/encode.ts';

const key = (e: { instruction: string; input?: string }): string => `${e.instruction}\u0000${e.input ?? ''}`;

t.test('deterministic, seeded, valid entries', async (t) => {
  const a = generateSyntheticData({ seed: 1, count: 500 });
  t.equal(a.length, 500);
  t.same(generateSyntheticData({ seed: 1, count: 500 }), a);
  t.notSame(generateSyntheticData({ seed: 2, count: 500 }), a);
  t.equal(validateEntries(JSON.parse(JSON.stringify(a))).length, 500, 'passes the loader validation');
  t.same(new Set(a.map((e) => e.task)), new Set(SYNTHETIC_TASKS), 'all tasks present');
  const perTask = new Map<string, number>();
  for (const e of a) perTask.set(e.task, (perTask.get(e.task) ?? 0) + 1);
  for (const n of perTask.values()) t.ok(Math.abs(n - 500 / SYNTHETIC_TASKS.length) <= 2, 'balanced tasks');
});

// The answers, written out here rather than read from train/data/synthetic.ts.
const CAPITAL: Record<string, string> = {
  France: 'Paris', Germany: 'Berlin', Italy: 'Rome', Spain: 'Madrid', Japan: 'Tokyo', China: 'Beijing',
  Russia: 'Moscow', Egypt: 'Cairo', Peru: 'Lima', Greece: 'Athens', Norway: 'Oslo', Cuba: 'Havana',
};
const PLURAL: Record<string, string> = {
  cat: 'cats', dog: 'dogs', box: 'boxes', child: 'children', mouse: 'mice', man: 'men',
  foot: 'feet', city: 'cities', leaf: 'leaves', book: 'books', person: 'people', fox: 'foxes',
};
const OPPOSITE: Record<string, string> = {};
for (const [a, b] of [['hot', 'cold'], ['big', 'small'], ['fast', 'slow'], ['up', 'down'], ['happy', 'sad'], ['old', 'new'],
  ['open', 'closed'], ['early', 'late'], ['rich', 'poor'], ['full', 'empty'], ['wet', 'dry'], ['true', 'false']]) {
  OPPOSITE[a] = b;
  OPPOSITE[b] = a;
}

t.test('answers are correct (checked independently)', async (t) => {
  const data = generateSyntheticData({ seed: 5, count: 3000 });
  let checked = 0;
  for (const e of data) {
    const ok = (() => {
      switch (e.task) {
        case 'uppercase': return e.output === e.input.toUpperCase();
        case 'next-number': return Number(e.output) === Number(e.input) + 1;
        case 'add': { const [x, y] = e.input.split(' + ').map(Number); return Number(e.output) === x + y && x < 10 && y < 10; }
        case 'sort': return e.output === e.input.split(' ').map(Number).sort((p, q) => p - q).join(' ');
        case 'repeat': return e.output === `${e.input} ${e.input}`;
        case 'first-word': return e.output === e.input.split(' ')[0];
        case 'capital': return CAPITAL[e.input] !== undefined && e.output === CAPITAL[e.input];
        case 'antonym': return OPPOSITE[e.input] !== undefined && e.output === OPPOSITE[e.input];
        case 'plural': return PLURAL[e.input] !== undefined && e.output === PLURAL[e.input];
        default: return false;
      }
    })();
    if (!ok) t.fail(`wrong answer: ${JSON.stringify(e)}`);
    else checked++;
  }
  t.equal(checked, 3000);
  // Every known pair appears: the tables above cover the generator's pools, not a subset.
  for (const [task, table] of [['capital', CAPITAL], ['antonym', OPPOSITE], ['plural', PLURAL]] as const) {
    t.same(new Set(data.filter((e) => e.task === task).map((e) => e.input)), new Set(Object.keys(table)), `${task}: every input seen`);
  }
});

t.test('held-out never overlaps train', async (t) => {
  const data = generateSyntheticData({ seed: 7, count: 2000 });
  const s = splitData(data);
  const trainKeys = new Set(s.train.map(key));
  const held = [...s.test, ...s.val];
  t.equal(held.length, 300);
  t.equal(held.filter((e) => trainKeys.has(key(e))).length, 0);
  // And the pools themselves are disjoint.
  const pools = syntheticPools(7);
  const tk = new Set(pools.train.flat().map(key));
  t.equal(pools.heldOut.flat().filter((e) => tk.has(key(e))).length, 0);
  // Held-out entries are distinct while a task's pool lasts, then they cycle.
  SYNTHETIC_TASKS.forEach((task, i) => {
    const h = held.filter((e) => e.task === task);
    t.equal(new Set(h.map(key)).size, Math.min(h.length, pools.heldOut[i].length), `${task} held-out distinct`);
  });
  // 'input' tasks hold out the inputs themselves.
  const trainSortInputs = new Set(s.train.filter((e) => e.task === 'sort').map((e) => e.input));
  t.equal(held.filter((e) => e.task === 'sort' && trainSortInputs.has(e.input ?? '')).length, 0);
});

t.test('short enough for a context-256 toy model', async (t) => {
  const data = generateSyntheticData({ seed: 3, count: 1000 });
  let max = 0;
  for (const e of data) max = Math.max(max, encodeEntry(e, 'alpaca').ids.length + 1);
  t.ok(max <= 64, `longest alpaca item is ${max} tokens with its end token`);
  t.throws(() => generateSyntheticData({ tasks: ['nope'] }), /unknown synthetic task "nope"/);
  t.equal(generateSyntheticData({ tasks: ['add'], count: 10 }).every((e) => e.task === 'add'), true);
});
