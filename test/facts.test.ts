// The built-in fact world: the held-out half is truly held out (no question about a held-out person,
// in any phrasing, in the finetuning split), every held-out answer is also a finetuning answer, no
// held-out person is a copy of a finetuning person (values paired independently per relation), and
// the pretraining text states facts only (no question) in several phrasings, its validation text in
// a wording of its own.
import t from 'tap';
import { splitData } from '../train/data/entries.ts';
import { nearestAnswerShare } from '../train/builtin/run.ts';
import {
  biographies, FACT_TASKS, factWorld, generateFactData, nearestAnswer, nearestFinetuned, sharedFacts, statementPrompt,
} from '../train/data/facts.ts';
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

t.test("the nearest finetuning person's answer is never the right one, and the summary's share counts it", async (t) => {
  const questions = splits.test;
  t.ok(questions.every((q) => nearestAnswer(q) !== q.output), 'no held-out answer is the nearest finetuning person\'s');
  const h = heldOut[0];
  const near = nearestFinetuned(h, 'job');
  t.notOk(near.heldOut, 'a finetuning person');
  t.ok(FACT_TASKS.filter((x) => x !== 'job').some((x) => near.facts[x] === h.facts[x]), 'sharing one of the other facts');
  const right = questions.map((q) => ({ ...q, model_response: q.output }));
  const copied = questions.map((q) => ({ ...q, model_response: nearestAnswer(q) }));
  const share = nearestAnswerShare(right, copied);
  t.equal(share.finetuned.accuracy, 0, 'right answers: none is the nearest person\'s');
  t.equal(share.control.accuracy, 1, 'copied answers: all are');
  t.same(Object.values(share.control.per_task).map((g) => g.n), [60, 60, 60], 'per relation');
  t.equal(share.correct_answers.accuracy, 0, 'the right answers themselves');
  t.equal(share.chance, 1 / 20, 'twenty values per relation');
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
