// Adapter choice: a real GPU first (Dawn's default backend, core feature level); where none is
// found, Dawn's OpenGL ES backend on Mesa's llvmpipe in compatibility mode. `--backend` or
// WGPT_BACKEND=gpu|software|lavapipe forces one; `lavapipe` is Mesa's Vulkan software driver under
// Dawn's Vulkan backend at the core feature level: the code path of a real GPU (core limits,
// timestamp queries, subgroups) on the CPU. It needs Mesa >= 24 (an older lavapipe lacks a feature
// Dawn requires), so `auto` never picks it unless the measured preference says so.
import { existsSync, readdirSync } from 'node:fs';
import { create, globals } from 'webgpu';
import { WgptError } from './errors.ts';
import type { AdapterChoice } from './platform/types.ts';
import { setting, type Backend } from './settings.ts';
import { preferredSoftwareAdapter } from './tune/software-adapter.ts';

export type { AdapterChoice };

// dawn.node crashes within seconds if the object create() returns is garbage collected while a
// device lives, so every instance is held here for the life of the process.
const instances: GPU[] = [];
let globalsInstalled = false;

function instance(options: string[], profiling: boolean): GPU {
  if (!globalsInstalled) {
    // GPUBufferUsage, GPUMapMode, ... as in a browser.
    for (const [k, v] of Object.entries(globals)) {
      if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    }
    globalsInstalled = true;
  }
  // Dawn rounds timestamps down to 65.536 µs by default (a browser's guard against timing
  // attacks), which made every kernel under that 0 or 65.5 µs in a profile: off when profiling.
  const gpu = create(profiling ? [...options, 'disable-dawn-features=timestamp_quantization'] : options);
  instances.push(gpu);
  return gpu;
}

/** On Linux, trying Vulkan without a GPU makes Dawn print a stack of errors; look first. */
function gpuLikelyPresent(): boolean {
  if (process.platform !== 'linux') return true;
  if (existsSync('/dev/nvidia0')) return true;
  try {
    return readdirSync('/dev/dri').some((f) => f.startsWith('renderD'));
  } catch {
    return false;
  }
}

function describe(adapter: GPUAdapter, fallback: string): string {
  const info = adapter.info;
  const parts = [info?.vendor, info?.architecture, info?.device, info?.description].filter((s) => !!s);
  return parts.length > 0 ? parts.join(' ') : fallback;
}

/** The hint every missing-lavapipe error ends with. */
export const LAVAPIPE_SETUP = 'install Mesa >= 24 with bash scripts/setup.sh --mesa-backports, '
  + 'or use a side-by-side copy: bash scripts/mesa-copy.sh && . .mesa/env.sh';

/** Mesa's lavapipe under Dawn's Vulkan backend, or null where the Vulkan loader, the driver or a
 *  feature Dawn needs is missing (Dawn then prints why on stderr). */
async function lavapipeAdapter(profiling: boolean): Promise<GPUAdapter | null> {
  const adapter = await instance(['backend=vulkan'], profiling).requestAdapter({ featureLevel: 'core' });
  // Only Mesa's CPU driver: a machine with a real GPU and lavapipe both answers with the GPU here.
  if (!adapter?.info?.isFallbackAdapter || !/llvmpipe/i.test(describe(adapter, ''))) return null;
  return adapter;
}

async function openGlAdapter(profiling: boolean): Promise<GPUAdapter | null> {
  // Mesa's EGL needs to be told there is no display.
  process.env.EGL_PLATFORM ??= 'surfaceless';
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  return instance(['backend=opengles'], profiling).requestAdapter({ featureLevel: 'compatibility' });
}

function lavapipeChoice(adapter: GPUAdapter): AdapterChoice {
  return { adapter, backend: 'lavapipe', featureLevel: 'core', description: describe(adapter, 'lavapipe') };
}

/** `profiling`: the device will time kernels (WGPT_PROFILE), so timestamps are not rounded. */
export async function chooseAdapter(requested: Backend, profiling = false): Promise<AdapterChoice> {
  const backend = requested === 'auto' ? setting('WGPT_BACKEND') : requested;
  if (backend === 'gpu' || (backend === 'auto' && gpuLikelyPresent())) {
    const adapter = await instance([], profiling).requestAdapter({ powerPreference: 'high-performance' });
    if (adapter && !adapter.info?.isFallbackAdapter) {
      return { adapter, backend: 'gpu', featureLevel: 'core', description: describe(adapter, 'GPU') };
    }
    if (backend === 'gpu') {
      throw new WgptError('no GPU adapter found (backend=gpu): drop --backend gpu to use the software adapter');
    }
  }
  if (backend === 'lavapipe') {
    const adapter = await lavapipeAdapter(profiling);
    if (!adapter) throw new WgptError(`no lavapipe adapter (backend=lavapipe: Dawn's Vulkan backend on Mesa >= 24): ${LAVAPIPE_SETUP}`);
    return lavapipeChoice(adapter);
  }
  const adapter = await openGlAdapter(profiling);
  if (!adapter) {
    throw new WgptError(
      'no WebGPU adapter: install the software GPU (apt-get install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri) ' +
        'or run on a machine with a GPU',
    );
  }
  const gl: AdapterChoice = { adapter, backend: 'software', featureLevel: 'compatibility', description: describe(adapter, 'OpenGL ES') };
  if (backend === 'auto') {
    // Between the two software adapters, auto follows a measurement made on this machine
    // (`wgpt tune --adapters`), and only while both adapters are the ones it measured.
    const preferred = preferredSoftwareAdapter(gl.description);
    if (preferred) {
      const lvp = await lavapipeAdapter(profiling);
      if (lvp && describe(lvp, '') === preferred.lavapipe) return lavapipeChoice(lvp);
    }
  }
  return gl;
}
