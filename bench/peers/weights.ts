// Deterministic GPT-2 weights and batches for the benchmark peers, so that wgpt, TensorFlow.js
// and PyTorch can run one training step on exactly the same numbers and report the same loss.
//
// The generator is written out here (not Math.random, not a library) so that it can be
// reproduced in any language:
//   - every tensor has its own stream, seeded with FNV-1a (32-bit) over the UTF-8 bytes of its
//     Hugging Face name, starting from (2166136261 XOR seed): adding or dropping a tensor never
//     shifts another tensor's values;
//   - the stream is mulberry32 (32-bit state, outputs uint32);
//   - normals are Box-Muller pairs: u1 = (a + 1) / 2^32, u2 = b / 2^32 from two consecutive
//     outputs a, b; z0 = sqrt(-2 ln u1) cos(2π u2), z1 = sqrt(-2 ln u1) sin(2π u2), used in that
//     order, computed in float64 and rounded to float32 once after scaling by the std.
// Initialisation follows GPT-2 / Hugging Face: wte, wpe and every Conv1D weight N(0, 0.02); the two
// residual projections (attn.c_proj, mlp.c_proj) N(0, 0.02 / sqrt(2 nLayers)); biases 0;
// LayerNorm weight 1, bias 0.
import path from 'node:path';
import { promises as fsp } from 'node:fs';
import { writeSafetensors } from '../../model/safetensors.ts';

export interface PeerConfig {
  nLayers: number;
  dModel: number;
  nHeads: number;
  /** Sequence length of the batch (and rows of wpe). */
  T: number;
  /** Sequences per batch. */
  B: number;
  vocab: number;
}

/** The `small` benchmark config: 2 layers, d=256, 4 heads, T=128, B=4, full GPT-2 vocabulary. */
export const SMALL_CONFIG: PeerConfig = { nLayers: 2, dModel: 256, nHeads: 4, T: 128, B: 4, vocab: 50257 };

export interface PeerTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface PeerBatch {
  /** [B*T] token ids, row-major by sequence. */
  inputs: Int32Array;
  /** [B*T] next-token targets: targets[b,t] = token t+1 of sequence b. */
  targets: Int32Array;
}

export function validatePeerConfig(c: PeerConfig): void {
  for (const k of ['nLayers', 'dModel', 'nHeads', 'T', 'B', 'vocab'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`peer config: ${k} must be a positive integer (got ${c[k]})`);
  }
  if (c.dModel % c.nHeads !== 0) throw new Error(`peer config: dModel ${c.dModel} is not a multiple of nHeads ${c.nHeads}`);
}

/** FNV-1a over the UTF-8 bytes of `name`, offset basis XOR seed. */
export function streamSeed(seed: number, name: string): number {
  let h = (2166136261 ^ seed) >>> 0;
  for (const byte of Buffer.from(name, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 16777619) >>> 0;
  }
  return h;
}

/** mulberry32: returns a function giving uint32 values. */
export function mulberry32(state: number): () => number {
  let a = state >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function normal(n: number, std: number, seed: number, name: string): Float32Array {
  const next = mulberry32(streamSeed(seed, name));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = (next() + 1) / 4294967296;
    const u2 = next() / 4294967296;
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = std * r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = std * r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** Names and shapes in Hugging Face GPT-2 layout (Conv1D weights are [in, out]), in file order. */
export function peerShapes(c: PeerConfig): { name: string; shape: number[] }[] {
  const D = c.dModel;
  const out: { name: string; shape: number[] }[] = [
    { name: 'wte.weight', shape: [c.vocab, D] },
    { name: 'wpe.weight', shape: [c.T, D] },
  ];
  for (let l = 0; l < c.nLayers; l++) {
    const p = `h.${l}.`;
    out.push(
      { name: `${p}ln_1.weight`, shape: [D] },
      { name: `${p}ln_1.bias`, shape: [D] },
      { name: `${p}attn.c_attn.weight`, shape: [D, 3 * D] },
      { name: `${p}attn.c_attn.bias`, shape: [3 * D] },
      { name: `${p}attn.c_proj.weight`, shape: [D, D] },
      { name: `${p}attn.c_proj.bias`, shape: [D] },
      { name: `${p}ln_2.weight`, shape: [D] },
      { name: `${p}ln_2.bias`, shape: [D] },
      { name: `${p}mlp.c_fc.weight`, shape: [D, 4 * D] },
      { name: `${p}mlp.c_fc.bias`, shape: [4 * D] },
      { name: `${p}mlp.c_proj.weight`, shape: [4 * D, D] },
      { name: `${p}mlp.c_proj.bias`, shape: [D] },
    );
  }
  out.push({ name: 'ln_f.weight', shape: [D] }, { name: 'ln_f.bias', shape: [D] });
  return out;
}

/** GPT-2 initial weights for `config`, by Hugging Face name, reproducible from `seed`. */
export function peerWeights(config: PeerConfig, seed: number): Map<string, PeerTensor> {
  validatePeerConfig(config);
  const projStd = 0.02 / Math.sqrt(2 * config.nLayers);
  const out = new Map<string, PeerTensor>();
  for (const { name, shape } of peerShapes(config)) {
    const n = shape.reduce((a, s) => a * s, 1);
    let data: Float32Array;
    if (name.endsWith('.bias')) data = new Float32Array(n);
    else if (/ln_(1|2|f)\.weight$/.test(name)) data = new Float32Array(n).fill(1);
    else if (name.endsWith('c_proj.weight')) data = normal(n, projStd, seed, name);
    else data = normal(n, 0.02, seed, name);
    out.set(name, { name, shape, data });
  }
  return out;
}

/** B sequences of T+1 uniform random tokens (stream named "batch"); inputs/targets shifted by one. */
export function peerBatch(config: PeerConfig, seed: number): PeerBatch {
  validatePeerConfig(config);
  const { B, T, vocab } = config;
  const next = mulberry32(streamSeed(seed, 'batch'));
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const seq = new Int32Array(T + 1);
    for (let t = 0; t <= T; t++) seq[t] = Math.floor((next() / 4294967296) * vocab);
    inputs.set(seq.subarray(0, T), b * T);
    targets.set(seq.subarray(1), b * T);
  }
  return { inputs, targets };
}

/**
 * Writes the weights as `<dir>/peer-weights.safetensors` and the batch as `<dir>/peer-batch.json`
 * ({B, T, inputs: number[], targets: number[]}) for peers in other processes (PyTorch).
 */
export async function writePeerFiles(
  config: PeerConfig,
  seed: number,
  dir: string,
): Promise<{ weights: string; batch: string }> {
  await fsp.mkdir(dir, { recursive: true });
  const weights = path.join(dir, 'peer-weights.safetensors');
  const batchFile = path.join(dir, 'peer-batch.json');
  await writeSafetensors(weights, [...peerWeights(config, seed).values()], {
    source: 'wgpt bench/peers/weights.ts',
    seed: String(seed),
  });
  const b = peerBatch(config, seed);
  await fsp.writeFile(
    batchFile,
    JSON.stringify({ B: config.B, T: config.T, inputs: Array.from(b.inputs), targets: Array.from(b.targets) }),
  );
  return { weights, batch: batchFile };
}
