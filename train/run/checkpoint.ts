// Training checkpoints: the model, the optimizer's moments, the step, the data order and the RNG
// state, so `--resume` continues bit for bit. Written beside the live one and swapped in with one
// atomic rename (atomic-dir.ts), so a crash or a full disk at any point of a save leaves a whole
// checkpoint under its name; a leftover of an interrupted save is cleaned up on `--resume`.
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { WgptError } from '../../engine/index.ts';
import { loadGPT, saveGPT } from '../../model/build.ts';
import type { GPT } from '../../model/gpt.ts';
import { hasAdapters, loadAdapters, saveAdapters } from '../../model/peft.ts';
import { readSafetensors, writeSafetensors } from '../../model/safetensors.ts';
import type { LoaderState } from './loader.ts';
import { recoverDir, replaceDirAtomically } from './atomic-dir.ts';
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

/** Saves the model (with LoRA: only its adapters, the base is rebuilt from the run's options),
 *  the optimizer's moments of what trains, and `state`. */
export async function saveTrainingCheckpoint(runDir: string, model: GPT, opt: AdamW, state: TrainState): Promise<void> {
  const trainable = model.trainable();
  const moments = await opt.state();
  await replaceDirAtomically(path.join(runDir, CHECKPOINT_DIR), async (tmp) => {
    if (model.lora) await saveAdapters(tmp, model.lora, null);
    else await saveGPT(model, tmp);
    await writeSafetensors(path.join(tmp, 'optimizer.safetensors'), [...trainable].flatMap(([name, p], i) => [
      { name: `m.${name}`, shape: [...p.shape], data: moments.m[i] },
      { name: `v.${name}`, shape: [...p.shape], data: moments.v[i] },
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

/** Loads the model and the optimizer moments of a checkpoint (the optimizer is made by `makeOpt`;
 *  a LoRA checkpoint's adapters go onto the base model `loadBase` rebuilds). */
export async function loadTrainingCheckpoint(runDir: string, makeOpt: (model: GPT) => AdamW,
  loadBase?: () => Promise<GPT>): Promise<{ model: GPT; opt: AdamW; state: TrainState }> {
  const state = await readTrainState(runDir);
  const dir = path.join(runDir, CHECKPOINT_DIR);
  let model: GPT;
  if (hasAdapters(dir)) {
    if (!loadBase) throw new WgptError(`${dir} holds LoRA adapters: this command cannot rebuild their base model`);
    model = await loadBase();
    try {
      await loadAdapters(dir, model);
    } catch (e) {
      model.dispose();
      throw e;
    }
  } else model = await loadGPT(dir);
  const opt = makeOpt(model);
  try {
    const tensors = await readSafetensors(path.join(dir, 'optimizer.safetensors'));
    const names = [...model.trainable().keys()];
    const get = (key: string): Float32Array => {
      const t = tensors.get(key);
      if (!t) throw new WgptError(`${dir}/optimizer.safetensors: missing ${key}`);
      return t.data;
    };
    opt.load({ step: state.step, m: names.map((n) => get(`m.${n}`)), v: names.map((n) => get(`v.${n}`)) });
  } catch (e) {
    // A broken checkpoint leaves nothing on the GPU behind its error.
    opt.dispose();
    model.dispose();
    throw e;
  }
  return { model, opt, state };
}
