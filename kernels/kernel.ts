// A kernel is one WGSL entry point whose interface is declared once, here in TypeScript: its
// parameters (named and typed: the uniform block at binding 0), its bindings (storage buffers and
// textures at 1.., in order) and its override constants. The loader writes the WGSL for them (the
// Params struct, the @binding and override lines) before the kernel's own code, so a .wgsl file
// holds code only, and a dispatch passes its parameters by name (packParams writes them in the
// declared order). Kernels know nothing of tensors: the engine decides what to bind and how many
// workgroups to run.
import { wgslFile } from '#wgsl';

export type ParamType = 'u32' | 'i32' | 'f32';
/** A storage buffer (its access and element type), or an rgba32float texture read by textureLoad. */
export type BindingType = `${'read' | 'read_write'} ${'f32' | 'i32' | 'vec4<f32>'}` | 'texture';

export interface KernelInterface {
  /** Parameters in the order of the uniform block: at most MAX_PARAM_WORDS, 4 bytes each. */
  params: Readonly<Record<string, ParamType>>;
  /** What the code calls each binding, in binding order. */
  bindings: Readonly<Record<string, BindingType>>;
  /** Override constants and their defaults: a number is a u32, a boolean a bool. */
  overrides?: Readonly<Record<string, number | boolean>>;
  /** WGSL extensions the code needs ('subgroups'). */
  enable?: readonly string[];
}

export interface Kernel extends KernelInterface {
  /** Unique per entry point and variant: the pipeline cache key, and the name in error messages. */
  name: string;
  entry: string;
  /** The whole shader module. */
  code: string;
  /** The bindings' types in binding order (binding i + 1), for checking a dispatch's. */
  slots: readonly BindingType[];
  /** The parameters' names and types in declared order, for packParams. */
  fields: readonly (readonly [string, ParamType])[];
}

/** A dispatch's parameters by name (floats as numbers: packParams takes their f32 bits). */
export type Params = Readonly<Record<string, number>>;

/** Words per dispatch in the engine's parameter arena. */
export const MAX_PARAM_WORDS = 16;

/** Default invocations per workgroup of the 1-D and row kernels (their override WG). */
export const WG = 64;

/** The index arithmetic every 1-D and row kernel shares, where the kernel has an override WG: a
 *  launch of more workgroups than one dimension holds is folded into 2-D (grid1d). */
const GRID = `struct Grid { @builtin(workgroup_id) id: vec3<u32>, @builtin(num_workgroups) size: vec3<u32> }
/** This workgroup's place in the launch: the row of a one-workgroup-per-row kernel. */
fn grid_group(g: Grid) -> u32 { return g.id.y * g.size.x + g.id.x; }
/** This invocation's place in a 1-D launch. */
fn grid_index(g: Grid, lid: u32) -> u32 { return grid_group(g) * WG + lid; }
/** The coordinates (axis 0 first) of element i of a [_, e1, e2, e3] array. */
fn coords4(i: u32, e1: u32, e2: u32, e3: u32) -> vec4<u32> {
  let q2 = i / e3;
  let q1 = q2 / e2;
  return vec4<u32>(q1 / e1, q1 % e1, q2 % e2, i % e3);
}
`;

/** The WGSL that declares a kernel's interface. */
function header(k: KernelInterface, name: string): string {
  const fields = Object.entries(k.params).map(([p, type]) => `${p}: ${type}`);
  if (fields.length > MAX_PARAM_WORDS) throw new Error(`kernel ${name}: ${fields.length} parameters, at most ${MAX_PARAM_WORDS}`);
  // Whole 16-byte rows, as the uniform block was always laid out.
  while (fields.length === 0 || fields.length % 4 !== 0) fields.push(`_pad${fields.length}: u32`);
  const lines = [
    ...(k.enable ?? []).map((e) => `enable ${e};`),
    `struct Params { ${fields.join(', ')} }`,
    '@group(0) @binding(0) var<uniform> P: Params;',
    ...Object.entries(k.bindings).map(([b, type], i) => {
      if (type === 'texture') return `@group(0) @binding(${i + 1}) var ${b}: texture_2d<f32>;`;
      const [access, elem] = type.split(' ');
      return `@group(0) @binding(${i + 1}) var<storage, ${access}> ${b}: array<${elem}>;`;
    }),
    ...Object.entries(k.overrides ?? {}).map(([o, v]) => `override ${o}: ${typeof v === 'boolean' ? 'bool' : 'u32'} = ${v};`),
  ];
  return `${lines.join('\n')}\n${k.overrides && 'WG' in k.overrides ? GRID : ''}`;
}

/** A kernel from its interface and its code (the entry point and what it calls). */
export function kernel(name: string, entry: string, iface: KernelInterface, code: string): Kernel {
  return {
    ...iface, name, entry, code: `${header(iface, name)}\n${code}`,
    slots: Object.values(iface.bindings), fields: Object.entries(iface.params),
  };
}

const variants = new Map<string, Kernel>();

