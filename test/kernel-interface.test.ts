// A kernel's interface is declared once (kernels/kernel.ts): the loader writes its WGSL
// declarations, a .wgsl file's `// @entry` sections go to the entry points they name, and a
// dispatch's parameters are packed by name, a missing, unknown or out-of-range one refused in a line.
import t from 'tap';
import { f32bits, kernel, packParams, wgslSource } from '../kernels/kernel.ts';
import { SOFTMAX } from '../kernels/softmax.ts';

const k = kernel('test.k', 'main', {
  params: { n: 'u32', base: 'i32', scale: 'f32' },
  bindings: { x: 'read vec4<f32>', t: 'texture', y: 'read_write f32' },
  overrides: { WG: 64, ACC: false },
}, '@compute @workgroup_size(WG) fn main() {}');

t.test('the header declares the interface, in order, the uniform block in whole 16-byte rows', async (t) => {
  const lines = k.code.split('\n');
  t.equal(lines[0], 'struct Params { n: u32, base: i32, scale: f32, _pad3: u32 }');
  t.equal(lines[1], '@group(0) @binding(0) var<uniform> P: Params;');
  t.equal(lines[2], '@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;');
  t.equal(lines[3], '@group(0) @binding(2) var t: texture_2d<f32>;');
  t.equal(lines[4], '@group(0) @binding(3) var<storage, read_write> y: array<f32>;');
  t.equal(lines[5], 'override WG: u32 = 64;');
  t.equal(lines[6], 'override ACC: bool = false;');
  t.match(k.code, /fn grid_index\(g: Grid, lid: u32\) -> u32/, 'a kernel with WG gets the index prelude');
  t.match(SOFTMAX.subgroups.code, /^enable subgroups;\n/, 'directives first');
  t.match(SOFTMAX.subgroups.code, /override ONE_SUBGROUP: bool = false;/);
});

t.test('parameters are packed by name in the declared order', async (t) => {
  const words = new Uint32Array(8);
  packParams(k, { scale: 0.1, n: 7, base: -100 }, words, 2, 'op');
  t.same(Array.from(words), [0, 0, 7, 2 ** 32 - 100, f32bits(0.1), 0, 0, 0]);
  t.throws(() => packParams(k, { n: 7, scale: 1 }, words, 0, 'op'), /^op: kernel test\.k needs parameter base \(n, base, scale\)$/);
  t.throws(() => packParams(k, { n: 7, base: 0, scale: 1, bias: 2 }, words, 0, 'op'),
    /^op: kernel test\.k has no parameter bias \(it takes n, base, scale\)$/);
  t.throws(() => packParams(k, { n: -1, base: 0, scale: 1 }, words, 0, 'op'), /^op: kernel test\.k: parameter n = -1 is not a u32$/);
  t.throws(() => packParams(k, { n: 1.5, base: 0, scale: 1 }, words, 0, 'op'), /parameter n = 1\.5 is not a u32/);
});

t.test("an entry point sees the file's shared text and its own sections only", async (t) => {
  const forward = wgslSource('softmax', 'forward');
  const padded = wgslSource('softmax', 'padded');
  t.match(forward, /fn softmax_row/);
  t.match(padded, /fn softmax_row/, 'a section may name several entry points');
  t.match(forward, /fn valid_len/);
  t.notMatch(padded, /fn valid_len|fn backward/);
  t.throws(() => wgslSource('softmax', 'sideways'), /^kernels\/softmax\.wgsl has no "\/\/ @entry" section for sideways$/);
});
