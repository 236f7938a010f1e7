// The tuner's memory: one JSON file per machine key under <cache>/tune/, so a second process on the
// same machine reuses every choice without timing anything, and anything that changes which kernel
// is fastest (another adapter or driver, another CPU or its flags, the Mesa settings that change
// llvmpipe's code, another set of candidates) lands in another file and is measured afresh.
import { platform } from '#platform';
import { wgptCacheDir } from '../cache-dir.ts';

/** Everything the fastest kernel depends on, as written into the cache file. */
export interface MachineKey {
  adapter: string;
  backend: string;
  kernels: string;
  cpu: string;
  cpu_family_model: string;
  /** The vector extensions llvmpipe's code generator looks at, and a hash of all the CPU's flags. */
  cpu_vector_flags: string;
  cpu_flags_sha: string;
  cores: number;
  /** Mesa settings that change the code llvmpipe generates or how it runs it. */
  mesa_env: Record<string, string>;
  /** The candidate set and the kernels' generator version. */
  variants: string;
}

export interface ClassResult {
  /** The chosen candidate's name. */
  choice: string;
  /** The shape timed: a product's [m, n, k], AdamW's [1, floats, 1]. */
  shape: [number, number, number];
  /** Speed per candidate timed (median of the rounds), in `unit`; a candidate left out by the time
   *  budget is missing. */
  speed: Record<string, number>;
  unit: 'GFLOP/s' | 'GB/s';
  /** First dispatch (compile + one run) per candidate, seconds. */
  first_s: Record<string, number>;
  measured_at: string;
}

export interface TuneFile {
  key: MachineKey;
  classes: Record<string, ClassResult>;
}

const VECTOR_FLAGS = ['avx', 'avx2', 'fma', 'f16c', 'avx512f', 'avx512vl', 'avx512bw', 'avx512dq', 'neon', 'asimd'];

export function machineKey(adapter: string, backend: string, kernels: string, variants: string): MachineKey {
  const { cpu, cpuinfo: info, cores, mesaEnv } = platform.machine();
  const flags = (info.flags ?? info.Features ?? '').split(/\s+/).filter((f) => f).sort();
  return {
    adapter, backend, kernels,
    cpu,
    cpu_family_model: `${info['cpu family'] ?? '?'}/${info.model ?? '?'}`,
    cpu_vector_flags: VECTOR_FLAGS.filter((f) => flags.includes(f)).join(' '),
    cpu_flags_sha: platform.digest(flags.join(' ')),
    cores,
    mesa_env: mesaEnv,
    variants,
  };
}

/** The CPU class in one phrase, as every figure should name it: "family 26 model 2, AVX-512", with
 *  the Mesa variables that change llvmpipe's code where set (figures taken under
 *  GALLIUM_OVERRIDE_CPU_CAPS=avx are AVX2 code on an AVX-512 core, not an AVX2 machine). */
export function cpuClass(): string {
  const key = machineKey('', '', '', '');
  const flags = key.cpu_vector_flags.split(' ');
  const vector = flags.includes('avx512f') ? 'AVX-512' : flags.includes('avx2') ? 'AVX2, no AVX-512' : key.cpu_vector_flags || 'no AVX';
  const [family, model] = key.cpu_family_model.split('/');
  const env = Object.entries(key.mesa_env).map(([k, v]) => `${k}=${v}`).join(' ');
  return `${key.cpu}, family ${family} model ${model}, ${vector}${env ? `; llvmpipe under ${env}` : ''}`;
}

/** <cache>/tune/matmul-<hash of the key>.json */
export function tuneFilePath(key: MachineKey): string {
  return `${wgptCacheDir()}/tune/matmul-${platform.digest(JSON.stringify(key))}.json`;
}

/** The file's classes, or none where there is no file. A file that does not parse or holds another
 *  key is ignored with one warning (and replaced at the next save). */
export function loadTuneFile(file: string, key: MachineKey, warn: (msg: string) => void): Record<string, ClassResult> {
  const text = platform.readStored(file);
  if (text === null) return {};
  try {
    const parsed = JSON.parse(text) as TuneFile;
    if (JSON.stringify(parsed.key) !== JSON.stringify(key)) throw new Error('it was written for another machine key');
    const classes = parsed.classes;
    if (!classes || typeof classes !== 'object') throw new Error('it has no classes');
    for (const [name, r] of Object.entries(classes)) {
      if (typeof r?.choice !== 'string') throw new Error(`class ${name} has no choice`);
    }
    return classes;
  } catch (e) {
    warn(`wgpt: ignoring the kernel tuning cache ${file}: ${(e as Error).message}; the matmul kernels will be measured again`);
    return {};
  }
}

/** Writes the file whole, so a reader never sees half of it. */
export function saveTuneFile(file: string, content: object): void {
  platform.writeStored(file, JSON.stringify(content, null, 1) + '\n');
}
