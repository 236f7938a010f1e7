import t from 'tap';
import { ALPACA_PREAMBLE, STYLES, checkStyle, formatPrompt, formatResponse, formatTraining, promptPieces } from '../train/data/prompts.ts';
import { encode } from '../model/tokenizer.ts';

const withInput = { instruction: 'Convert to passive voice.', input: 'The cat ate the fish.', output: 'The fish was eaten by the cat.' };
const noInput = { instruction: 'Name a primary color.', input: '', output: 'Red.' };

t.test('alpaca exact strings', async (t) => {
  t.equal(
    formatPrompt(withInput, 'alpaca'),
    'Below is an instruction that describes a task. Write a response that appropriately completes the request.' +
      '\n\n### Instruction:\nConvert to passive voice.\n\n### Input:\nThe cat ate the fish.',
  );
  t.equal(formatPrompt(noInput, 'alpaca'), ALPACA_PREAMBLE + '\n\n### Instruction:\nName a primary color.');
  t.equal(formatPrompt({ instruction: 'x', output: 'y' }, 'alpaca'), ALPACA_PREAMBLE + '\n\n### Instruction:\nx', 'missing input');
  t.equal(formatResponse(noInput, 'alpaca'), '\n\n### Response:\nRed.');
  t.equal(formatTraining(noInput, 'alpaca'), ALPACA_PREAMBLE + '\n\n### Instruction:\nName a primary color.\n\n### Response:\nRed.');
  const enc = encode(ALPACA_PREAMBLE);
  t.equal(enc.length, 18);
  t.same(enc.slice(0, 3), [21106, 318, 281]);
});

t.test('phi3 exact strings', async (t) => {
  t.equal(formatPrompt(withInput, 'phi3'), '<|user|>\nConvert to passive voice.\nThe cat ate the fish.');
  t.equal(formatPrompt(noInput, 'phi3'), '<|user|>\nName a primary color.');
  t.equal(formatResponse(noInput, 'phi3'), '\n<|assistant|>:\nRed.');
});

t.test('pieces concatenate to the training text', async (t) => {
  for (const style of STYLES) {
    for (const e of [withInput, noInput]) {
      const p = promptPieces(e, style);
      t.equal(p.prompt + p.header + p.body, formatTraining(e, style));
      t.equal(p.body, e.output);
    }
  }
});

t.test('unknown style', async (t) => {
  t.throws(() => formatPrompt(noInput, 'chatml'), /unknown prompt style "chatml": expected one of alpaca, phi3/);
  t.equal(checkStyle('phi3'), 'phi3');
});
