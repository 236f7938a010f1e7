import t from 'tap';
import { createServer } from 'node:http';
import { judgePrompt, judgeResponses, parseChatReply, parseScore, queryModel } from '../train/eval/judge.ts';

const entry = { instruction: 'Rewrite the sentence using a simile.', input: 'The car is very fast.',
  output: 'The car is as fast as lightning.', model_response: 'The car is as fast as a bullet.' };

t.test('the chapter prompt', async (t) => {
  t.equal(
    judgePrompt(entry),
    'Given the input `Below is an instruction that describes a task. Write a response that appropriately completes the request.' +
      '\n\n### Instruction:\nRewrite the sentence using a simile.\n\n### Input:\nThe car is very fast.` ' +
      'and correct output `The car is as fast as lightning.`, score the model response `The car is as fast as a bullet.` ' +
      'on a scale from 0 to 100, where 100 is the best score. Respond with the integer number only.',
  );
});

t.test('score and reply parsing', async (t) => {
  t.equal(parseScore(' 85\n'), 85);
  t.equal(parseScore('0'), 0);
  t.equal(parseScore('100'), 100);
  t.equal(parseScore('101'), null);
  t.equal(parseScore('-5'), null);
  t.equal(parseScore('Score: 80'), null);
  t.equal(parseScore('85.5'), null);
  t.equal(parseChatReply('{"model":"llama3","message":{"role":"assistant","content":"42"},"done":true}'), '42');
  t.equal(parseChatReply(
    '{"message":{"content":"4"},"done":false}\n{"message":{"content":"2"},"done":false}\n{"message":{"content":""},"done":true}\n'), '42');
  t.throws(() => parseChatReply('{"error":"model not found"}'), /server error: model not found/);
});

t.test('against a local server', async (t) => {
  const requests: any[] = [];
  const replies = [
    (n: string) => JSON.stringify({ model: 'llama3', message: { role: 'assistant', content: n }, done: true }),
    (n: string) => n.split('').map((c) => JSON.stringify({ message: { role: 'assistant', content: c }, done: false }) + '\n').join('') +
      JSON.stringify({ message: { content: '' }, done: true }) + '\n',
  ];
  const answers = ['90', '75', 'I would say 60'];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, body: JSON.parse(body) });
      const i = requests.length - 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(replies[i % 2](answers[i]));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/chat`;
  const entries = [entry, { ...entry, model_response: 'Fast.' }, { ...entry, model_response: '' }];
  const rep = await judgeResponses(entries, { url, model: 'judge-x' });
  t.same(rep.scores, [90, 75, null]);
  t.equal(rep.n, 2);
  t.equal(rep.unparsable, 1);
  t.equal(rep.mean, 82.5);
  t.equal(requests[0].method, 'POST');
  t.equal(requests[0].url, '/api/chat');
  t.same(requests[0].body, {
    model: 'judge-x',
    messages: [{ role: 'user', content: judgePrompt(entry) }],
    options: { seed: 123, temperature: 0, num_ctx: 2048 },
    stream: false,
  });
  server.close();
  await t.rejects(queryModel('x', { url: 'http://127.0.0.1:9/api/chat' }), /judge: cannot reach http:\/\/127\.0\.0\.1:9\/api\/chat/);
});
