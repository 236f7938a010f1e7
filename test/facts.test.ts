// The built-in fact world: the held-out half is truly held out (no question about a held-out person,
// in any phrasing, in the finetuning split), every held-out answer is also a finetuning answer, no
// held-out person is a copy of a finetuning person (values paired independently per relation), and
// the pretraining text states facts only (no question) in several phrasings, its validation text in
// a wording of its own.
import t from 'tap';
import { splitData } from '../train/data/entries.ts';
import {
  biographies, FACT_TASKS, factPools, factWorld, generateFactData, nearestAnswer, nearestFinetuned, sharedFacts, statementPrompt,
  unseenInstructions, UNSEEN_FORMS,
} from '../train/data/facts.ts';
import { drawEntries } from '../train/data/synthetic.ts';
import { builtinText } from '../train/builtin/base.ts';
import { defaultTrainOptions } from '../train/builtin/recipes.ts';

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

t.test('no held-out person is a copy of a finetuning person: at most one shared fact, as chance pairing gives', async (t) => {
  const finetuned = world.filter((p) => !p.heldOut);
  let most = 0;
  for (const h of world) for (const f of finetuned) if (h !== f) most = Math.max(most, sharedFacts(h, f));
  t.equal(most, 1, 'the most facts any person shares with any finetuning person');
  for (const h of heldOut) {
    const partners = FACT_TASKS.map((task) => finetuned.filter((f) => f.facts[task] === h.facts[task]));
    t.ok(partners.every((p) => p.length === 1), `${h.name}: each value shared with one finetuning person`);
    t.equal(new Set(partners.map((p) => p[0].name)).size, FACT_TASKS.length, `${h.name}: a different one for each relation`);
  }
});

t.test("the nearest finetuning person's answer is never the right one", async (t) => {
  t.ok(splits.test.every((q) => nearestAnswer(q) !== q.output), 'no held-out answer is the nearest finetuning person\'s');
  const h = heldOut[0];
  const near = nearestFinetuned(h, 'job');
  t.notOk(near.heldOut, 'a finetuning person');
  t.ok(FACT_TASKS.filter((x) => x !== 'job').some((x) => near.facts[x] === h.facts[x]), 'sharing one of the other facts');
});

t.test('the val split asks its own questions: the held-out people\'s facts, in a phrasing neither train nor test uses', async (t) => {
  const asked = (es: readonly { instruction: string }[]): Set<string> => new Set(es.map((e) => e.instruction));
  const test = asked(splits.test);
  const train = asked(splits.train);
  t.equal(splits.val.length, 90);
  t.same(splits.val.filter((e) => test.has(e.instruction) || train.has(e.instruction)), [], 'no val question in test or train');
  t.ok(splits.val.every((e) => mentions(e.instruction, heldOut)), 'about held-out people');
  t.ok(splits.val.every((e) => e.output === splits.test.find((q) => q.task === e.task && q.output === e.output)?.output),
    'answered as the test answers the same fact');
  const drawn = drawEntries(factPools(), 123, 1800);
  t.same(data.slice(0, 1710), drawn.slice(0, 1710), 'train and test as the draw gives them (the entries of before the val split)');
  t.notSame(data.slice(1710), drawn.slice(1710), 'val replaced');
});

t.test('the unseen instructions: one per held-out fact and form, never in train, val or test', async (t) => {
  const unseen = unseenInstructions();
  t.equal(unseen.length, 2 * 60);
  t.same(UNSEEN_FORMS.map((f) => unseen.filter((e) => e.form === f).length), [60, 60]);
  const used = new Set(data.map((e) => e.instruction));
  t.same(unseen.filter((e) => used.has(e.instruction)), [], 'no unseen instruction in any split');
  const form = unseen.find((e) => e.form === 'answer-form' && e.task === 'birth-city')!;
  const p = heldOut.find((h) => form.instruction.includes(h.name))!;
  t.equal(form.output, `${p.name} was born in ${p.facts['birth-city']}.`, 'the other answer form names the person');
  const phr = unseen.find((e) => e.form === 'phrasing' && e.task === 'job')!;
  t.match(phr.output, /^This person works as a \w+\.$/, 'the new phrasing is answered as in finetuning');
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
  const sentences = (docs: string[]): Set<string> => new Set(docs.flatMap((d) => d.split(/(?<=\.) /)));
  const train = sentences(text.documents);
  const val = sentences(text.valDocuments!);
  t.ok(val.size >= 3 * world.length, `the validation text states every fact (${val.size} sentences)`);
  t.same([...val].filter((v) => train.has(v)), [], 'no validation sentence is in the training text');
  t.equal(statementPrompt({ instruction: `Where was ${anna.name} born?`, task: 'birth-city' }), `${anna.name} was born in`);
});
