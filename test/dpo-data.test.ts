// DPO's host side, no GPU: pairs collated as the notebook does (common length, <|endoftext|> pads,
// the selection under --mask prompt and none, truncation), the loss and its gradient against
// values worked by hand, one-line validation errors, and the built-in synthetic pairs.
import t from 'tap';
import { IGNORE_INDEX } from '../train/data/collate.ts';
import { collatePairs, encodePair, type EncodedPair } from '../train/dpo/collate.ts';
import { syntheticPreferences } from '../train/dpo/pairs.ts';
import { validatePreferences } from '../train/dpo/data.ts';
import { dpoLoss, negLogSigmoid, sigmoid } from '../train/dpo/loss.ts';
import { generateFactData } from '../train/data/facts.ts';
import { outputVocabOf } from '../train/data/encode.ts';
import { encode } from '../model/tokenizer.ts';

const PAD = 50256;
// Hand-made token lists: prompt of 3, chosen 3 + 2 answer tokens, rejected 3 + 4.
// Header lengths: 1 (token 20 and 30 are pair 0's header), 0 for the short pair.
const pair: EncodedPair = { promptLength: 3, headerLength: 1, chosen: [10, 11, 12, 20, 21], rejected: [10, 11, 12, 30, 31, 32, 33] };
const short: EncodedPair = { promptLength: 2, headerLength: 0, chosen: [40, 41, 42], rejected: [40, 41, 50] };
const row = (a: Int32Array, r: number, len: number): number[] => Array.from(a.subarray(r * len, (r + 1) * len));
const I = IGNORE_INDEX;

t.test('collate: chosen rows then rejected, padded with 50256 to the longest + 1, shifted by one', async (t) => {
  const b = collatePairs([pair, short], { mask: 'prompt', allowedMaxLength: 1024 });
  t.equal(b.pairs, 2);
  t.equal(b.seqLen, 7, 'max(len + 1) = 8 padded, inputs 7');
  t.same(row(b.inputs, 0, 7), [10, 11, 12, 20, 21, PAD, PAD], 'chosen of pair 0');
  t.same(row(b.inputs, 1, 7), [40, 41, 42, PAD, PAD, PAD, PAD], 'chosen of pair 1');
  t.same(row(b.inputs, 2, 7), [10, 11, 12, 30, 31, 32, 33], 'rejected of pair 0');
  t.same(row(b.inputs, 3, 7), [40, 41, 50, PAD, PAD, PAD, PAD], 'rejected of pair 1');
  // --mask prompt: targets predicting tokens at index >= promptLength, never padding.
  t.same(row(b.targets, 0, 7), [I, I, 20, 21, I, I, I]);
  t.same(row(b.targets, 1, 7), [I, 42, I, I, I, I, I]);
  t.same(row(b.targets, 2, 7), [I, I, 30, 31, 32, 33, I]);
  t.same(row(b.targets, 3, 7), [I, 50, I, I, I, I, I]);
  t.same(b.counts, [2, 1, 4, 1]);
  t.equal(b.tokens, 4 * 7);
});

t.test('collate: --mask none selects every real token after the first', async (t) => {
  const b = collatePairs([pair, short], { mask: 'none', allowedMaxLength: 1024 });
  t.same(row(b.targets, 0, 7), [11, 12, 20, 21, I, I, I]);
  t.same(row(b.targets, 3, 7), [41, 50, I, I, I, I, I]);
  t.same(b.counts, [4, 2, 6, 2]);
});

t.test('collate: --mask answer leaves the response header out too', async (t) => {
  const b = collatePairs([pair, short], { mask: 'answer', allowedMaxLength: 1024 });
  t.same(row(b.targets, 0, 7), [I, I, I, 21, I, I, I]);
  t.same(row(b.targets, 2, 7), [I, I, I, 31, 32, 33, I]);
  t.same(row(b.targets, 3, 7), [I, 50, I, I, I, I, I]);
  t.same(b.counts, [1, 1, 3, 1]);
});

