import t from 'tap';
import { exactMatch, extractResponse, normalizeAnswer, rougeL, rougeTokens, scoreResponses } from '../train/eval/score.ts';
import { formatPrompt } from '../train/data/prompts.ts';

t.test('exact match trims and case-folds only', async (t) => {
  t.ok(exactMatch('  PARIS\n', 'Paris'));
  t.notOk(exactMatch('Paris.', 'Paris'));
  t.notOk(exactMatch('2  5 7', '2 5 7'));
  t.equal(normalizeAnswer(' Hi There '), 'hi there');
});

t.test('ROUGE-L', async (t) => {
  t.same(rougeTokens("The cat's hat, fine!"), ['the', 'cat', 's', 'hat', 'fine']);
  t.equal(rougeL('the cat sat', 'the cat sat').f1, 1);
  // LCS("the cat sat on the mat", "the cat on mat") = 4 → P = 4/6, R = 4/4, F1 = 0.8
  const r = rougeL('The cat sat on the mat.', 'the cat on mat');
  t.equal(r.precision, 4 / 6);
  t.equal(r.recall, 1);
  t.ok(Math.abs(r.f1 - 0.8) < 1e-12);
  // Order matters: LCS of "a b c" vs "c b a" is 1 → F1 = 1/3.
  t.ok(Math.abs(rougeL('a b c', 'c b a').f1 - 1 / 3) < 1e-12);
  t.equal(rougeL('', 'x').f1, 0);
  t.equal(rougeL('...', '').f1, 1);
  t.equal(rougeL('dog', 'cat').f1, 0);
});

t.test('extractResponse as the chapter does', async (t) => {
  const entry = { instruction: 'Name the capital city of the country.', input: 'France', output: 'Paris' };
  const prompt = formatPrompt(entry, 'alpaca');
  t.equal(extractResponse(prompt + '\n\n### Response:\nParis\n', prompt, 'alpaca'), 'Paris');
  t.equal(extractResponse(prompt + '\n\n### Response:\nParis<|endoftext|>junk', prompt, 'alpaca'), 'Paris');
  t.equal(extractResponse('\n\n### Response:\n Rome ', prompt, 'alpaca'), 'Rome', 'continuation only');
  const p3 = formatPrompt(entry, 'phi3');
  t.equal(extractResponse(p3 + '\n<|assistant|>:\nParis', p3, 'phi3'), 'Paris');
  t.throws(() => extractResponse('x', 'y', 'zzz'), /unknown prompt style/);
});

t.test('per-task aggregation', async (t) => {
  const rep = scoreResponses([
    { instruction: 'i', output: '2 5 7', task: 'sort', model_response: '2 5 7' },
    { instruction: 'i', output: '1 2 3', task: 'sort', model_response: '1 3 2' },
    { instruction: 'i', output: 'Paris', task: 'capital', model_response: 'paris' },
    { instruction: 'i', output: 'free text answer', model_response: 'free answer' },
    { instruction: 'i', output: 'not generated', task: 'sort' },
  ]);
  t.equal(rep.n, 4);
  t.equal(rep.correct, 2);
  t.equal(rep.accuracy, 0.5);
  t.equal(rep.missing, 1);
  t.same(Object.keys(rep.perTask), ['capital', 'sort']);
  t.same(rep.perTask.sort, { n: 2, correct: 1, accuracy: 0.5, rougeL: (1 + 2 / 3) / 2 });
  t.equal(rep.perTask.capital.accuracy, 1);
  t.ok(Math.abs(rep.rougeL - (1 + 2 / 3 + 1 + 0.8) / 4) < 1e-12);
});
