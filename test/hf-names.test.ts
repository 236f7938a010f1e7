import t from 'tap';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getConfig, paramCount } from '../model/config.ts';
import type { GPTConfig } from '../model/config.ts';
import {
  canonicalName, fromHFConfig, hfTensorSpecs, inferConfig, isSkippedBuffer, toHFConfig,
  validateShapes,
} from '../model/hf-names.ts';
import { readHFConfig, writeHFConfig } from '../model/hf-config-file.ts';
import { loadCheckpoint, saveCheckpoint } from '../model/checkpoint.ts';
import { writeSafetensors } from '../model/safetensors.ts';

const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'wgpt-hf-'));
t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));

const small: GPTConfig = {
  vocabSize: 11, contextLength: 6, dModel: 8, nLayers: 2, nHeads: 2, layerNormEps: 1e-5, dropout: 0, tiedHead: true,
};
const shapesOf = (cfg: GPTConfig): Map<string, number[]> => new Map(hfTensorSpecs(cfg).map((s) => [s.name, s.shape]));
/** Deterministic distinct values per tensor so a mix-up of names shows up. */
const tensorsFor = (cfg: GPTConfig) => hfTensorSpecs(cfg).map((s, k) => {
  const n = s.shape.reduce((a, b) => a * b, 1);
  return { ...s, data: Float32Array.from({ length: n }, (_, i) => k * 1000 + i * 0.5) };
});

t.test('names and shapes follow HF GPT-2 (Conv1D layout)', async (t) => {
  const specs = hfTensorSpecs(getConfig('gpt2'));
  t.equal(specs.length, 2 + 12 * 12 + 2);
  const sum = specs.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
  t.equal(sum, paramCount(getConfig('gpt2')), 'shapes add up to paramCount');
  const m = new Map(specs.map((s) => [s.name, s.shape]));
  t.same(m.get('wte.weight'), [50257, 768]);
  t.same(m.get('wpe.weight'), [1024, 768]);
  t.same(m.get('h.11.attn.c_attn.weight'), [768, 2304]);
  t.same(m.get('h.0.attn.c_proj.weight'), [768, 768]);
  t.same(m.get('h.3.mlp.c_fc.weight'), [768, 3072]);
  t.same(m.get('h.3.mlp.c_proj.weight'), [3072, 768]);
  t.same(m.get('ln_f.bias'), [768]);
  t.notOk(m.has('lm_head.weight'));
  const untied = hfTensorSpecs(getConfig('gpt2-medium', { tiedHead: false }));
  t.same(untied.at(-1), { name: 'lm_head.weight', shape: [50257, 1024] });
  t.equal(untied.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0), 406_286_336);
  t.equal(canonicalName('transformer.h.0.ln_1.weight'), 'h.0.ln_1.weight');
  t.equal(canonicalName('lm_head.weight'), 'lm_head.weight');
  t.ok(isSkippedBuffer('h.3.attn.bias') && isSkippedBuffer('transformer.h.0.attn.masked_bias'));
  t.notOk(isSkippedBuffer('h.3.attn.c_attn.bias'), 'c_attn.bias is a parameter');
});

t.test('config.json round trip and HF defaults', async (t) => {
  const cfg = getConfig('gpt2-medium', { tiedHead: false, dropout: 0.1 });
  const hf = toHFConfig(cfg);
  t.match(hf, {
    model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], n_embd: 1024, n_layer: 24, n_head: 16, n_positions: 1024, n_ctx: 1024,
    vocab_size: 50257, layer_norm_epsilon: 1e-5, tie_word_embeddings: false,
  });
  const file = path.join(dir, 'config.json');
  await writeHFConfig(file, cfg);
  t.same(fromHFConfig(await readHFConfig(file)), cfg);
  // OpenAI's released gpt2 config.json (abridged): no tie_word_embeddings => tied (HF default).
  const released = {
    activation_function: 'gelu_new', architectures: ['GPT2LMHeadModel'], attn_pdrop: 0.1, embd_pdrop: 0.1, layer_norm_epsilon: 1e-05,
    model_type: 'gpt2', n_ctx: 1024, n_embd: 768, n_head: 12, n_layer: 12, n_positions: 1024, resid_pdrop: 0.1, vocab_size: 50257,
  };
  t.same(fromHFConfig(released), { ...getConfig('gpt2'), dropout: 0.1 });
  t.throws(() => fromHFConfig({ n_embd: 8, n_layer: 1 }, 'x/config.json'), /x\/config.json: missing n_head/);
  t.throws(() => fromHFConfig({ model_type: 'llama', n_embd: 8, n_layer: 1, n_head: 1 }), /model_type is 'llama'/);
  await fsp.writeFile(path.join(dir, 'bad.json'), '{');
  await t.rejects(readHFConfig(path.join(dir, 'bad.json')), /bad\.json: not valid JSON/);
});

