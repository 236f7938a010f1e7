// The text of kernels/<file>.wgsl in a browser build: every .wgsl file of this directory, put into
// the bundle by web/build.ts as the module `wgpt:wgsl-sources` (so a new kernel file needs no list).
import sources from 'wgpt:wgsl-sources';

export function wgslFile(file: string): string {
  const text = sources[file];
  if (text === undefined) throw new Error(`kernels/${file}.wgsl is not in this bundle: rebuild it (wgpt web builds it)`);
  return text;
}
