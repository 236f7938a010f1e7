// The built-in run's evidence (train/builtin/evidence.ts, table.ts) on fake answerers and fake
// models: the copying share is high for a model that copies in a world with twins and near chance
// for one that errs at random in today's world; the cloze metric counts a fact a model states and
// not one it does not; the finetuned accuracy splits by what the base knew; the seeds' table
// gives mean ± sd [min–max].
import t from 'tap';
import type { Entry } from '../train/data/entries.ts';
import { answerOf, FACT_TASKS, factPools, factWorld, nearestFinetuned, questionFact, type Person } from '../train/data/facts.ts';
import { Rng } from '../train/run/loader.ts';
import {
  byBaseKnowledge, clozeAccuracy, copiedAnswerShare, copiedShare, copyingChance, statesValue, unseenScore,
} from '../train/builtin/evidence.ts';
import { builtinColumns, builtinMarkdown, spreadOver } from '../train/builtin/table.ts';
import type { BuiltinSummary } from '../train/builtin/run.ts';

const world = factWorld();

/** A world of twins (issue 26's): held-out person j shares birth city and year with finetuning
 *  person j and has a job of their own, so copying the twin is right on two relations and wrong,
 *  and a copy, on the third. */
function twinWorld(): Person[] {
  const n = 20;
  const out: Person[] = [];
  for (let j = 0; j < n; j++) {
    out.push({ name: `Fin Person${String.fromCharCode(65 + j)}`, heldOut: false,
      facts: { 'birth-city': `City${j}`, 'birth-year': String(1900 + j), job: `job${j}` } });
  }
  for (let j = 0; j < n; j++) {
    out.push({ name: `Held Person${String.fromCharCode(65 + j)}`, heldOut: true,
      facts: { 'birth-city': `City${j}`, 'birth-year': String(1900 + j), job: `job${n + j}` } });
  }
  return out;
}

const heldOutQuestions = (w: readonly Person[]): Entry[] => factPools(w).heldOut.flat();
/** A model that answers each question with the answer of the finetuning person most like the asker. */
const copier = (qs: readonly Entry[], w: readonly Person[]): Entry[] => qs.map((q) => {
  const { person, task } = questionFact(q, w);
  return { ...q, model_response: answerOf(task, nearestFinetuned(person, task, w)) };
});
/** A model that is wrong everywhere, with another of the relation's finetuning answers drawn at random. */
const randomWrong = (qs: readonly Entry[], w: readonly Person[], seed: number): Entry[] => {
  const rng = new Rng(seed);
  return qs.map((q) => {
    const { task } = questionFact(q, w);
    const others = [...new Set(w.filter((p) => !p.heldOut).map((p) => answerOf(task, p)))].filter((a) => a !== q.output);
    return { ...q, model_response: others[rng.int(others.length)] };
  });
};

t.test('the copying share: high for a copier in a world of twins, near chance for random errors in today\'s world', async (t) => {
  const twins = twinWorld();
  const tq = heldOutQuestions(twins);
  const copied = copiedShare(copier(tq, twins), twins);
  t.equal(copied.wrong, 60, 'a copier of twins is wrong on one relation in three (20 people x 3 phrasings)');
  t.equal(copied.share, 1, 'and every wrong answer is the twin\'s');
  const twinChance = copyingChance(tq, twins);
  t.equal(twinChance.toFixed(4), (1 / 60).toFixed(4), 'chance from the world: one copy candidate of 20 on the job, none elsewhere');
  t.ok(copied.share > 5 * twinChance, 'far above chance');

  const q = heldOutQuestions(world);
  const chance = copyingChance(q, world);
  t.equal(chance.toFixed(4), (2 / 19).toFixed(4), "today's world: two of the 19 wrong answers are copy candidates");
  const random = copiedShare(randomWrong(q, world, 7), world);
  t.equal(random.wrong, 180);
  t.ok(Math.abs(random.share - chance) < 0.07, `random errors near chance (${random.share.toFixed(3)} against ${chance.toFixed(3)})`);
  t.equal(copiedShare(copier(q, world), world).share, 1, 'a copier is caught in today\'s world too');
  const right = q.map((e) => ({ ...e, model_response: e.output }));
  t.same(copiedShare(right, world), { wrong: 0, copied: 0, share: 0 }, 'right answers are neither wrong nor copies');
  const both = copiedAnswerShare(right, copier(q, world), world);
  t.same([both.finetuned.share, both.control.share, both.chance], [0, 1, chance]);
});

