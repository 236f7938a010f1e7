// Which software adapter `auto` takes where there is no GPU: GL llvmpipe (the default) or Vulkan
// lavapipe, by measurement on this machine. Both are Mesa's llvmpipe code generator, but their
// speed differs by Mesa version and CPU (storage loads, texture loads, dispatch cost), so the
// choice is measured, like the matmul variants: `wgpt tune --adapters` runs the matmul tuner on
// each adapter and keeps the adapter whose chosen kernels train faster, here, in
// <cache>/tune/software-adapter-<hash>.json keyed by the CPU (as the tuner's files are). The file
// names both adapters as they were measured (their descriptions carry the Mesa version): once
// either changes, the choice no longer applies and `auto` takes GL llvmpipe again.
import { platform } from '#platform';
import { wgptCacheDir } from '../cache-dir.ts';
import { setting } from '../settings.ts';
import { machineKey, saveTuneFile, type ClassResult, type MachineKey } from './cache.ts';

export type SoftwareKind = 'software' | 'lavapipe';

export interface SoftwareAdapterFile {
  key: MachineKey;
  choice: SoftwareKind;
  /** Per adapter: its description and the training score of its chosen matmul kernels. */
  adapters: Partial<Record<SoftwareKind, { adapter: string; score_gflops: number }>>;
  measured_at: string;
}

/** The classes a training step spends its matmul time in: a layer's forward, input gradient and
 *  weight gradient (engine/tune/tuner.ts's standard products, large bucket, on the software kernels). */
const TRAINING_CLASSES = ['nn vv large', 'nt vv large', 'tn vv large'];

/** The training score of an adapter's tuning results: the harmonic mean of the chosen variants'
 *  GFLOP/s over the training classes (a step does about equal work in each, so its matmul time
 *  goes as the sum of 1/GFLOP/s). NaN where a class was not measured. */
export function trainingScore(results: Map<string, ClassResult>): number {
  let inv = 0;
  for (const cls of TRAINING_CLASSES) {
    const r = results.get(cls);
    const g = r?.speed[r.choice];
    if (!(g !== undefined && g > 0)) return NaN;
    inv += 1 / g;
  }
  return TRAINING_CLASSES.length / inv;
}

function fileKey(): MachineKey {
  return machineKey('software adapters', 'opengles (compatibility) | vulkan lavapipe (core)', 'software', 'matmul tuner, training classes');
}

export function softwareAdapterFile(): string {
  return `${wgptCacheDir()}/tune/software-adapter-${platform.digest(JSON.stringify(fileKey()))}.json`;
}

/** Keeps the measured choice: the faster adapter by trainingScore (GL on a tie or a missing one). */
export function saveSoftwareAdapterChoice(adapters: SoftwareAdapterFile['adapters']): SoftwareAdapterFile {
  const gl = adapters.software?.score_gflops ?? NaN;
  const lvp = adapters.lavapipe?.score_gflops ?? NaN;
  const content: SoftwareAdapterFile = {
    key: fileKey(), choice: lvp > gl ? 'lavapipe' : 'software', adapters, measured_at: new Date().toISOString(),
  };
  saveTuneFile(softwareAdapterFile(), content);
  return content;
}

/** Where `auto` should take lavapipe: the lavapipe description measured, while the GL adapter is
 *  still the one measured beside it. Null otherwise, and always with WGPT_TUNE=off (the tests), so
 *  nothing measured ever moves a test to another adapter. */
export function preferredSoftwareAdapter(glDescription: string): { lavapipe: string } | null {
  if (!setting('WGPT_TUNE')) return null;
  let file: SoftwareAdapterFile;
  try {
    file = JSON.parse(platform.readStored(softwareAdapterFile()) ?? 'null') as SoftwareAdapterFile;
    if (!file) return null;
  } catch {
    return null;
  }
  if (JSON.stringify(file.key) !== JSON.stringify(fileKey())) return null;
  const lvp = file.adapters?.lavapipe?.adapter;
  if (file.choice !== 'lavapipe' || !lvp || file.adapters.software?.adapter !== glDescription) return null;
  return { lavapipe: lvp };
}
