// The built-in fact world: the held-out half is truly held out (no question about a held-out person,
// in any phrasing, in the finetuning split), every held-out answer is also a finetuning answer, and
// the pretraining text states facts only (no question) in several phrasings.
import t from 'tap';
import { splitData } from '../train/data.ts';
import { biographies, FACT_TASKS, factWorld, generateFactData, statementPrompt } from '../train/facts.ts';
import { builtinText } from '../train/pretrain/builtin.ts';
import { defaultTrainOptions } from '../train/presets.ts';

const world = factWorld();
const data = generateFactData({ seed: 123, count: defaultTrainOptions('', '').syntheticCount });
const splits = splitData(data);
const heldOut = world.filter((p) => p.heldOut);
const mentions = (text: string, people: typeof world): boolean => people.some((p) => text.includes(p.name));

t.test('40 people, half held out, each value shared by one person on each side', async (t) => {
  t.equal(world.length, 40);
  t.equal(heldOut.length, 20);
  t.equal(new Set(world.map((p) => p.name)).size, 40, 'distinct names');
  for (const task of FACT_TASKS) {
    const finetuned = new Set(world.filter((p) => !p.heldOut).map((p) => p.facts[task]));
    t.equal(finetuned.size, 20, `${task}: 20 values`);
    t.ok(heldOut.every((p) => finetuned.has(p.facts[task])), `${task}: every held-out answer is a finetuning answer`);
  }
});

t.test('no held-out person is asked about in the finetuning split; the test split asks about them only, each question once', async (t) => {
  t.notOk(splits.train.some((e) => mentions(e.instruction, heldOut)), 'train split: finetuning people only');
  t.ok([...splits.test, ...splits.val].every((e) => mentions(e.instruction, heldOut)), 'test and val: held-out people only');
  t.equal(splits.test.length, 180);
  t.equal(new Set(splits.test.map((e) => e.instruction)).size, 180, 'every held-out question once (3 tasks x 20 people x 3 phrasings)');
  const perTask = FACT_TASKS.map((task) => splits.test.filter((e) => e.task === task).length);
  t.same(perTask, [60, 60, 60]);
});

t.test('the pretraining text states every fact in several phrasings and asks nothing', async (t) => {
  const text = builtinText();
  t.notOk(text.documents.some((d) => d.includes('?')), 'no question');
  const anna = world[0];
  const bios = text.documents.filter((d) => d.startsWith(anna.name) || d.includes(` ${anna.name}`));
  t.equal(bios.length, 40, 'forty biographies of each person');
  t.ok(bios.every((b) => FACT_TASKS.every((task) => b.includes(anna.facts[task]))), 'each states every fact');
  t.ok(new Set(bios).size > 20, 'in many different wordings and orders');
  t.same(biographies(2, 5), biographies(2, 5), 'deterministic');
  t.equal(statementPrompt({ instruction: `Where was ${anna.name} born?`, task: 'birth-city' }), `${anna.name} was born in`);
});
