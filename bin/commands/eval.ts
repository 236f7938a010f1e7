// wgpt eval: the loss of a model on a split, and scores for responses (exact match and ROUGE-L
// against the references, offline; optionally a judge model through an Ollama-style /api/chat).
import { readFileSync, writeFileSync } from 'node:fs';
import { WgptError } from '../../engine/errors.ts';
import { allowedMaxLengthFor } from '../../train/data/collate.ts';
import { encodeEntry } from '../../train/data/encode.ts';
import { splitData, validateEntries, type Entry } from '../../train/data/entries.ts';
import { judgeResponses } from '../../train/eval/judge.ts';
import { DEFAULT_GEN_BATCH, generateResponses } from '../../train/eval/responses.ts';
import { scoreResponses } from '../../train/eval/score.ts';
import { loadEntries } from '../../train/data/load.ts';
import { evaluateLoss } from '../../train/eval/loss.ts';
import { DEVICE_FLAGS, loadModelOption, MODEL_FLAGS, withDevice } from './common.ts';
import { INT, own, parseFlags, POSITIVE_INT, SWITCH, TEXT, usageText } from './flags.ts';

/** The flags of wgpt eval: its usage and its parser are made from them. */
export const FLAGS = [
  own('data', TEXT, 'FILE|ch07', 'instruction data (the built-in tasks without it)'),
  own('split', TEXT, 'test|val|train', 'which split of --data (default test)', { default: 'test' }),
  own('responses', TEXT, 'FILE', 'score these responses (entries with model_response) instead of generating'),
  own('save-responses', TEXT, 'FILE', 'write the generated responses (the chapter\'s format)'),
  own('max-new-tokens', INT, 'N', '(256)'),
  own('style', TEXT, 'alpaca|phi3', '(alpaca)', { default: 'alpaca' }),
  own('mask', TEXT, 'none|prompt', 'loss mask (none)', { default: 'none' }),
  own('batch-size', INT, 'N', '(8)'),
  own('seed', INT, 'N', 'of the built-in tasks (123)'),
  own('gen-batch', POSITIVE_INT, 'N', `prompts generated together (${DEFAULT_GEN_BATCH}; answers do not depend on it)`),
  own('judge', TEXT, 'URL', 'also score with a judge model at an Ollama-compatible /api/chat URL'),
  own('judge-model', TEXT, 'NAME', '(llama3)'),
  own('json', SWITCH, null, 'print one JSON object', { default: false }),
  ...MODEL_FLAGS,
  ...DEVICE_FLAGS,
] as const;

const USAGE = usageText('usage: wgpt eval --model FILE|DIR|NAME [--data FILE|ch07] [options]\n', FLAGS);

export async function run(argv: string[]): Promise<void> {
  const { values } = parseFlags(argv, FLAGS, USAGE);
  const split = values.split as 'test' | 'val' | 'train';
  const genBatch = values['gen-batch'] ?? DEFAULT_GEN_BATCH;
  if (!['test', 'val', 'train'].includes(split)) throw new WgptError(`--split must be test, val or train, got "${split}"`);
  const report: Record<string, unknown> = { split };

  let responses: Entry[] | null = null;
  if (values.responses) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(values.responses, 'utf8'));
    } catch (e) {
      throw new WgptError(`${values.responses}: ${(e as Error).message}`);
    }
    responses = validateEntries(parsed, values.responses);
  }
  if (values.model || values.adapter) {
    const entries = splitData(await loadEntries(values.data ?? null, values.seed ?? 123, 2000))[split];
    if (entries.length === 0) throw new WgptError(`the ${split} split is empty`);
    await withDevice(values, async () => {
      const model = await loadModelOption(values);
      const items = entries.map((e) => encodeEntry(e, values.style!));
      const allowedMaxLength = allowedMaxLengthFor(model.config.contextLength);
      report.loss = await evaluateLoss(model, items, values['batch-size'] ?? 8, Infinity, values.mask!, allowedMaxLength);
      if (!responses) {
        responses = await generateResponses(model, entries, values.style!, values['max-new-tokens'] ?? 256, {
          batchSize: genBatch, label: `${split} responses`,
        });
        if (values['save-responses']) writeFileSync(values['save-responses'], JSON.stringify(responses, null, 2));
      }
      model.dispose();
    });
  }
  if (!responses) throw new WgptError('give --model (to compute the loss and generate responses) or --responses FILE');
  const scores = scoreResponses(responses);
  report.exact_match = scores.accuracy;
  report.rouge_l = scores.rougeL;
  report.n = scores.n;
  report.per_task = scores.perTask;
  if (values.judge) {
    const judged = await judgeResponses(responses.filter((r) => typeof r.model_response === 'string'),
      { url: values.judge, model: values['judge-model'] });
    report.judge = { mean: judged.mean, n: judged.n, unparsable: judged.unparsable };
  }
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  if (report.loss !== undefined) console.log(`${split} loss        ${(report.loss as number).toFixed(4)}`);
  console.log(`exact match      ${(100 * scores.accuracy).toFixed(1)}% (${scores.correct}/${scores.n})`);
  console.log(`ROUGE-L F1       ${scores.rougeL.toFixed(3)}`);
  for (const [task, g] of Object.entries(scores.perTask)) console.log(`  ${task.padEnd(14)} ${(100 * g.accuracy).toFixed(1)}% of ${g.n}`);
  const j = report.judge as { mean: number; n: number; unparsable: number } | undefined;
  if (j) console.log(`judge score      ${j.mean.toFixed(2)} over ${j.n} (${j.unparsable} unparsable replies left out)`);
}
