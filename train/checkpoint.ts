// Training checkpoints: the model, the optimizer's moments, the step, the data order and the RNG
// state, so `--resume` continues bit for bit. Written to a temporary directory and renamed, so a
// crash or a full disk mid-save never leaves a half-written checkpoint in place of a good one.
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { WgptError } from '../engine/index.ts';
import { loadGPT, saveGPT } from '../model/build.ts';
import type { GPT } from '../model/gpt.ts';
import { readSafetensors, writeSafetensors } from '../model/safetensors.ts';
import type { LoaderState } from './loader.ts';
import type { AdamW } from './optim.ts';

export const CHECKPOINT_DIR = 'checkpoint';

/** Everything besides tensors that a resumed run needs; plain JSON. */
export interface TrainState {
  step: number;
  tokensSeen: number;
  loader: LoaderState;
  /** The options the run was started with (a resume reuses them). */
  options: Record<string, unknown>;
}

/** Replaces `dir` by what `write` puts into a fresh temporary directory beside it. */
export async function replaceDirAtomically(dir: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  const old = `${dir}.old-${process.pid}`;
  await fsp.rm(tmp, { recursive: true, force: true });
  try {
    await fsp.mkdir(tmp, { recursive: true });
    await write(tmp);
  } catch (e) {
    await fsp.rm(tmp, { recursive: true, force: true });
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOSPC') throw new WgptError(`no space left on the device while saving ${dir}; the previous copy is kept`);
    throw e;
  }
  if (existsSync(dir)) await fsp.rename(dir, old);
  await fsp.rename(tmp, dir);
  await fsp.rm(old, { recursive: true, force: true });
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

export async function readTrainState(runDir: string): Promise<TrainState> {
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
