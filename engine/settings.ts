// Every WGPT_* environment variable wgpt reads, in one table: what it does, and the parser that
// says which values it takes (anything else is refused in one line). Reads go through `setting()`
// when they matter (opening a device, planning a product), never cached at load, so a test that
// sets a variable before opening a device is obeyed. `wgpt info` prints those set.
import { platform } from '#platform';
import { WgptError } from './errors.ts';
import type { AttentionTile } from '../kernels/attention.ts';
import type { MatmulTile } from '../kernels/matmul-tiled.ts';

/** What an opened device runs on: a real GPU, GL llvmpipe ('software') or Vulkan lavapipe. */
export type AdapterKind = 'gpu' | 'software' | 'lavapipe';
export type Backend = 'auto' | AdapterKind;
export type KernelSet = 'auto' | 'gpu' | 'software';

/** on/1 or off/0, any case; unset is on. `usage` says what the two values mean. */
export function parseSwitch(value: string | undefined, name: string, usage = 'on or off'): boolean {
  const v = (value ?? 'on').toLowerCase();
  if (v === 'on' || v === '1') return true;
  if (v === 'off' || v === '0') return false;
  throw new WgptError(`unknown ${name} "${value}": use ${usage}`);
}

/** One of `choices` in any case; unset is the first. `what` names it in the refusal. */
function oneOf<T extends string>(value: string | undefined, choices: readonly T[], what: string, where = ''): T {
  const v = (value ?? choices[0]).toLowerCase() as T;
  if (choices.includes(v)) return v;
  throw new WgptError(`unknown ${what} "${value}"${where}: use ${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}`);
}

export const parseBackend = (value: string | undefined): Backend => oneOf(value, ['auto', 'gpu', 'software', 'lavapipe'], 'backend');
const parseKernels = (value: string | undefined): KernelSet => oneOf(value, ['auto', 'gpu', 'software'], 'kernel set', ' (WGPT_KERNELS)');

/** WGPT_TUNE: on (also when set empty) or off. */
export function parseTune(value: string | undefined): boolean {
  return parseSwitch(value || undefined, 'WGPT_TUNE', 'on (measure the matmul kernels once per machine) or off (the built-in defaults)');
}

/** Positive integers joined by x ("32x16x8x1"), `count` of them, or null where unset or empty. */
function dims(value: string | undefined, name: string, form: string, count: number): number[] | null {
  if (!value) return null;
  const xs = value.split('x').map(Number);
  if (xs.length !== count || !xs.every((x) => Number.isInteger(x) && x > 0)) {
    throw new WgptError(`${name} "${value}" is not ${form} (positive integers joined by x)`);
  }
  return xs;
}

function matmulTile(value: string | undefined): MatmulTile | null {
  const d = dims(value, 'WGPT_MATMUL_TILE', 'TMxTNxWGXxWGY', 4);
  return d && { tm: d[0], tn: d[1], wgx: d[2], wgy: d[3] };
}

function attentionTile(value: string | undefined): AttentionTile | null {
  const d = dims(value, 'WGPT_ATTENTION_TILE', 'RxCxWG', 3);
  return d && { r: d[0], c: d[1], wg: d[2] };
}

/** A parser of a number of `unit`s >= 0, returned in milliseconds (null where unset or empty). */
const milliseconds = (name: string, unit: 'seconds' | 'milliseconds') => (value: string | undefined): number | null => {
  const ms = value ? Number(value) * (unit === 'seconds' ? 1000 : 1) : null;
  if (ms !== null && !(ms >= 0)) throw new WgptError(`${name} must be a number of ${unit}, got "${value}"`);
  return ms;
};

const text = (value: string | undefined): string | undefined => value;

interface Setting {
  doc: string;
  /** The value from the raw one (undefined where unset). */
  parse: (value: string | undefined) => unknown;
  /** wgpt's own handshake, not a user's setting: not listed as in force. */
  internal?: boolean;
}

