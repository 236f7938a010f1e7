// wgpt download gpt2|gpt2-medium|gpt2-large|gpt2-xl [--dir DIR]
import { WgptError } from '../../engine/errors.ts';
import { downloadModel, HF_MODELS } from '../../model/download.ts';
import { HELP } from './common.ts';
import { own, parseFlags, TEXT, usageText } from './flags.ts';

/** The flags of wgpt download: its usage and its parser are made from them. */
export const FLAGS = [own('dir', TEXT, 'DIR', 'where to (default ~/.cache/wgpt/models/NAME, or $WGPT_CACHE/models/NAME)'), HELP] as const;

const USAGE = usageText(`usage: wgpt download ${HF_MODELS.join('|')} [--dir DIR]

Fetches model.safetensors and config.json from the Hugging Face hub (HF_ENDPOINT honoured) into
DIR (default ~/.cache/wgpt/models/NAME, or $WGPT_CACHE/models/NAME). Interrupted downloads resume.
`, FLAGS);

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseFlags(argv, FLAGS, USAGE);
  const name = positionals[0];
  if (!name || !(HF_MODELS as readonly string[]).includes(name)) {
    throw new WgptError(`name a model to download: ${HF_MODELS.join(', ')}`);
  }
  const dir = await downloadModel(name as (typeof HF_MODELS)[number], { dir: values.dir });
  console.log(dir);
}
