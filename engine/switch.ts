// The on/off environment switches (WGPT_TUNE, WGPT_SUBGROUPS, WGPT_MATMUL_TEXTURES): one parser, so
// each accepts the same spellings and refuses anything else in one line.
import { WgptError } from './errors.ts';

/** on/1 or off/0, any case; unset is on. `usage` says what the two values mean. */
export function parseSwitch(value: string | undefined, name: string, usage = 'on or off'): boolean {
  const v = (value ?? 'on').toLowerCase();
  if (v === 'on' || v === '1') return true;
  if (v === 'off' || v === '0') return false;
  throw new WgptError(`unknown ${name} "${value}": use ${usage}`);
}
