// Training checkpoints: the model, the optimizer's moments, the step, the data order and the RNG
// state, so `--resume` continues bit for bit. Written beside the live one and swapped in with one
// atomic rename (atomic-dir.ts), so a crash or a full disk at any point of a save leaves a whole
// checkpoint under its name; a leftover of an interrupted save is cleaned up on `--resume`.
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { WgptError } from '../engine/index.ts';
import { loadGPT, saveGPT } from '../model/build.ts';
import type { GPT } from '../model/gpt.ts';
import { readSafetensors, writeSafetensors } from '../model/safetensors.ts';
import type { LoaderState } from './loader.ts';
import { recoverDir, replaceDirAtomically } from './atomic-dir.ts';
import type { AdamW } from './optim.ts';

export { replaceDirAtomically } from './atomic-dir.ts';

export const CHECKPOINT_DIR = 'checkpoint';

/** Everything besides tensors that a resumed run needs; plain JSON. */
export interface TrainState {
  step: number;
  tokensSeen: number;
  loader: LoaderState;
  /** The options the run was started with (a resume reuses them). */
  options: Record<string, unknown>;
}

export async function saveTrainingCheckpoint(runDir: string, model: GPT, opt: AdamW, state: TrainState): Promise<void> {
  const names = [...model.params.keys()];
  const moments = await opt.state();
  await replaceDirAtomically(path.join(runDir, CHECKPOINT_DIR), async (tmp) => {
    await saveGPT(model, tmp);
    await writeSafetensors(path.join(tmp, 'optimizer.safetensors'), names.flatMap((name, i) => [
      { name: `m.${name}`, shape: [...model.p(name).shape], data: moments.m[i] },
      { name: `v.${name}`, shape: [...model.p(name).shape], data: moments.v[i] },
    ]), { step: String(moments.step) });
    await fsp.writeFile(path.join(tmp, 'state.json'), JSON.stringify(state));
  });
}

/** The state of a run's checkpoint, after recovering one a crash interrupted mid-save. */
export async function readTrainState(runDir: string, log: (line: string) => void = console.error): Promise<TrainState> {
  for (const line of await recoverDir(path.join(runDir, CHECKPOINT_DIR))) log(line);
  const file = path.join(runDir, CHECKPOINT_DIR, 'state.json');
  if (!existsSync(file)) throw new WgptError(`no checkpoint to resume in ${runDir} (expected ${file})`);
  return JSON.parse(await fsp.readFile(file, 'utf8')) as TrainState;
}

/** Loads the model and the optimizer moments of a checkpoint (the optimizer is made by `makeOpt`). */
export async function loadTrainingCheckpoint(runDir: string, makeOpt: (model: GPT) => AdamW): Promise<{ model: GPT; opt: AdamW; state: TrainState }> {
  const state = await readTrainState(runDir);
  const dir = path.join(runDir, CHECKPOINT_DIR);
  const model = await loadGPT(dir);
  const opt = makeOpt(model);
  const tensors = await readSafetensors(path.join(dir, 'optimizer.safetensors'));
  const names = [...model.params.keys()];
  const get = (key: string): Float32Array => {
    const t = tensors.get(key);
    if (!t) throw new WgptError(`${dir}/optimizer.safetensors: missing ${key}`);
    return t.data;
  };
  opt.load({ step: state.step, m: names.map((n) => get(`m.${n}`)), v: names.map((n) => get(`v.${n}`)) });
  return { model, opt, state };
}
