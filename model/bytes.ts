// A model as the two files `wgpt train` writes (model.safetensors + config.json), held in memory:
// what a browser page loads from a dropped file or a URL and offers back as a download. F32 only
// (what wgpt writes); Node's streaming reader (safetensors.ts) also takes F16 and BF16.
import { Tensor, WgptError } from '../engine/index.ts';
import type { GPTConfig } from './config.ts';
import { GPT } from './gpt.ts';
import { canonicalName, hfTensorSpecs, inferConfig, isSkippedBuffer, parseHFConfig, toHFConfig, validateShapes } from './hf-names.ts';

const MAX_HEADER = 100 * 1024 * 1024;

function fail(source: string, msg: string): never {
  throw new WgptError(`${source}: ${msg}`);
}

/** The F32 tensors of a safetensors file's bytes, by canonical name (buffers GPT-2 keeps are skipped). */
export function parseSafetensors(bytes: ArrayBuffer, source = 'model.safetensors'): Map<string, { shape: number[]; data: Float32Array }> {
  if (bytes.byteLength < 8) fail(source, `${bytes.byteLength} bytes, too short for a safetensors file`);
  const view = new DataView(bytes);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER) || 8 + Number(n) > bytes.byteLength) fail(source, 'not a safetensors file (its header length is wrong)');
  const headerLen = Number(n);
  let header: Record<string, { dtype?: string; shape?: number[]; data_offsets?: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder().decode(new Uint8Array(bytes, 8, headerLen)));
  } catch {
    fail(source, 'not a safetensors file (its header is not JSON)');
  }
  const dataStart = 8 + headerLen;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__' || isSkippedBuffer(name)) continue;
    const [b, end] = e.data_offsets ?? [-1, -1];
    const count = (e.shape ?? []).reduce((a, s) => a * s, 1);
    if (!Array.isArray(e.shape) || !(b >= 0 && end >= b) || dataStart + end > bytes.byteLength) {
      fail(source, `tensor ${name}: bad shape or offsets`);
    }
    if (e.dtype !== 'F32') fail(source, `tensor ${name} is ${e.dtype}: the page reads F32 weights (what wgpt train writes)`);
    if (count * 4 !== end - b) fail(source, `tensor ${name}: shape [${e.shape}] does not match its ${end - b} bytes`);
    // Copied out: the offset need not be 4-aligned, and the caller's buffer may go.
    out.set(canonicalName(name), { shape: e.shape, data: new Float32Array(bytes.slice(dataStart + b, dataStart + end)) });
  }
  return out;
}

/** A GPT from the two files' contents (config.json's text, or null to infer the config from the shapes). */
export function gptFromFiles(safetensors: ArrayBuffer, configText: string | null): GPT {
  const tensors = parseSafetensors(safetensors);
  const shapes = new Map([...tensors].map(([name, t]) => [name, t.shape]));
  const hf = configText === null ? undefined : parseHFConfig(configText, 'config.json');
  const config = inferConfig(shapes, hf, hf ? 'config.json' : 'model.safetensors');
  validateShapes(config, shapes, 'model.safetensors');
  const onGpu = new Map<string, Tensor>();
  for (const spec of hfTensorSpecs(config)) {
    const t = tensors.get(spec.name)!;
    onGpu.set(spec.name, Tensor.fromData(t.data, t.shape));
  }
  return new GPT(config, onGpu);
}

/** model.safetensors (F32, header padded to 8 bytes as Hugging Face does) and config.json. */
export async function gptToFiles(model: GPT): Promise<{ safetensors: Uint8Array; config: string }> {
  const parts: { name: string; shape: number[]; data: Float32Array }[] = [];
  for (const [name, t] of model.params) parts.push({ name, shape: [...t.shape], data: (await t.toArray()) as Float32Array });
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const p of parts) {
    header[p.name] = { dtype: 'F32', shape: p.shape, data_offsets: [offset, offset + p.data.byteLength] };
    offset += p.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (new TextEncoder().encode(json).byteLength % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.byteLength), true);
  out.set(head, 8);
  let at = 8 + head.byteLength;
  for (const p of parts) {
    out.set(new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength), at);
    at += p.data.byteLength;
  }
  return { safetensors: out, config: `${JSON.stringify(toHFConfig(model.config as GPTConfig), null, 2)}\n` };
}
