// wgpt generate --model FILE|DIR|NAME --prompt TEXT: streams the continuation to stdout.
import { WgptError } from '../../engine/errors.ts';
import { generate } from '../../model/generate.ts';
import { encode, StreamingDecoder } from '../../model/tokenizer.ts';
import { ADAPTER_USAGE, DEVICE_OPTIONS, DEVICE_USAGE, intOption, loadModelOption, MODEL_OPTIONS, numberOption, parse, withDevice } from './common.ts';

const USAGE = `usage: wgpt generate --model FILE|DIR|NAME --prompt TEXT [options]

  --max-new-tokens N   (50)            --temperature T   (0 = greedy)
  --top-k K            sample among the K most likely tokens
  --seed S             (0)             --no-cache        recompute the whole context per token
  --from-scratch       random weights for a size name
${ADAPTER_USAGE}
${DEVICE_USAGE}`;

export async function run(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    ...DEVICE_OPTIONS, ...MODEL_OPTIONS,
    prompt: { type: 'string' }, 'max-new-tokens': { type: 'string' }, temperature: { type: 'string' },
    'top-k': { type: 'string' }, seed: { type: 'string' }, 'no-cache': { type: 'boolean' },
  }, USAGE);
  if (!values.model && !values.adapter) throw new WgptError('give --model (a directory with model.safetensors, a .safetensors file, or a size name)');
  if (values.prompt === undefined) throw new WgptError('give --prompt TEXT');
  await withDevice(values, async () => {
    const model = await loadModelOption(values);
    const decoder = new StreamingDecoder();
    process.stdout.write(values.prompt!);
    const t0 = performance.now();
    const out = await generate(model, encode(values.prompt!), {
      maxNewTokens: intOption(values['max-new-tokens'], 'max-new-tokens', 50),
      temperature: numberOption(values.temperature, 'temperature', 0),
      topK: values['top-k'] ? intOption(values['top-k'], 'top-k', 0) : undefined,
      seed: intOption(values.seed, 'seed', 0),
      cache: !values['no-cache'],
      onToken: (id) => process.stdout.write(decoder.push(id)),
    });
    const s = (performance.now() - t0) / 1000;
    process.stdout.write('\n');
    console.error(`${out.length} tokens in ${s.toFixed(2)} s (${(out.length / s).toFixed(1)} tokens/s)`);
    model.dispose();
  });
}
