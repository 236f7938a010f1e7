// Adapter choice: a real GPU first (Dawn's default backend, core feature level); where none is
// found, Dawn's OpenGL ES backend on Mesa's llvmpipe in compatibility mode. `--backend` or
// WGPT_BACKEND=gpu|software forces either.
import { existsSync, readdirSync } from 'node:fs';
import { create, globals } from 'webgpu';
import { WgptError } from './errors.ts';

export type Backend = 'auto' | 'gpu' | 'software';

export interface AdapterChoice {
  adapter: GPUAdapter;
  backend: 'gpu' | 'software';
  featureLevel: 'core' | 'compatibility';
  description: string;
}

// dawn.node crashes within seconds if the object create() returns is garbage collected while a
// device lives, so every instance is held here for the life of the process.
const instances: GPU[] = [];
let globalsInstalled = false;

function instance(options: string[]): GPU {
  if (!globalsInstalled) {
    // GPUBufferUsage, GPUMapMode, ... as in a browser.
    for (const [k, v] of Object.entries(globals)) {
      if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    }
    globalsInstalled = true;
  }
  const gpu = create(options);
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

export function parseBackend(value: string | undefined): Backend {
  const v = (value ?? 'auto').toLowerCase();
  if (v === 'auto' || v === 'gpu' || v === 'software') return v;
  throw new WgptError(`unknown backend "${value}": use auto, gpu or software`);
}

export async function chooseAdapter(requested: Backend): Promise<AdapterChoice> {
  const backend = requested === 'auto' ? parseBackend(process.env.WGPT_BACKEND) : requested;
  if (backend === 'gpu' || (backend === 'auto' && gpuLikelyPresent())) {
    const adapter = await instance([]).requestAdapter({ powerPreference: 'high-performance' });
    if (adapter && !adapter.info?.isFallbackAdapter) {
      return { adapter, backend: 'gpu', featureLevel: 'core', description: describe(adapter, 'GPU') };
    }
    if (backend === 'gpu') {
      throw new WgptError('no GPU adapter found (backend=gpu): drop --backend gpu to use the software adapter');
    }
  }
  // Mesa's EGL needs to be told there is no display.
  process.env.EGL_PLATFORM ??= 'surfaceless';
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const adapter = await instance(['backend=opengles']).requestAdapter({ featureLevel: 'compatibility' });
  if (!adapter) {
    throw new WgptError(
      'no WebGPU adapter: install the software GPU (apt-get install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri) or run on a machine with a GPU',
    );
  }
  return { adapter, backend: 'software', featureLevel: 'compatibility', description: describe(adapter, 'OpenGL ES') };
}
