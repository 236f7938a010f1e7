// Progress lines: on a pipe, plain lines (the first update, then at most every quietEveryMs, and
// the final state once); on a TTY, one bar redrawn in place.
import t from 'tap';
import { GenerationProgress } from '../train/run/progress.ts';

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; out: string[] } {
  const out: string[] = [];
  return { stream: { isTTY, write: (s: string) => out.push(s) } as unknown as NodeJS.WriteStream, out };
}

t.test('generation progress on a pipe: counts, tokens/s and time left, final line once', async (t) => {
  const { stream, out } = fakeStream(false);
  const p = new GenerationProgress('test responses', stream, 60_000);
  p.update({ done: 0, total: 4, tokens: 0, partial: 0 });
  p.update({ done: 1, total: 4, tokens: 10, partial: 0.5 }); // within quietEveryMs: not printed
  await new Promise((r) => setTimeout(r, 20));
  p.update({ done: 4, total: 4, tokens: 40, partial: 0 });
  p.update({ done: 4, total: 4, tokens: 40, partial: 0 });
  p.done();
  t.equal(out.length, 2, 'the first line and the final one, once');
  t.match(out[0], /^test responses 0\/4 prompts, \d+ tok\/s, 0:00 elapsed, --:-- left\n$/);
  t.match(out[1], /^test responses 4\/4 prompts, \d+ tok\/s, 0:00 elapsed, 0:00 left\n$/);
});

t.test('generation progress on a TTY: a bar filled by finished and partial prompts', async (t) => {
  const { stream, out } = fakeStream(true);
  const p = new GenerationProgress('responses', stream);
  p.update({ done: 1, total: 4, tokens: 8, partial: 1 });
  p.done();
  t.match(out[0], /^\r\[#{12}\.{12}\] responses 1\/4 prompts/, 'half the bar: one prompt done, two half-way');
  t.equal(out[1], '\n');
});
