// wgpt generate --model FILE|DIR|NAME --prompt TEXT: streams the continuation to stdout.
import { WgptError } from '../../engine/errors.ts';
import { generate } from '../../model/generate.ts';
import { encode, StreamingDecoder } from '../../model/tokenizer.ts';
import { DEVICE_FLAGS, loadModelOption, MODEL_FLAGS, withDevice } from './common.ts';
import { INT, NUMBER, own, parseFlags, SWITCH, TEXT, usageText } from './flags.ts';

/** The flags of wgpt generate: its usage and its parser are made from them. */
export const FLAGS = [
  own('prompt', TEXT, 'TEXT', 'the text to continue'),
  own('max-new-tokens', INT, 'N', '(50)'),
  own('temperature', NUMBER, 'T', '(0 = greedy)'),
  own('top-k', INT, 'K', 'sample among the K most likely tokens'),
  own('seed', INT, 'S', '(0)'),
  own('no-cache', SWITCH, null, 'recompute the whole context per token'),
  ...MODEL_FLAGS,
  ...DEVICE_FLAGS,
] as const;

const USAGE = usageText('usage: wgpt generate --model FILE|DIR|NAME --prompt TEXT [options]\n', FLAGS);

export async function run(argv: string[]): Promise<void> {
  const { values } = parseFlags(argv, FLAGS, USAGE);
  if (!values.model && !values.adapter) throw new WgptError(
    'give --model (a directory with model.safetensors, a .safetensors file, or a size name)');
  if (values.prompt === undefined) throw new WgptError('give --prompt TEXT');
  if (values.prompt === '') throw new WgptError('--prompt is empty: give the text to continue');
  await withDevice(values, async () => {
    const model = await loadModelOption(values);
    const decoder = new StreamingDecoder();
    process.stdout.write(values.prompt!);
    const t0 = performance.now();
    const out = await generate(model, encode(values.prompt!), {
      maxNewTokens: values['max-new-tokens'] ?? 50,
      temperature: values.temperature ?? 0,
      topK: values['top-k'],
      seed: values.seed ?? 0,
      cache: !values['no-cache'],
      onToken: (id) => process.stdout.write(decoder.push(id)),
    });
    const s = (performance.now() - t0) / 1000;
    process.stdout.write('\n');
    console.error(`${out.length} tokens in ${s.toFixed(2)} s (${(out.length / s).toFixed(1)} tokens/s)`);
    model.dispose();
  });
}