t.test('inferring the config from shapes', async (t) => {
  const gpt2 = getConfig('gpt2');
  t.same(inferConfig(shapesOf(gpt2)), gpt2);
  const xlUntied = getConfig('gpt2-xl', { tiedHead: false });
  t.same(inferConfig(shapesOf(xlUntied)), xlUntied, 'lm_head present => untied; 1600 => 25 heads');
  t.throws(() => inferConfig(shapesOf(small), undefined, 'm.safetensors'),
    /n_head: cannot infer from n_embd=8; put config.json beside the file/);
  t.same(inferConfig(shapesOf(small), toHFConfig(small)), small, 'config.json supplies the heads');
  const noWte = shapesOf(gpt2);
  noWte.delete('wte.weight');
  t.throws(() => inferConfig(noWte), /missing wte\.weight/);
  t.throws(() => inferConfig(shapesOf(small), { ...toHFConfig(small), tie_word_embeddings: false }),
    /tie_word_embeddings=false but the checkpoint has no lm_head\.weight/);
});

t.test('validation names the tensor and both shapes', async (t) => {
  const s = shapesOf(small);
  s.set('h.1.mlp.c_fc.weight', [32, 8]); // nn.Linear layout instead of Conv1D
  s.delete('ln_f.bias');
  s.set('h.7.ln_1.weight', [8]);
  s.set('h.0.attn.bias', [1, 1, 6, 6]); // a mask buffer: allowed
  const err = (() => { try { validateShapes(small, s, 'f.safetensors'); } catch (e) { return (e as Error).message; } return ''; })();
  t.match(err, /^f\.safetensors does not match the GPT-2 config/);
  t.match(err, /tensor h\.1\.mlp\.c_fc\.weight has shape \[32,8\], expected \[8,32\]/);
  t.match(err, /missing tensor ln_f\.bias \(expected shape \[8\]\)/);
  t.match(err, /unexpected tensor h\.7\.ln_1\.weight \[8\]/);
  t.notMatch(err, /attn\.bias/);
});

t.test('checkpoint save/load: config.json, prefix, buffers, tied and untied', async (t) => {
  for (const tiedHead of [true, false]) {
    const cfg = { ...small, tiedHead };
    const d = path.join(dir, tiedHead ? 'tied' : 'untied');
    const tensors = tensorsFor(cfg);
    await saveCheckpoint(d, cfg, tensors);
    const got = await loadCheckpoint(d);
    t.same(got.config, cfg);
    t.same([...got.tensors.keys()], tensors.map((x) => x.name));
    t.ok(tensors.every((x) => Buffer.from(got.tensors.get(x.name)!.data.buffer).equals(Buffer.from(x.data.buffer))), 'data identical');
  }
  // An HF-style export: `transformer.` prefix, a causal-mask buffer (skipped, never read),
  // no config.json and a standard width so the head count is inferred.
  const cfg = { ...small, dModel: 768, nHeads: 12, nLayers: 1 };
  const d = path.join(dir, 'hfstyle');
  await fsp.mkdir(d);
  const ts = tensorsFor(cfg).map((x) => ({ ...x, name: 'transformer.' + x.name }));
  ts.push({ name: 'transformer.h.0.attn.bias', shape: [1, 1, 6, 6], data: new Float32Array(36) });
  await writeSafetensors(path.join(d, 'model.safetensors'), ts);
  const names: string[] = [];
  const got = await loadCheckpoint(path.join(d, 'model.safetensors'), { onTensor: (x) => { names.push(x.name); } });
  t.same(got.config, cfg);
  t.equal(got.tensors.size, 0);
  t.same(names, hfTensorSpecs(cfg).map((s) => s.name), 'canonical names streamed, buffer skipped');
  await t.rejects(saveCheckpoint(path.join(dir, 'x'), small, tensorsFor({ ...small, tiedHead: false })),
    /tied config but an lm_head\.weight/);
  await t.rejects(loadCheckpoint(path.join(dir, 'missing')), /checkpoint not found/);
});
