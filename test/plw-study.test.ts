// The prompt-loss-weight study: its table from results by hand (mean, sd, min–max; the best
// against the worst weight by the paired test, said in a sentence), the data knob on the fact world, the
// region batches, and a tiny grid end to end: `wgpt mask-study --plw 0,1 --seeds 2` through the
// sweep's local pool, the table from the runs' own files, a second call that skips what is done.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { collate, IGNORE_INDEX } from '../train/data/collate.ts';
import { encodeEntry } from '../train/data/encode.ts';
import { RESPONSE_LENGTHS, withResponseLength } from '../train/data/fact-responses.ts';
import { factWorld, generateFactData } from '../train/data/facts.ts';
import { dataLengths, regionBatch, type PlwRunResult } from '../train/study/plw-run.ts';
import { plwMarkdownTable, plwTable, summarize } from '../train/study/plw-report.ts';
import { parseWeights } from '../train/study/plw-study.ts';
import { withDevice } from './helpers/device.ts';
import { microRun } from './helpers/micro-run.ts';

await withDevice(t);
const { dir, modelDir, dataFile } = await microRun('wgpt-plw-study-');
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** A result with only what the table reads. */
function result(w: number, seed: number, loss: number, em: number): PlwRunResult {
  return {
    prompt_loss_weight: w, seed, val_response_loss: loss, exact_match: em, rouge_l: em / 2, grad_norm_prompt: 1 + w, grad_norm_response: 2,
    lengths: { instruction_tokens: 30, response_tokens: 10, instruction_response_ratio: 3 },
  } as PlwRunResult;
}

