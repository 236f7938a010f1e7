// The text of kernels/<file>.wgsl in Node, read from beside this file. A browser build resolves
// `#wgsl` to wgsl-browser.ts instead (package.json "imports").
import { readFileSync } from 'node:fs';

export function wgslFile(file: string): string {
  return readFileSync(new URL(`./${file}.wgsl`, import.meta.url), 'utf8');
}
