// The engine in a browser tab: the GPU from navigator.gpu, settings from an object the page gives
// (configurePlatform), kept texts (the tuner's measurements) in the tab's localStorage where it has
// one, else in memory for the life of the page.
import { WgptError } from '../errors.ts';
import type { Backend } from '../settings.ts';
import type { AdapterChoice, Platform } from './types.ts';

/** The parts of a tab's globals used here (the project compiles without the DOM's types). */
interface TabGlobals {
  navigator?: { gpu?: GPU; userAgent?: string; hardwareConcurrency?: number };
  localStorage?: { getItem(key: string): string | null; setItem(key: string, value: string): void };
}
const tab = globalThis as TabGlobals;

let settings: Record<string, string> = {};
const memory = new Map<string, string>();

/** The WGPT_* settings the page runs under (the Node CLI's environment variables, by name). */
export function configurePlatform(values: Record<string, string>): void {
  settings = { ...values };
}

function storage(): TabGlobals['localStorage'] | null {
  try {
    return tab.localStorage ?? null;
  } catch {
    return null; // a sandboxed frame refuses storage
  }
}

/** FNV-1a, 64 bits as two 32-bit halves: stable, synchronous (crypto.subtle is neither). */
function fnv64(text: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0xcbf29ce4;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ (c + i), 0x01000193);
  }
  return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
}

function describe(adapter: GPUAdapter): string {
  const info = adapter.info;
  const parts = [info?.vendor, info?.architecture, info?.device, info?.description].filter((s) => !!s);
  return parts.length > 0 ? parts.join(' ') : 'browser WebGPU adapter';
}

async function chooseAdapter(requested: Backend, _profiling: boolean): Promise<AdapterChoice> {
  if (requested === 'lavapipe') throw new WgptError('backend=lavapipe is a Node backend: a browser gives only its own adapter');
  const gpu = tab.navigator?.gpu;
  if (!gpu) {
    throw new WgptError('this browser has no WebGPU: use a current Chrome or Edge (Chromium with --enable-unsafe-webgpu on Linux)');
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new WgptError('this browser offers no WebGPU adapter: enable hardware acceleration or WebGPU in its settings');
  // The browser's adapter is used at the core feature level with the GPU kernels, SwiftShader too.
  return { adapter, backend: 'gpu', featureLevel: 'core', description: describe(adapter) };
}

export const platform: Platform = {
  name: 'browser',
  env: (name) => settings[name],
  envNames: () => Object.keys(settings).filter((k) => k.startsWith('WGPT_')),
  chooseAdapter,
  cacheDir: () => 'wgpt',
  readStored: (file) => storage()?.getItem(file) ?? memory.get(file) ?? null,
  writeStored(file, text) {
    memory.set(file, text);
    try {
      storage()?.setItem(file, text);
    } catch {
      // storage full or refused: the copy in memory serves this page
    }
  },
  machine: () => ({
    cpu: tab.navigator?.userAgent ?? 'browser', cpuinfo: {}, cores: tab.navigator?.hardwareConcurrency ?? 1, mesaEnv: {},
  }),
  digest: fnv64,
  cpuMicros: () => null,
  warn: (line) => console.warn(line),
};
