// wgpt tune [--json] [--class-budget S]: measure the kernel variants (matmul, AdamW) on this machine
// again, print the table (variant x class, speed, the choice) and keep the choices in the cache.
import { writeFileSync } from 'node:fs';
import type { Device } from '../../engine/index.ts';
import type { ClassResult } from '../../engine/tune/cache.ts';
import { tuningOf } from '../../engine/tune/choices.ts';
import { retune, ROUNDS } from '../../engine/tune/tuner.ts';
import { DEVICE_OPTIONS, DEVICE_USAGE, numberOption, parse, withDevice } from './common.ts';

const USAGE = `usage: wgpt tune [--json FILE] [--class-budget S]

Measures every matmul variant for the product classes a GPT-2 run meets and those this machine
has met before (and AdamW's operand source on the software GPU), prints the speed per variant
and class with the choice, and keeps the choices in the cache ($WGPT_CACHE or ~/.cache/wgpt, under tune/), where every later run finds them. Runs
measure a class by themselves the first time they meet it; this command measures all again.

  --json FILE          also write the results as JSON
  --class-budget S     seconds per class (default 20): the candidates are timed in order until
                       the next one's compile would pass it
${DEVICE_USAGE}`;

/** Variants down, classes across, speeds in the cells (GFLOP/s, GB/s for AdamW), the choice in the
 *  last row. */
export function tuneTable(results: Map<string, ClassResult>): string {
  const classes = [...results.keys()];
  const variants = [...new Set(classes.flatMap((c) => Object.keys(results.get(c)!.speed)))];
  const width = Math.max(14, ...classes.map((c) => c.length + 2), ...classes.map((c) => results.get(c)!.choice.length + 2));
  const head = 'variant'.padEnd(20) + classes.map((c) => c.padStart(width)).join('');
  const shapes = 'timed at'.padEnd(20) + classes.map((c) => results.get(c)!.shape.join('x').padStart(width)).join('');
  const rows = variants.map((v) => v.padEnd(20) + classes.map((c) => {
    const g = results.get(c)!.speed[v];
    return (g === undefined ? '-' : g.toFixed(1)).padStart(width);
  }).join(''));
  const choice = 'choice'.padEnd(20) + classes.map((c) => results.get(c)!.choice.padStart(width)).join('');
  return [head, shapes, ...rows, choice].join('\n');
}

export function machineLine(device: Device): string {
  const key = tuningOf(device).key;
  return `${device.adapterDescription} (${device.backend}, ${device.featureLevel}); CPU ${key.cpu} family/model ${key.cpu_family_model}, ${key.cores} cores, ${key.cpu_vector_flags || 'no vector flags'}`;
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    ...DEVICE_OPTIONS, json: { type: 'string' }, 'class-budget': { type: 'string' },
  }, USAGE);
  const classBudgetMs = numberOption(values['class-budget'], 'class-budget', 20) * 1000;
  await withDevice(values, async (device) => {
    const results = await retune(device, { classBudgetMs });
    console.log(`matmul variants on ${machineLine(device)}`);
    console.log(`GFLOP/s (adamw: GB/s moved), median of ${ROUNDS} rounds, operand copies included; "-": not timed (the class budget was spent)`);
    console.log(tuneTable(results));
    console.log(`kept in ${tuningOf(device).file}`);
    if (values.json) {
      writeFileSync(values.json, JSON.stringify({ machine: tuningOf(device).key, classes: Object.fromEntries(results) }, null, 2) + '\n');
    }
  });
}