/** The table: each variable's one-line description and parser. */
export const SETTINGS = {
  WGPT_BACKEND: { doc: 'adapter: auto (a GPU, else GL llvmpipe), gpu, software or lavapipe', parse: parseBackend },
  WGPT_KERNELS: { doc: "kernel variants: auto (the adapter's own), gpu or software", parse: parseKernels },
  WGPT_SUBGROUPS: {
    doc: 'row reductions on subgroup operations where the device has them: on or off',
    parse: (v: string | undefined) => parseSwitch(v, 'WGPT_SUBGROUPS'),
  },
  WGPT_TUNE: { doc: 'measure the kernel variants once per machine (on) or run the built-in defaults (off)', parse: parseTune },
  WGPT_TUNE_BUDGET_S: {
    doc: 'seconds a process may spend measuring kernel variants (default 60)', parse: milliseconds('WGPT_TUNE_BUDGET_S', 'seconds'),
  },
  WGPT_MATMUL_TILE: { doc: "TMxTNxWGXxWGY: the matmul's register tile and workgroup, by hand (no tuning)", parse: matmulTile },
  WGPT_MATMUL_TEXTURES: {
    doc: "on or off: llvmpipe's matmul reads vec4 operands from textures, by hand",
    parse: (v: string | undefined) => (v ? parseSwitch(v, 'WGPT_MATMUL_TEXTURES') : null),
  },
  WGPT_MATMUL_PRECISION: {
    doc: 'f32 (default) or f16: the operands of products on tensor cores (--matmul-precision)',
    parse: (v: string | undefined): 'f16' | 'f32' => {
      if (!v || v === 'f32') return 'f32';
      if (v === 'f16') return 'f16';
      throw new WgptError(`WGPT_MATMUL_PRECISION must be f16 or f32, got "${v}"`);
    },
  },
  WGPT_ATTENTION_TILE: { doc: "RxCxWG: flash attention's query rows, keys and workgroup, by hand", parse: attentionTile },
  WGPT_PROFILE: {
    doc: 'GPU time per kernel: any value per kernel name, "shapes" per kernel and shape',
    parse: (v: string | undefined): 'kernels' | 'shapes' | null => (!v ? null : v === 'shapes' ? 'shapes' : 'kernels'),
  },
  WGPT_CACHE: { doc: 'where models, data and kernel measurements are kept (default ~/.cache/wgpt)', parse: text },
  WGPT_CH07_URL: { doc: "where the chapter 7 instruction data is fetched from (default: the book's repository)", parse: text },
  WGPT_CH07_DPO_URL: { doc: "where the chapter 7 preference data is fetched from (default: the book's repository)", parse: text },
  WGPT_DEBUG: {
    doc: 'any value: stack traces, and the CLI in the launching process (Dawn warnings shown); "kernels": also each matmul ' +
      "class's kernel and the WGSL it runs, once",
    parse: (v: string | undefined): string | null => v || null,
  },
  WGPT_CLI_CHILD: { doc: 'set by bin/wgpt.js for its child (the launcher reads it before TypeScript loads)', parse: text, internal: true },
  WGPT_RUN_LOCK: {
    doc: "set by wgpt sweep task for its run's command: the pid holding the run's lock for it", parse: text, internal: true,
  },
  WGPT_TEST_PAUSE_SAVE: { doc: 'tests: stop a checkpoint save at this point (written, linked, renamed)', parse: text },
  WGPT_TEST_READ_DELAY_MS: {
    doc: 'tests: every readback this many ms slower, as on a real GPU', parse: milliseconds('WGPT_TEST_READ_DELAY_MS', 'milliseconds'),
  },
} satisfies Record<string, Setting>;

type SettingName = keyof typeof SETTINGS;

/** The variable's value now, parsed: its default where unset. */
export function setting<K extends SettingName>(name: K): ReturnType<(typeof SETTINGS)[K]['parse']> {
  return SETTINGS[name].parse(platform.env(name)) as ReturnType<(typeof SETTINGS)[K]['parse']>;
}

/** The WGPT_* variables set in this environment, each parsed (a bad value is an error here too)
 *  with its description; a name wgpt does not know is listed as such, so a typo does not pass. */
export function settingsInForce(
  env: Record<string, string | undefined> = Object.fromEntries(platform.envNames().map((k) => [k, platform.env(k)])),
): { name: string; value: string; doc: string }[] {
  const table: Record<string, Setting> = SETTINGS;
  return Object.keys(env).filter((k) => k.startsWith('WGPT_') && !table[k]?.internal).sort().map((name) => {
    const s = table[name];
    if (!s) return { name, value: env[name]!, doc: 'not a wgpt setting: check the spelling (wgpt info --help lists them)' };
    s.parse(env[name]);
    return { name, value: env[name]!, doc: s.doc };
  });
}