/** A generated kernel variant, made at its first use (writing its text costs more than a dispatch). */
export function variant(name: string, make: () => Kernel): Kernel {
  let k = variants.get(name);
  if (!k) variants.set(name, (k = make()));
  return k;
}

const sources = new Map<string, string>();

/** The text of kernels/<file>.wgsl that `entry` sees: everything before the file's first
 *  `// @entry` line, then each section from a line `// @entry a, b` to the next that names it. */
export function wgslSource(file: string, entry: string): string {
  let text = sources.get(file);
  if (text === undefined) {
    text = wgslFile(file);
    sources.set(file, text);
  }
  const [shared, ...sections] = text.split(/^(?=\/\/ @entry )/m);
  if (sections.length === 0) return shared;
  const own = sections.filter((s) => /^\/\/ @entry (.*)/.exec(s)![1].split(/,\s*/).includes(entry));
  if (own.length === 0) throw new Error(`kernels/${file}.wgsl has no "// @entry" section for ${entry}`);
  return [shared, ...own].join('');
}

/** A .wgsl kernel runs WG invocations a workgroup: its override WG, 64 unless its interface says. */
const withWG = (iface: KernelInterface): KernelInterface => ({ ...iface, overrides: { WG, ...iface.overrides } });

/** The kernel for one entry point of kernels/<file>.wgsl. */
export function wgsl(file: string, entry: string, iface: KernelInterface): Kernel {
  return kernel(`${file}.${entry}`, entry, withWG(iface), wgslSource(file, entry));
}

/** A one-workgroup-per-row kernel in its two builds: its code after rows.wgsl (workgroup
 *  reductions as trees in workgroup memory) and after rows-subgroups.wgsl (the same functions on
 *  subgroup operations, for a device with the `subgroups` feature; ONE_SUBGROUP: the workgroup is
 *  one subgroup, so no barrier is needed). */
export interface RowKernel {
  tree: Kernel;
  subgroups: Kernel;
}

export function rowKernel(file: string, entry: string, declared: KernelInterface): RowKernel {
  const iface = withWG(declared);
  const own = wgslSource(file, entry);
  const name = `${file}.${entry}`;
  return {
    tree: kernel(name, entry, iface, `${wgslSource('rows', '')}\n${own}`),
    subgroups: kernel(`${name}+subgroups`, entry, {
      ...iface, enable: ['subgroups'], overrides: { ...iface.overrides, ONE_SUBGROUP: false },
    }, `${wgslSource('rows-subgroups', '')}\n${own}`),
  };
}

/** Writes a dispatch's parameters into `words` at `at`, in the kernel's declared order; a name
 *  missing or unknown, or an integer out of range, is a one-line error naming the kernel. */
export function packParams(k: Kernel, params: Params, words: Uint32Array, at: number, label: string): void {
  const fields = k.fields;
  for (let f = 0; f < fields.length; f++) {
    const [name, type] = fields[f];
    const v = params[name];
    if (v === undefined) throw new Error(`${label}: kernel ${k.name} needs parameter ${name} (${Object.keys(k.params).join(', ')})`);
    if (type === 'f32') {
      words[at + f] = f32bits(v);
      continue;
    }
    if (!Number.isInteger(v) || v < (type === 'u32' ? 0 : -(2 ** 31)) || v >= (type === 'u32' ? 2 ** 32 : 2 ** 31)) {
      throw new Error(`${label}: kernel ${k.name}: parameter ${name} = ${v} is not a ${type}`);
    }
    words[at + f] = v;
  }
  let given = 0;
  for (const _ in params) given++;
  if (given !== fields.length) {
    const unknown = Object.keys(params).filter((p) => !(p in k.params));
    throw new Error(`${label}: kernel ${k.name} has no parameter ${unknown.join(', ')} (it takes ${Object.keys(k.params).join(', ')})`);
  }
}

const f32view = new Float32Array(1);
const u32view = new Uint32Array(f32view.buffer);
/** The bits of an f32, as the uniform block holds a float. */
export function f32bits(x: number): number {
  f32view[0] = x;
  return u32view[0];
}

/** Texels per row of an operand texture (a power of 2), for kernels that read a buffer's copy as an
 *  rgba32float texture (Device.operandTexture): vec4 i of the window sits at texel
 *  (i % TEXTURE_ROW, i / TEXTURE_ROW), so any window up to TEXTURE_ROW x maxTextureDimension2D
 *  texels fits one texture and a kernel's addressing stays a running offset. */
export const TEXTURE_ROW = 4096;

/** A vec4's components by index, for generators that unroll over them (`x.${LANE[i]}`). */
export const LANE = ['x', 'y', 'z', 'w'] as const;

/** Workgroups for n invocations of a 1-D kernel, folded into 2-D past the per-dimension limit
 *  (the code's grid_index recovers the linear index). */
export function grid1d(n: number, wg = WG, maxPerDim = 65535): [number, number] {
  const groups = Math.ceil(n / wg);
  if (groups <= maxPerDim) return [groups, 1];
  const y = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / y), y];
}