t.test('the table: mean ± sd [min–max] per weight, and the weights compared by the paired test', async (t) => {
  t.same(summarize([1, 2, 3, 6]), { n: 4, mean: 3, sd: Math.sqrt(14 / 3), min: 1, max: 6, values: [1, 2, 3, 6] });
  t.same(summarize([NaN, 5]), { n: 1, mean: 5, sd: 0, min: 5, max: 5, values: [5] }, 'a NaN (no answers scored) is left out');
  // Loss: W = 0.1 clearly best (ranges apart from W = 1); exact match: all within the seed spread.
  const results = [
    result(1, 1, 1.50, 0.40), result(1, 2, 1.60, 0.48), result(1, 3, 1.55, 0.44),
    result(0, 1, 1.20, 0.45), result(0, 2, 1.45, 0.40), result(0, 3, 1.30, 0.50),
    result(0.1, 1, 1.10, 0.46), result(0.1, 2, 1.15, 0.47), result(0.1, 3, 1.12, 0.44),
  ];
  const table = plwTable(results);
  t.same(table.rows.map((r) => r.weight), [0, 0.1, 1], 'rows in ascending W');
  t.same(table.rows.map((r) => r.runs), [3, 3, 3]);
  const w0 = table.rows[0].metrics.val_response_loss;
  t.ok(Math.abs(w0.mean - 1.3166666666666667) < 1e-12 && w0.min === 1.2 && w0.max === 1.45, `W = 0 loss ${w0.mean} [${w0.min}, ${w0.max}]`);
  t.ok(Math.abs(w0.sd - Math.sqrt(((1.2 - w0.mean) ** 2 + (1.45 - w0.mean) ** 2 + (1.3 - w0.mean) ** 2) / 2)) < 1e-12, 'sample sd');
  // Three seeds: the ranges of W = 0.1 and W = 1 are apart, yet three paired seeds cannot show a difference.
  t.match(table.findings.val_response_loss, new RegExp('^val response loss \\(lower is better\\): best W = 0\\.1, worst W = 1; ' +
    'W = 0\\.1 \\(1\\.1233\\) against W = 1 \\(1\\.5500\\): difference -0\\.4267, ' +
    '95% paired bootstrap interval \\[-0\\.\\d{4}, -0\\.\\d{4}\\] over 3 paired seeds, sign-flip p = 0\\.250: ' +
    'no difference can be shown with 3 seeds \\(the sign-flip test needs at least 6 to reach p < 0\\.05\\)\\.'));
  t.match(table.findings.val_response_loss, /The prompt mask against no mask: W = 0 .* against W = 1 .*: difference -0\.2333/);
  t.match(table.findings.exact_match, /best W = 0\.1, worst W = 1; .*: no difference can be shown with 3 seeds/);
  // Six seeds, per question: an effect shown, none where there is none.
  const questions = (seed: number, p: number): number[] =>
    Array.from({ length: 60 }, (_, q) => Number(((q * 7 + seed * 13) % 60) / 60 < p));
  const six = [1, 2, 3, 4, 5, 6].flatMap((seed) => [0, 0.5, 1].map((w) => {
    const correct = questions(seed, w === 1 ? 0.4 : 0.8 + seed / 100);
    return { ...result(w, seed, 1.2 + w / 10 + seed / 100, correct.reduce((a, b) => a + b, 0) / 60), correct };
  }));
  const shown = plwTable(six);
  t.match(shown.findings.exact_match, new RegExp('W = 0 .* against W = 1 .*: difference \\d+\\.\\d pt, 95% paired bootstrap interval .* ' +
    'over 6 paired seeds x 60 questions, sign-flip p = 0\\.031: a difference is shown\\.'));
  t.match(shown.findings.val_response_loss, /over 6 paired seeds, sign-flip p = 0\.031: a difference is shown/);
  const level = (c: number[]): number => c.reduce((a, b) => a + b, 0) / c.length;
  const same = plwTable(six.map((r) => {
    if (r.prompt_loss_weight !== 1) return r;
    const correct = questions(r.seed, 0.8 + (((3 * r.seed) % 6) + 1) / 100);
    return { ...r, correct, exact_match: level(correct) };
  }));
  t.match(same.findings.exact_match, /no difference is shown/, 'W = 1 as good as the others, up and down by seed');
  t.match(table.findings.grad_norm_prompt, /a diagnostic/);
  t.same(table.lengths, { instruction_tokens: 30, response_tokens: 10, instruction_response_ratio: 3 });
  const md = plwMarkdownTable(table);
  t.match(md, /\| 0\.1 \| 3 \| 1\.1233 ± 0\.0252 \[1\.1000–1\.1500\] \| 45\.7% ± 1\.5% \[44\.0%–47\.0%\] \|/);
  t.match(plwTable(results.filter((r) => r.seed === 1)).findings.val_response_loss, /one seed per weight, so there is no seed spread/);
  t.match(plwTable(results.map((r) => ({ ...r, exact_match: 0 }))).findings.exact_match,
    /^held-out exact match: every weight has the same mean, 0\.0%; nothing to compare\.$/);
});

t.test('--plw is checked before anything runs', async (t) => {
  t.same(parseWeights('0, 0.01,0.1,0.5,1'), [0, 0.01, 0.1, 0.5, 1]);
  t.throws(() => parseWeights('0,1.5'), /--plw: "1\.5" is not a weight; each must be a number from 0 \(the prompt mask\) to 1 \(no mask\)/);
  t.throws(() => parseWeights('0,x'), /"x" is not a weight/);
  t.throws(() => parseWeights('0.1,0.1'), /a weight appears twice/);
  t.throws(() => parseWeights(','), /needs at least one weight/);
});

