// wgpt tune [--json] [--class-budget S]: measure the kernel variants (matmul, AdamW) on this machine
// again, print the table (variant x class, speed, the choice) and keep the choices in the cache.
import { writeFileSync } from 'node:fs';
import { closeDevice, openDevice, WgptError, type Device } from '../../engine/index.ts';
import { cpuClass, type ClassResult } from '../../engine/tune/cache.ts';
import { tuningOf } from '../../engine/tune/choices.ts';
import { retune, ROUNDS } from '../../engine/tune/tuner.ts';
import { tuneWork } from '../../model/tune-work.ts';
import {
  saveSoftwareAdapterChoice, softwareAdapterFile, trainingScore, type SoftwareAdapterFile, type SoftwareKind
} from '../../engine/tune/software-adapter.ts';
import { DEVICE_FLAGS, withDevice } from './common.ts';
import { NUMBER, own, parseFlags, SWITCH, TEXT, usageText } from './flags.ts';

/** The flags of wgpt tune: its usage and its parser are made from them. */
export const FLAGS = [
  own('adapters', SWITCH, null, 'measure on both software adapters, GL llvmpipe and Vulkan lavapipe, and keep\n' +
    'the one whose matmul kernels train faster as the one `--backend auto` takes\n' +
    'where there is no GPU (GL until measured; lavapipe needs Mesa >= 24)',
  { default: false }),
  own('json', TEXT, 'FILE', 'also write the results as JSON'),
  own('class-budget', NUMBER, 'S', 'seconds per class (default 20): the candidates are timed in order until\n' +
    'the next one\'s compile would pass it'),
  ...DEVICE_FLAGS,
] as const;

const USAGE = usageText(`usage: wgpt tune [--json FILE] [--class-budget S] [--adapters]

Measures every matmul variant for the product classes a GPT-2 run meets and those this machine
has met before (and AdamW's operand source on the software GPU), prints the speed per variant
and class with the choice, and keeps the choices in the cache ($WGPT_CACHE or ~/.cache/wgpt,
under tune/), where every later run finds them. Runs measure a class by themselves the first
time they meet it; this command measures all again.
`, FLAGS);

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
  return `${device.adapterDescription} (${device.backend}, ${device.featureLevel}); CPU ${cpuClass()}, ${tuningOf(device).key.cores} cores`;
}

/** Measures every variant on the device and prints the table; the results. */
async function measure(device: Device, classBudgetMs: number): Promise<Map<string, ClassResult>> {
  const results = await retune(device, tuneWork(), { classBudgetMs });
  console.log(`matmul variants on ${machineLine(device)}`);
  console.log(
    `GFLOP/s (adamw: GB/s moved), median of ${ROUNDS} rounds, operand copies included; "-": not timed (the class budget was spent)`);
  console.log(tuneTable(results));
  console.log(`kept in ${tuningOf(device).file}`);
  return results;
}

/** --adapters: the tuner on GL llvmpipe, then on lavapipe; the faster for training is kept. */
async function measureAdapters(classBudgetMs: number): Promise<{ adapters: SoftwareAdapterFile; classes: Record<string, unknown> }> {
  const measured: SoftwareAdapterFile['adapters'] = {};
  const classes: Record<string, unknown> = {};
  for (const kind of ['software', 'lavapipe'] as SoftwareKind[]) {
    let device: Device;
    try {
      device = await openDevice({ backend: kind });
    } catch (e) {
      console.log(`${kind}: not measured: ${(e as Error).message}`);
      continue;
    }
    try {
      const results = await measure(device, classBudgetMs);
      measured[kind] = { adapter: device.adapterDescription, score_gflops: +trainingScore(results).toFixed(2) };
      classes[kind] = Object.fromEntries(results);
      console.log(`${kind}: training score ${measured[kind].score_gflops} GFLOP/s (harmonic mean of the chosen nn, nt, tn kernels)\n`);
    } finally {
      closeDevice(device);
    }
  }
  const adapters = saveSoftwareAdapterChoice(measured);
  console.log(
    `--backend auto without a GPU takes ${adapters.choice === 'lavapipe' ? 'lavapipe' : 'GL llvmpipe'}: kept in ${softwareAdapterFile()}`);
  return { adapters, classes };
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parseFlags(argv, FLAGS, USAGE);
  const classBudgetMs = (values['class-budget'] ?? 20) * 1000;
  if (values.adapters) {
    if (values.backend !== 'auto') throw new WgptError('--adapters measures both software adapters: drop --backend');
    const out = await measureAdapters(classBudgetMs);
    if (values.json) writeFileSync(values.json, JSON.stringify(out, null, 2) + '\n');
    return;
  }
  await withDevice(values, async (device) => {
    const results = await measure(device, classBudgetMs);
    if (values.json) {
      writeFileSync(values.json, JSON.stringify({ machine: tuningOf(device).key, classes: Object.fromEntries(results) }, null, 2) + '\n');
    }
  });
}
