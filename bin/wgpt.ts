// wgpt: one CLI, flat subcommands (nanoGPT style). Each command lives in bin/commands/<name>.ts
// and is loaded only when asked for, so `wgpt info` does not pay for the training code.
import { setting } from '../engine/settings.ts';

// biome-ignore lint/suspicious/noConfusingVoidType: a command resolves to nothing, or to its exit code
const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run: (argv: string[]) => Promise<void | number> }> }> = {
  info: { summary: 'the GPU adapter in use, its limits, and a matmul throughput probe', load: () => import('./commands/info.ts') },
  train: { summary: 'instruction finetuning (chapter 7); no options: the built-in default run', load: () => import('./commands/train.ts') },
  pretrain: { summary: 'next-token training on plain text (nanoGPT); no options: the built-in base model',
    load: () => import('./commands/pretrain.ts') },
  dpo: { summary: 'preference tuning (DPO, the chapter 7 bonus) of an SFT model; no options: the built-in run',
    load: () => import('./commands/dpo.ts') },
  generate: { summary: 'continue a prompt (greedy or sampled, KV cache), streamed to stdout',
    load: () => import('./commands/generate.ts') },
  eval: { summary: 'loss on a split; exact match, ROUGE-L and an optional judge score for responses',
    load: () => import('./commands/eval.ts') },
  grads: { summary: 'loss, counted targets and per-parameter gradient norms of one batch under a loss mask',
    load: () => import('./commands/grads.ts') },
  'mask-study': { summary: 'every loss mask side by side: per-region loss, gradients, training; report.md',
    load: () => import('./commands/mask-study.ts') },
  sweep: { summary: 'many runs over a grid of flags: local pool, Slurm array or Kubernetes Indexed Job; report',
    load: () => import('./commands/sweep.ts') },
  tune: { summary: 'measure the matmul kernel variants on this machine again; print the table, keep the choices',
    load: () => import('./commands/tune.ts') },
  bench: { summary: 'benchmarks: matmul, kernels, training step, generation; peers beside; --json/--md',
    load: () => import('./commands/bench.ts') },
  download: { summary: 'download GPT-2 weights from the Hugging Face hub', load: () => import('./commands/download.ts') },
  web: { summary: 'a page that trains in a browser tab on its WebGPU (the built-in run, your model)',
    load: () => import('./commands/web.ts') },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`);
  return `usage: wgpt <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun wgpt <command> --help for its options.`;
}

async function main(): Promise<number> {
  const [name, ...rest] = process.argv.slice(2);
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`wgpt: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    // A command may return its exit status (train: 130 when Ctrl-C stopped it, as shells expect).
    return (await (await command.load()).run(rest)) ?? 0;
  } catch (e) {
    // Failures are one clear line; WGPT_DEBUG=1 shows the stack.
    const err = e as Error;
    console.error(`wgpt ${name}: ${setting('WGPT_DEBUG') ? err.stack : err.message ?? err}`);
    return 1;
  }
}

// Dawn keeps Node alive while a device exists: leave explicitly once the command is done.
const code = await main();
process.exitCode = code;
process.stdout.write('', () => process.exit(code));