t.test('the data knob: short, plain and long answers to the same questions, and the length ratio they give', async (t) => {
  const entries = generateFactData({ seed: 4, count: 200 });
  const world = factWorld();
  const [short, plain, long] = RESPONSE_LENGTHS.map((k) => withResponseLength(entries, k));
  t.same(plain, entries, 'plain: the entries as generated');
  t.same(short.map((e) => e.instruction), entries.map((e) => e.instruction), 'the same questions');
  for (const i of [0, 57, 199]) {
    const person = world.find((p) => entries[i].instruction.includes(p.name))!;
    const value = person.facts[entries[i].task];
    t.equal(short[i].output.split(' ').length, 2, `short ${i}: two words (${short[i].output})`);
    t.ok(short[i].output.endsWith(` ${value}.`) && entries[i].output.endsWith(` ${short[i].output}`),
      `short ${i}: the plain answer's end, the value after a space as the base read it`);
    t.ok(long[i].output.startsWith(`${entries[i].output} ${person.name}`),
      `long ${i}: the plain answer, then sentences about ${person.name}`);
    for (const value of Object.values(person.facts)) t.ok(long[i].output.includes(value), `long ${i} restates ${value}`);
  }
  // Same person, same long answer (a learnable shape), whatever the question.
  const same = entries.findIndex((e, i) => i > 0 &&
    e.instruction.split(' ').slice(-2).join(' ') === entries[0].instruction.split(' ').slice(-2).join(' '));
  if (same > 0) t.equal(long[same].output.slice(long[same].output.indexOf('.') + 2), long[0].output.slice(long[0].output.indexOf('.') + 2));
  const ratio = (es: typeof entries): number => dataLengths(es.map((e) => encodeEntry(e, 'alpaca'))).instruction_response_ratio;
  t.ok(ratio(short) > ratio(plain) && ratio(plain) > 1.5 && ratio(long) < 1,
    `instruction/response ratio short ${ratio(short).toFixed(2)} > plain ${ratio(plain).toFixed(2)} > 1 > long ${ratio(long).toFixed(2)}`);
  t.throws(() => withResponseLength(entries, 'medium'), /unknown --response-length "medium": use short/);
  t.throws(() => withResponseLength([{ instruction: 'What is 2 + 2?', input: '', output: '4', task: 'add' }], 'short'),
    /no fact behind the question/);
});

t.test('region batches split the unmasked targets into the prompt\'s and the response\'s', async (t) => {
  const items = generateFactData({ seed: 2, count: 20 }).slice(0, 4).map((e) => encodeEntry(e, 'alpaca'));
  const all = collate(items, { mask: 'none' });
  const p = regionBatch(items, 'prompt', 1024);
  const r = regionBatch(items, 'response', 1024);
  let both = 0;
  let neither = 0;
  all.targets.forEach((v, i) => {
    const inP = p.targets[i] !== IGNORE_INDEX;
    const inR = r.targets[i] !== IGNORE_INDEX;
    if (inP && inR) both++;
    if (v !== IGNORE_INDEX && !inP && !inR) neither++;
  });
  t.equal(both + neither, 0, 'every counted target is in exactly one region');
  t.equal(p.lossDenominator + r.lossDenominator, all.lossDenominator);
  t.equal(p.lossDenominator, items.reduce((s, it) => s + it.promptLength - 1, 0), 'the prompt region is P - 1 targets per entry');
});

const CLI = path.join(import.meta.dirname, '..', 'bin', 'wgpt.js');
function wgpt(args: string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: dir });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

