import t from 'tap';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { collate, IGNORE_INDEX, targetRegions } from '../train/data/collate.ts';
import { encodeEntry } from '../train/data/encode.ts';
import { getLossMask, LOSS_MASKS } from '../train/data/loss-masks.ts';
import { decode, encode } from '../model/tokenizer.ts';
import { formatPrompt } from '../train/data/prompts.ts';
import { loadInstructionData } from '../train/data/entries-file.ts';

const rows = (a: Int32Array, seqLen: number): number[][] => {
  const out: number[][] = [];
  for (let i = 0; i < a.length; i += seqLen) out.push(Array.from(a.subarray(i, i + seqLen)));
  return out;
};

t.test('chapter 7 collate example', async (t) => {
  const b = collate([[0, 1, 2, 3, 4], [5, 6], [7, 8, 9]]);
  t.equal(b.batch, 3);
  t.equal(b.seqLen, 5);
  t.same(rows(b.inputs, 5), [
    [0, 1, 2, 3, 4],
    [5, 6, 50256, 50256, 50256],
    [7, 8, 9, 50256, 50256],
  ]);
  t.same(rows(b.targets, 5), [
    [1, 2, 3, 4, 50256],
    [6, 50256, -100, -100, -100],
    [8, 9, 50256, -100, -100],
  ]);
  t.equal(b.padTargets, 5);
  t.equal(b.lossDenominator, 10, 'mean over the 10 kept targets');
  t.ok(b.inputs instanceof Int32Array && b.targets instanceof Int32Array);
});

t.test('truncation after padding', async (t) => {
  const b = collate([[0, 1, 2, 3, 4], [5, 6], [7, 8, 9]], { allowedMaxLength: 3 });
  t.equal(b.seqLen, 3);
  t.same(rows(b.inputs, 3), [
    [0, 1, 2],
    [5, 6, 50256],
    [7, 8, 9],
  ]);
  t.same(rows(b.targets, 3), [
    [1, 2, 3],
    [6, 50256, -100],
    [8, 9, 50256],
  ]);
  t.equal(b.lossDenominator, 8);
  // The default limit is 1024 and longer rows are cut to it.
  const long = collate([Array.from({ length: 2000 }, (_, i) => i % 100)]);
  t.equal(long.seqLen, 1024);
  t.equal(long.targets[1023], 24);
  t.equal(collate([Array.from({ length: 2000 }, () => 1)], { allowedMaxLength: null }).seqLen, 2000);
});

t.test('pad-in-mean counts the ignored pads in the denominator', async (t) => {
  const b = collate([[0, 1, 2, 3, 4], [5, 6], [7, 8, 9]], { mask: 'pad-in-mean' });
  const none = collate([[0, 1, 2, 3, 4], [5, 6], [7, 8, 9]]);
  t.same(b.targets, none.targets, 'same targets as none');
  t.equal(b.lossDenominator, 15);
  t.ok(LOSS_MASKS['pad-in-mean'].countPadsInMean);
  t.throws(() => getLossMask('bogus'), /unknown loss mask "bogus": expected one of none, prompt, pad-in-mean/);
});

const entry = {
  instruction: 'Rewrite the sentence using a simile.', input: 'The car is very fast.', output: 'The car is as fast as lightning.',
};

t.test('encodeEntry lengths', async (t) => {
  const e = encodeEntry(entry, 'alpaca');
  t.equal(e.promptLength, encode(formatPrompt(entry, 'alpaca')).length);
  t.equal(e.headerLength, 6, '"\\n\\n### Response:\\n" is 6 tokens');
  t.same(e.ids.slice(e.promptLength, e.promptLength + 6), [198, 198, 21017, 18261, 25, 198]);
  t.equal(decode(e.ids.slice(e.promptLength + 6)), entry.output);
  t.same(e.ids.slice(0, 3), [21106, 318, 281]);
});

t.test('prompt masking keeps header, output and end token', async (t) => {
  const e = encodeEntry(entry, 'alpaca');
  const short = encodeEntry({ instruction: 'Hi.', output: 'Hello.' }, 'alpaca');
  const b = collate([e, short], { mask: 'prompt' });
  const P = e.promptLength;
  t.equal(b.seqLen, e.ids.length);
  const row0 = Array.from(b.targets.subarray(0, b.seqLen));
  // Exactly: P-1 ignored, then tokens P.. of the text, then the end token.
  t.same(row0, [...Array(P - 1).fill(IGNORE_INDEX), ...e.ids.slice(P), 50256]);
  const kept = row0.filter((x) => x !== IGNORE_INDEX);
  t.equal(decode(kept), '\n\n### Response:\n' + entry.output + '<|endoftext|>');
  const row1 = Array.from(b.targets.subarray(b.seqLen));
  const P1 = short.promptLength;
  t.same(row1.filter((x) => x !== IGNORE_INDEX), [...short.ids.slice(P1), 50256]);
  t.equal(row1.slice(P1 - 1, short.ids.length).every((x) => x !== IGNORE_INDEX), true);
  t.equal(b.lossDenominator, kept.length + short.ids.length - P1 + 1);
  t.equal(b.padTargets, e.ids.length - short.ids.length);
  // Without masking the prompt targets are present.
  const nb = collate([e], { mask: 'none' });
  t.same(Array.from(nb.targets), [...e.ids.slice(1), 50256]);
  t.throws(() => collate([[1, 2]], { mask: 'prompt' }), /prompt masking needs encodeEntry/);
});

t.test('target regions', async (t) => {
  const e = encodeEntry({ instruction: 'Hi.', output: 'Hello there.' }, 'alpaca');
  const longer = { ids: [...e.ids, 1, 1], promptLength: e.promptLength, headerLength: e.headerLength };
  const r = targetRegions([e, longer]);
  const L = e.ids.length + 2;
  t.equal(r.length, 2 * L);
  const row0 = r.slice(0, L);
  const P = e.promptLength;
  const H = e.headerLength;
  const bodyLen = e.ids.length - P - H;
  t.same(row0, [
    ...Array(P - 1).fill('prompt'),
    ...Array(H).fill('header'),
    ...Array(bodyLen).fill('response'),
    'end',
    'pad',
    'pad',
  ]);
  t.equal(r[2 * L - 1], 'end');
  // Consistent with the prompt mask: prompt-region targets are exactly the masked ones.
  const b = collate([e, longer], { mask: 'prompt' });
  r.forEach((reg, i) => t.equal(b.targets[i] === IGNORE_INDEX, reg === 'prompt' || reg === 'pad'));
});

const SHARED = fileURLToPath(new URL('../../shared/data/instruction-data.json', import.meta.url));
t.test('prompt masking on a chapter entry', { skip: existsSync(SHARED) ? false : `reference file absent: ${SHARED}` }, async (t) => {
  const data = loadInstructionData(SHARED);
  const e = encodeEntry(data[0], 'alpaca');
  const b = collate([e], { mask: 'prompt' });
  const kept = Array.from(b.targets).filter((x) => x !== IGNORE_INDEX);
  t.equal(decode(kept), '\n\n### Response:\n' + data[0].output + '<|endoftext|>');
  t.equal(Array.from(b.targets).filter((x) => x === IGNORE_INDEX).length, e.promptLength - 1);
});