t.test('collate: truncation to allowedMaxLength (the padded length) cuts the selection too', async (t) => {
  const b = collatePairs([pair], { mask: 'prompt', allowedMaxLength: 5 });
  t.equal(b.seqLen, 4, 'padded length 8 truncated to 5, inputs 4');
  t.same(row(b.inputs, 1, 4), [10, 11, 12, 30]);
  t.same(row(b.targets, 1, 4), [I, I, 30, 31]);
  t.same(b.counts, [2, 2]);
  t.throws(() => collatePairs([pair], { mask: 'half', allowedMaxLength: 5 }), /unknown --mask "half" for dpo: use prompt, answer or none/);
  t.throws(() => collatePairs([], { mask: 'prompt', allowedMaxLength: 5 }), /empty batch/);
});

t.test('encodePair: prompt + response header + answer, no end token; promptLength is the prompt alone', async (t) => {
  const e = { instruction: 'Give the plural of the noun.', input: 'cat', output: 'cats', chosen: 'cats', rejected: 'the cats' };
  const p = encodePair(e, 'alpaca');
  const header = encode('\n\n### Response:\n', false);
  t.same(p.chosen.slice(p.promptLength), [...header, ...encode('cats', false)]);
  t.same(p.rejected.slice(p.promptLength), [...header, ...encode('the cats', false)]);
  t.equal(p.headerLength, header.length);
  t.same(p.chosen.slice(0, p.promptLength), p.rejected.slice(0, p.promptLength), 'one prompt');
  t.notOk(p.chosen.includes(PAD), 'no end token');
});

t.test('the loss, gradients and rewards against hand-computed values', async (t) => {
  // Pair 0: policy prefers chosen by 1 more than the reference -> z = beta * 1.
  // Pair 1: policy and reference agree -> z = 0, loss ln 2.
  const beta = 0.5;
  const l = dpoLoss([-1, -2], [-3, -2], [-2, -1], [-3, -1], beta);
  const z0 = 0.5 * ((-1 - -3) - (-2 - -3));
  const want = (Math.log(1 + Math.exp(-z0)) + Math.log(2)) / 2;
  t.ok(Math.abs(l.loss - want) < 1e-15, `loss ${l.loss} vs ${want}`);
  t.ok(Math.abs(l.gradChosen[0] - (-beta * (1 / (1 + Math.exp(z0)))) / 2) < 1e-15, 'dL/dπc = -beta sigmoid(-z) / B');
  t.equal(l.gradRejected[0], -l.gradChosen[0], 'dL/dπr = -dL/dπc');
  t.ok(Math.abs(l.gradChosen[1] - -0.125) < 1e-15, 'z = 0: -beta / 2 / B');
  t.equal(l.chosenReward, ((-1 - -2) + (-2 - -1)) / 2, 'chosen reward: mean of π - r');
  t.equal(l.rejectedReward, ((-3 - -3) + (-2 - -1)) / 2);
  t.equal(l.margin, l.chosenReward - l.rejectedReward);
  t.equal(l.preferred, 1, 'pair 0 prefers chosen, pair 1 ties');
  // Finite differences of the loss itself.
  const h = 1e-6;
  const fd = (dpoLoss([-1 + h, -2], [-3, -2], [-2, -1], [-3, -1], beta).loss -
    dpoLoss([-1 - h, -2], [-3, -2], [-2, -1], [-3, -1], beta).loss) / (2 * h);
  t.ok(Math.abs(fd - l.gradChosen[0]) < 1e-8, `finite difference ${fd} vs ${l.gradChosen[0]}`);
  // --sft-weight: the objective adds W * mean(-πc); its gradient is the finite difference of the objective.
  const w = dpoLoss([-1, -2], [-3, -2], [-2, -1], [-3, -1], beta, 0.7);
  t.equal(w.loss, l.loss, 'the DPO loss itself is unchanged');
  t.equal(w.sft, 1.5, 'chosen NLL: mean of -πc');
  t.ok(Math.abs(w.objective - (l.loss + 0.7 * 1.5)) < 1e-15, 'objective = loss + W * sft');
  const fdw = (dpoLoss([-1 + h, -2], [-3, -2], [-2, -1], [-3, -1], beta, 0.7).objective -
    dpoLoss([-1 - h, -2], [-3, -2], [-2, -1], [-3, -1], beta, 0.7).objective) / (2 * h);
  t.ok(Math.abs(fdw - w.gradChosen[0]) < 1e-8, `with W: finite difference ${fdw} vs ${w.gradChosen[0]}`);
  t.equal(w.gradRejected[0], l.gradRejected[0], 'the rejected side is untouched');
  // Stable at the extremes.
  t.equal(negLogSigmoid(1000), 0);
  t.equal(negLogSigmoid(-1000), 1000);
  t.equal(sigmoid(-1000), 0);
  t.equal(sigmoid(1000), 1);
  t.ok(Math.abs(negLogSigmoid(0) - Math.LN2) < 1e-16);
  t.throws(() => dpoLoss([1], [1, 2], [1], [1], 0.1), /expected the same number/);
});

