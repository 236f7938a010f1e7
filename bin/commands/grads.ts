// wgpt grads: loss, counted targets and every parameter's gradient norm for one batch.
import { WgptError } from '../../engine/errors.ts';
import { batchOf, gradientReport, parseExamples } from '../../train/eval/grads.ts';
import { loadEntries } from '../../train/data/load.ts';
import { DEVICE_FLAGS, loadModelOption, MODEL_FLAGS, withDevice } from './common.ts';
import { own, parseFlags, SWITCH, TEXT, usageText } from './flags.ts';

/** The flags of wgpt grads: its usage and its parser are made from them. */
export const FLAGS = [
  own('data', TEXT, 'FILE|ch07|synthetic', 'instruction JSON, the chapter\'s data, or the built-in tasks'),
  own('examples', TEXT, 'A-B', 'the entries of the batch, inclusive (e.g. 0-7)'),
  own('mask', TEXT, 'none|prompt', 'loss mask (none)', { default: 'none' }),
  own('style', TEXT, 'alpaca|phi3', '(alpaca)', { default: 'alpaca' }),
  own('json', SWITCH, null, 'one JSON object: loss, count, gradNorms, globalNorm', { default: false }),
  ...MODEL_FLAGS,
  ...DEVICE_FLAGS,
] as const;

const USAGE = usageText(`usage: wgpt grads --model FILE|DIR|NAME --data FILE|ch07|synthetic --examples A-B --mask none|prompt [options]

Entries A..B (inclusive) are tokenized and collated exactly as training does, as one batch; one
forward and backward. Prints the loss, the count of targets that are not -100, each parameter's
gradient L2 norm (Hugging Face names) and the global norm. --data synthetic: the built-in
synthetic tasks (seed 123, 2000 entries), as \`wgpt train\` uses without --data. With --adapter
the gradients are the adapters' A and B: the base is frozen.
`, FLAGS);

export async function run(argv: string[]): Promise<void> {
  const { values } = parseFlags(argv, FLAGS, USAGE);
  if (!values.model && !values.adapter) throw new WgptError('give --model (or --adapter DIR, whose adapter_config.json names its base)');
  if (!values.data) throw new WgptError(
    'give --data FILE (instruction JSON), ch07 (the chapter\'s data) or synthetic (the built-in tasks)');
  if (!values.examples) throw new WgptError('give --examples A-B (inclusive, e.g. 0-7)');
  const entries = await loadEntries(values.data === 'synthetic' ? null : values.data, 123, 2000);
  const [a, b] = parseExamples(values.examples, entries.length);
  await withDevice(values, async () => {
    const model = await loadModelOption(values);
    const report = await gradientReport(model, batchOf(entries.slice(a, b + 1), values.style!, values.mask!, model.config.contextLength));
    model.dispose();
    if (values.json) {
      console.log(JSON.stringify(report));
      return;
    }
    console.log(
      `loss ${report.loss.toFixed(6)}   counted targets ${report.count}   global gradient norm ${report.globalNorm.toExponential(4)}`);
    const groups = new Map<string, [string, number][]>();
    for (const [name, norm] of Object.entries(report.gradNorms)) {
      const group = /^h\.\d+\./.exec(name)?.[0].slice(0, -1) ?? 'embeddings / head';
      if (!groups.has(group)) groups.set(group, []);
      groups.get(group)!.push([name, norm]);
    }
    for (const [group, rows] of groups) {
      const sq = Math.sqrt(rows.reduce((s, [, n]) => s + n * n, 0));
      console.log(`\n${group.padEnd(28)} ${sq.toExponential(4)}`);
      for (const [name, norm] of rows) console.log(`  ${name.padEnd(32)} ${norm.toExponential(4)}`);
    }
  });
}
