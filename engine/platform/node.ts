// The engine in Node: Dawn's adapters (engine/adapter.ts), settings from process.env, kept files
// under $WGPT_CACHE or ~/.cache/wgpt.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chooseAdapter } from '../adapter.ts';
import type { MachineInfo, Platform } from './types.ts';

const MESA_ENV = ['GALLIUM_OVERRIDE_CPU_CAPS', 'LP_NATIVE_VECTOR_WIDTH', 'LP_NUM_THREADS', 'GALLIVM_PERF'];

/** The first processor's fields of /proc/cpuinfo (empty off Linux). */
function cpuinfo(): Record<string, string> {
  const out: Record<string, string> = {};
  try {
    for (const line of readFileSync('/proc/cpuinfo', 'utf8').split('\n\n')[0].split('\n')) {
      const i = line.indexOf(':');
      if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
  } catch {
    // not Linux: the model name from os.cpus() still separates machines
  }
  return out;
}

function machine(): MachineInfo {
  const mesaEnv: Record<string, string> = {};
  for (const k of MESA_ENV) if (process.env[k] !== undefined) mesaEnv[k] = process.env[k]!;
  return { cpu: os.cpus()[0]?.model ?? 'unknown', cpuinfo: cpuinfo(), cores: os.cpus().length, mesaEnv };
}

export const platform: Platform = {
  name: 'node',
  env: (name) => process.env[name],
  envNames: () => Object.keys(process.env).filter((k) => k.startsWith('WGPT_')),
  chooseAdapter: (requested, profiling) => chooseAdapter(requested, profiling),
  cacheDir: () => path.join(os.homedir(), '.cache', 'wgpt'),
  readStored(file) {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return null;
    }
  },
  /** Writes the file whole (a temporary file renamed over it), so a reader never sees half of it. */
  writeStored(file, text) {
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  },
  machine,
  digest: (text) => createHash('sha256').update(text).digest('hex').slice(0, 16),
  cpuMicros() {
    const u = process.cpuUsage();
    return u.user + u.system;
  },
  warn: (line) => process.stderr.write(`${line}\n`),
};