t.test('validation: one line naming the entry and field', async (t) => {
  const ok = { instruction: 'i', input: '', output: 'o', chosen: 'c', rejected: 'r' };
  t.same(validatePreferences([ok], 'f.json')[0], ok);
  t.equal(validatePreferences([{ instruction: 'i', chosen: 'c', rejected: 'r' }])[0].output, 'c', 'output defaults to the chosen answer');
  const bad: Array<[unknown, RegExp]> = [
    [{ a: 1 }, /^f\.json: expected a JSON array of preference entries, got an object$/],
    [[ok, { instruction: 'i', output: 'o', rejected: 'r' }],
      /^f\.json: entry 1: "chosen" must be a string, got nothing \(missing\) \(DPO needs preference pairs/],
    [[{ ...ok, rejected: 3 }], /^f\.json: entry 0: "rejected" must be a string, got number 3$/],
    [[{ ...ok, instruction: null }], /^f\.json: entry 0: "instruction" must be a string, got null$/],
    [[{ ...ok, input: [] }], /^f\.json: entry 0: "input" must be a string when present, got an array$/],
    [['x'], /^f\.json: entry 0: must be an object with "instruction", "chosen" and "rejected", got string "x"$/],
  ];
  for (const [data, re] of bad) {
    t.throws(() => validatePreferences(data, 'f.json'), re);
    try {
      validatePreferences(data, 'f.json');
    } catch (e) {
      t.notMatch((e as Error).message, /\n/, 'one line');
    }
  }
});

t.test('built-in pairs: the SFT data in its order, rejected = another answer (same task or another), inside its vocabulary', async (t) => {
  const pairs = syntheticPreferences(123, 2000);
  const entries = generateFactData({ seed: 123, count: 2000 });
  t.equal(pairs.length, 2000);
  t.ok(pairs.every((p, i) => p.instruction === entries[i].instruction && p.input === entries[i].input && p.chosen === entries[i].output),
    'same entries, chosen = the right answer');
  t.ok(pairs.every((p) => p.rejected !== p.chosen), 'rejected is wrong');
  const answersOf = (task: string): Set<string> => new Set(entries.filter((e) => e.task === task).map((e) => e.output));
  t.ok(pairs.every((p, i) => i % 2 === 1 || answersOf(p.task!).has(p.rejected)), 'even pairs reject another answer of the same task');
  const othersOf = (task: string): Set<string> => new Set(entries.filter((e) => e.task !== task).map((e) => e.output));
  t.ok(pairs.every((p, i) => i % 2 === 0 || othersOf(p.task!).has(p.rejected)), 'odd pairs reject an answer of another task');
  t.ok(pairs.filter((_, i) => i % 2 === 1).filter((p) => !answersOf(p.task!).has(p.rejected)).length > 900,
    'most of which no entry of its own task gives');
  const vocab = new Set(outputVocabOf(entries, 'alpaca'));
  t.ok(pairs.every((p) => encode(p.rejected, false).every((id) => vocab.has(id))), 'every rejected token is in the SFT output vocabulary');
  t.same(syntheticPreferences(123, 2000), pairs, 'deterministic');
});
