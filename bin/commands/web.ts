// wgpt web [--port P] [--run builtin]: the page that trains in a browser tab (web/), served on
// 127.0.0.1 until Ctrl-C.
import { WgptError } from '../../engine/errors.ts';
import { servePage } from '../../web/serve.ts';
import { HELP } from './common.ts';
import { intAtLeast, own, parseFlags, TEXT, usageText } from './flags.ts';

/** The flags of wgpt web: its usage and its parser are made from them. */
export const FLAGS = [
  own('port', intAtLeast(0, '0 (any free port)'), 'P', 'the port on 127.0.0.1 (default 8080)', { default: '8080' }),
  own('run', TEXT, 'builtin', 'start the built-in run (the CLI\'s recipe) as the page opens'),
  HELP,
] as const;

const USAGE = usageText(`usage: wgpt web [--port P] [--run builtin]

Serves a page that runs the engine in the browser's WebGPU: the built-in run (pretraining, finetuning,
control) with a live loss plot and the held-out table, and the finetuning of a model you drop in.
Open the address it prints in Chrome or Edge (docs/browser.md).
`, FLAGS);

export async function run(argv: string[]): Promise<void> {
  const { values } = parseFlags(argv, FLAGS, USAGE);
  if (values.run !== undefined && values.run !== 'builtin') throw new WgptError(`unknown --run "${values.run}": use builtin`);
  const server = await servePage({ port: values.port, run: values.run ?? null }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'EADDRINUSE') throw new WgptError(`port ${values.port} is taken: pass another with --port P (0: any free port)`);
    throw e;
  });
  console.log(`wgpt web: ${server.url} (bundle ${(server.bytes / 1024).toFixed(0)} KiB); Ctrl-C stops it`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
}
