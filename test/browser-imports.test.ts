// The browser entries reach no Node module: esbuild walks every import from web/main.ts (the page)
// and engine/browser.ts (the engine alone) under the "browser" condition, and its metafile lists
// each module reached and what each imports. (esbuild also refuses a node: import it cannot
// resolve for the browser, so a build that succeeds already says so; the test names the module.)
import t from 'tap';
import { bundle, ENGINE_ENTRY, PAGE_ENTRY } from '../web/build.ts';

const NODE_BUILTIN = /^(node:|fs$|path$|os$|crypto$|child_process$|http$|url$|worker_threads$)/;

for (const [name, entry] of [['page', PAGE_ENTRY], ['engine', ENGINE_ENTRY]] as const) {
  t.test(`the ${name}'s browser bundle reaches no node: module`, async (t) => {
    const b = await bundle(entry);
    const inputs = Object.entries(b.metafile.inputs);
    const nodeImports = inputs.flatMap(([file, i]) =>
      i.imports.filter((x) => NODE_BUILTIN.test(x.path)).map((x) => `${file} -> ${x.path}`));
    t.same(nodeImports, []);
    const files = inputs.map(([f]) => f);
    t.ok(files.includes('engine/platform/browser.ts') && !files.includes('engine/platform/node.ts'), '#platform is the browser one');
    t.ok(files.includes('kernels/wgsl-browser.ts') && !files.includes('kernels/wgsl-node.ts'), '#wgsl is the browser one');
    t.notOk(files.some((f) => /node_modules\/webgpu\//.test(f)), "Dawn's Node bindings are not in it");
    t.ok(b.bytes > 50_000, `${name} bundle: ${(b.bytes / 1024).toFixed(0)} KiB minified`);
  });
}