t.test('a tiny grid end to end: 2 weights x 2 seeds through the sweep pool, the table from the runs\' files', async (t) => {
  const out = path.join(dir, 'study');
  const args = ['mask-study', '--plw', '0,1', '--seeds', '2', '--seed', '5', '--model', modelDir, '--data', dataFile, '--steps', '2',
    '--batch-size', '4', '--batches', '1', '--max-new-tokens', '3', '--lr', '1e-3', '--out', out];
  const first = wgpt(args);
  t.equal(first.code, 0, first.code === 0 ? 'the study ran' : first.out);
  const plan = readFileSync(path.join(out, 'runs.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.same(plan.map((r) => r.params), [{ plw: 0, seed: 5 }, { plw: 0, seed: 6 }, { plw: 1, seed: 5 }, { plw: 1, seed: 6 }],
    'a sweep of W x seed');
  t.ok(plan.every((r) => r.args.includes('--seeds') && r.args[r.args.indexOf('--seeds') + 1] === '1'),
    'each run is one weight and one seed');
  const runs: PlwRunResult[] = plan.map((r) => JSON.parse(readFileSync(path.join(out, r.dir, 'plw-run.json'), 'utf8')));
  t.same(runs.map((r) => [r.prompt_loss_weight, r.seed]), [[0, 5], [0, 6], [1, 5], [1, 6]]);
  for (const r of runs) {
    t.ok(Number.isFinite(r.val_response_loss) && r.grad_norm_prompt > 0 && r.grad_norm_response > 0 && r.held_out === 4,
      `W = ${r.prompt_loss_weight}, seed ${r.seed}: finite numbers, 4 held-out answers`);
  }
  // Same seed, same start: the measurements before training agree across weights, after they do not.
  t.equal(runs[0].val_response_loss_before, runs[2].val_response_loss_before, 'seed 5 starts from the same loss under both weights');
  t.same(runs[0].gradients.before, runs[2].gradients.before, 'and the same region gradients');
  t.not(runs[0].val_response_loss, runs[2].val_response_loss, 'W = 0 and W = 1 train differently');

  const study = JSON.parse(readFileSync(path.join(out, 'plw-study.json'), 'utf8'));
  t.same(study.rows.map((r: { weight: number; runs: number }) => [r.weight, r.runs]), [[0, 2], [1, 2]]);
  const w1 = study.rows[1].metrics.val_response_loss;
  t.same(w1.values, [runs[2].val_response_loss, runs[3].val_response_loss], 'the table reads the runs\' own results');
  t.equal(w1.mean, (runs[2].val_response_loss + runs[3].val_response_loss) / 2);
  const md = readFileSync(path.join(out, 'plw-study.md'), 'utf8');
  t.match(md,
    /\| W \| runs \| val response loss \| held-out exact match \| held-out ROUGE-L \| gradient norm, prompt \| gradient norm, response \|/);
  t.match(md, /\n\| 0 \| 2 \| \d+\.\d{4} ± \d\.\d{4} \[/);
  t.match(md, new RegExp('- val response loss \\(lower is better\\): best W = [01], worst W = [01]; ' +
    '.*over 2 paired seeds, sign-flip p = \\d\\.\\d{3}: no difference can be shown with 2 seeds'));
  t.match(md, /Instruction\/response length: [\d.]+ prompt targets and [\d.]+ response targets/);
  t.match(md, /4 of 4 runs done; this call ran 4 of them in [\d.]+ min wall\./);
  t.ok(existsSync(path.join(out, 'plw-study.png')) && existsSync(path.join(out, 'plw-study.svg')), 'the plot');

  const again = wgpt(args);
  t.equal(again.code, 0);
  t.match(again.out, /4 of 4 runs already done: skipped/, 'a second call runs nothing again');
  t.match(again.out, /4 of 4 runs done; this call ran 0 of them/, 'and says so in the table');
  const other = wgpt([...args.slice(0, 2), '0,0.5', ...args.slice(3)]);
  t.match(other.out, /holds another sweep .*; give another --out, or the same flags to continue it/);
  const report = wgpt(['sweep', 'report', out]);
  t.match(report.out, /val_response_loss \(mean ± sd\)/, 'wgpt sweep report reads the same runs');
});

t.test('flags that do not fit the study are refused in one line', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--plw', '0,2'], /--plw: "2" is not a weight/],
    [['--plw', '0', '--strategies', 'none'], /--strategies compares the loss masks; --plw studies the prompt-loss weight/],
    [['--seeds', '3'], /--seeds belongs to the prompt-loss-weight study: give --plw too/],
    [['--plw', '0', '--data', dataFile, '--response-length', 'short'], /--response-length applies to the fact world/],
    [['--plw', '0', '--response-length', 'huge'], /unknown --response-length "huge"/],
    [['--plw', '0', '--model', 'builtin', '--from-scratch'], /--model builtin is the pretrained built-in base/],
  ];
  for (const [args, want] of cases) {
    const r = wgpt(['mask-study', ...args, '--out', path.join(dir, 'refused')]);
    t.equal(r.code, 1, args.join(' '));
    t.match(r.out, want);
    t.equal(r.out.trim().split('\n').length, 1, 'one line');
  }
});