t.test('the cloze metric: a model that states a fact counts it, one that does not, not', async (t) => {
  t.ok(statesValue(' Dublin.', 'Dublin'));
  t.ok(statesValue(' 1921 and', '1921'));
  t.notOk(statesValue(' Dubliner', 'Dublin'), 'the value must end there');
  t.notOk(statesValue(' in Dublin', 'Dublin'), 'and come first');
  const held = world.filter((p) => p.heldOut);
  const victor = held[0];
  /** Knows every fact of `knows`, answers Paris/1900/baker otherwise. */
  const fake = (knows: (prompt: string) => boolean) => async (prompts: string[]): Promise<string[]> => prompts.map((p) => {
    const person = held.find((h) => p.startsWith(h.name))!;
    const task = FACT_TASKS.find((x) => p === `${person.name}${{ 'birth-city': ' was born in', 'birth-year': "'s year of birth is",
      job: ' works as a' }[x]}`)!;
    return knows(p) ? ` ${person.facts[task]}. More` : ' Nowhere';
  });
  const all = await clozeAccuracy(fake(() => true));
  t.same([all.n, all.correct, all.accuracy], [60, 60, 1], 'knows all 60 held-out facts');
  const none = await clozeAccuracy(fake(() => false));
  t.same([none.correct, none.accuracy], [0, 0], 'knows none');
  const one = await clozeAccuracy(fake((p) => p === `${victor.name} was born in`));
  t.equal(one.correct, 1, 'knows one');
  t.same(one.facts.filter((f) => f.known).map((f) => [f.person, f.task, f.value]),
    [[victor.name, 'birth-city', victor.facts['birth-city']]]);
  t.same(Object.values(one.per_task).map((g) => g.correct), [1, 0, 0], 'per relation');

  const q = heldOutQuestions(world);
  const answered = q.map((e) => ({ ...e, model_response: questionFact(e, world).person === victor ? e.output : 'no' }));
  const split = byBaseKnowledge(answered, one, world);
  t.same(split.known, { n: 3, correct: 3, accuracy: 1 }, 'the known fact\'s three phrasings, answered');
  t.same(split.unknown, { n: 177, correct: 6, accuracy: 6 / 177 }, 'the others: Victor\'s other two facts answered');
});

t.test('the unseen instructions scored per form', async (t) => {
  const es = [
    { instruction: 'a', output: 'x', model_response: 'x', form: 'phrasing' },
    { instruction: 'b', output: 'y', model_response: 'z', form: 'phrasing' },
    { instruction: 'c', output: 'w', model_response: 'w', form: 'answer-form' },
  ];
  const s = unseenScore(es);
  t.same([s.accuracy.toFixed(3), s.n], ['0.667', 3]);
  t.same(s.per_form, { phrasing: { accuracy: 0.5, n: 2 }, 'answer-form': { accuracy: 1, n: 1 } });
});

t.test('the seeds\' table: one seed plain, several mean ± sd [min–max]', async (t) => {
  const group = (accuracy: number): { n: number; correct: number; accuracy: number; rougeL: number; per_task: object } =>
    ({ n: 10, correct: 10 * accuracy, accuracy, rougeL: 0, per_task: { job: { n: 10, correct: 10 * accuracy, accuracy, rougeL: 0 } } });
  const summary = (f: number): BuiltinSummary => ({
    heldout_exact_match: group(f), control_exact_match: group(0.05), base_exact_match: group(0),
    copied_answer_share: { finetuned: { wrong: 2, copied: 0, share: 0 }, control: { wrong: 9, copied: 1, share: 1 / 9 }, chance: 0.1 },
    base_cloze_accuracy: { ...group(0.9), facts: [] },
    heldout_by_base_knowledge: { known: { n: 9, correct: 9, accuracy: 1 }, unknown: { n: 1, correct: 0, accuracy: 0 } },
    heldout_unseen_instruction: { finetuned: { accuracy: 0.5, n: 2, per_form: { phrasing: { accuracy: 0.5, n: 2 } } },
      control: { accuracy: 0, n: 2, per_form: { phrasing: { accuracy: 0, n: 2 } } }, base: { accuracy: 0, n: 2, per_form: {} } },
    seed: 1, fact_world: { people: 40, held_out: 20, max_shared_facts: 1 }, base_examples: [],
    seconds: { base_pretraining: 0, finetuning: 0, control: 0, total: 0 }, base_model: '',
  } as unknown as BuiltinSummary);
  t.equal(builtinColumns(summary(0.9))['overall/finetuned'], 0.9);
  const spread = spreadOver([summary(0.9), summary(1)]);
  t.same(spread['overall/finetuned'].values, [0.9, 1]);
  t.equal(spread['overall/finetuned'].sd.toFixed(4), Math.sqrt(0.005).toFixed(4), 'sample sd');
  const md = builtinMarkdown([summary(0.9), summary(1)]);
  t.match(md, /\| overall \| 90% ± 0\.0 \[90%–90%\] \| 0% ± 0\.0 \[0%–0%\] \| 95% ± 7\.1 \[90%–100%\] \| 5% ± 0\.0 \[5%–5%\] \|/);
  t.match(builtinMarkdown([summary(0.9)]), /\| overall \| 90% \| 0% \| 90% \| 5% \|/, 'one seed: the shares alone');
  t.match(md, /\| copied answer share \| {2}\| {2}\| 0% ± 0\.0 \[0%–0%\] \| 11% ± 0\.0 \[11%–11%\] \| 10% ± 0\.0 \[10%–10%\] \|/);
  // A base that knew every fact leaves no base-unknown questions: a dash, not 0%.
  const allKnown = (f: number): BuiltinSummary => ({ ...summary(f),
    heldout_by_base_knowledge: { known: { n: 10, correct: 10 * f, accuracy: f }, unknown: { n: 0, correct: 0, accuracy: 0 } } });
  const md2 = builtinMarkdown([allKnown(0.9), allKnown(1)]);
  t.match(md2, /\| finetuned on base-unknown facts \| {2}\| {2}\| - \| {2}\| {2}\|/, 'no base-unknown facts: a dash');
  t.match(md2, /\| finetuned on base-known facts \| {2}\| {2}\| 95% ± 7\.1 \[90%–100%\] \|/);
});
