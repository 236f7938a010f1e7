// What the engine needs from where it runs, in one interface: Node (Dawn's bindings, process.env,
// files) or a browser tab (navigator.gpu, a settings object, the tab's storage). The engine imports
// `#platform` (package.json "imports"), which resolves to node.ts in Node and to browser.ts under a
// bundler's "browser" condition, so no `node:` module is reachable from the browser build.
import type { AdapterKind, Backend } from '../settings.ts';

export interface AdapterChoice {
  adapter: GPUAdapter;
  backend: AdapterKind;
  featureLevel: 'core' | 'compatibility';
  description: string;
}

/** The machine as the tuner's cache key names it. */
export interface MachineInfo {
  cpu: string;
  /** The first processor's fields of /proc/cpuinfo (empty where there is none). */
  cpuinfo: Record<string, string>;
  cores: number;
  /** Mesa variables set that change llvmpipe's code (empty in a browser). */
  mesaEnv: Record<string, string>;
}

export interface Platform {
  name: 'node' | 'browser';
  /** A WGPT_* setting's raw value (undefined where unset). */
  env(name: string): string | undefined;
  /** The names of the WGPT_* settings given, for `wgpt info`. */
  envNames(): string[];
  chooseAdapter(requested: Backend, profiling: boolean): Promise<AdapterChoice>;
  /** Where models, data and measurements are kept where WGPT_CACHE is not set: a directory, or a
   *  storage prefix in a browser. */
  cacheDir(): string;
  /** A kept text by its path under cacheDir() (null where there is none), and its whole replacement. */
  readStored(file: string): string | null;
  writeStored(file: string, text: string): void;
  machine(): MachineInfo;
  /** A stable hex digest of `text` (16 characters), for cache names. */
  digest(text: string): string;
  /** CPU time this process has used, microseconds; null where it cannot be known (a tab). */
  cpuMicros(): number | null;
  /** One line for the user on the side channel (stderr, the console). */
  warn(line: string): void;
}
