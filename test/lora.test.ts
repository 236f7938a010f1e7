// LoRA: the adapted product against an f64 reference, step 0 equal to the base model, a frozen
// base (no gradient, no weight-gradient matmul, no optimizer state), the PEFT files, resume bit for
// bit, the merged model's logits, a base file that is never rewritten, and clear errors.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { add, backward, keep, matmul, Tensor, tidy, WgptError, type Device } from '../engine/index.ts';
import { loadGPT, randomGPT } from '../model/build.ts';
import { getConfig } from '../model/config.ts';
import { initLora, LoraAdapters, loraDelta, loraModules, loraParamCount, loraSpec, parseLoraTargets } from '../model/lora.ts';
import { loadAdapters, readAdapterConfig, saveAdapters } from '../model/peft.ts';
import { readSafetensorsHeader, writeSafetensors } from '../model/safetensors.ts';
import { train, type TrainOptions } from '../train/sft/trainer.ts';
import { withDevice } from './helpers/device.ts';
import { microRun } from './helpers/micro-run.ts';
import { checkOp } from './helpers/opcheck.ts';

const device = await withDevice(t);
const { dir, modelDir, dataFile } = await microRun('wgpt-lora-');

const base: TrainOptions = {
  data: dataFile, model: modelDir, fromScratch: false, untie: false, out: '', epochs: 3, maxSteps: 4, batchSize: 4,
  lr: 1e-2, weightDecay: 0.1, mask: 'none', style: 'alpaca', evalEvery: 2, evalBatches: 1, seed: 123, maxNewTokens: 0,
  scoreBefore: false, syntheticCount: 0, loraRank: 4,
};
const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');

/** Labels of the dispatches fn records. */
function labels(d: Device, fn: () => void): string[] {
  const out: string[] = [];
  const dispatch = d.dispatch.bind(d);
  d.dispatch = (x) => {
    out.push(x.label);
    dispatch(x);
  };
  try {
    fn();
  } finally {
    d.dispatch = dispatch;
  }
  return out;
}

t.test('x·W + s·(x·Aᵀ)·Bᵀ and its gradients match f64', (t) => checkOp(t, 'lora', {
  inputs: [{ shape: [2, 3, 5] }, { shape: [5, 6] }, { shape: [2, 5] }, { shape: [6, 2] }],
  gpu: (x, w, a, b) => add(matmul(x, w), loraDelta(x, a, b, 1.5)),
  cpu: (x, w, a, b) => {
    const y = new Float64Array(6 * 6);
    for (let r = 0; r < 6; r++) {
      const xa = [0, 1].map((j) => { let s = 0; for (let i = 0; i < 5; i++) s += x[r * 5 + i] * a[j * 5 + i]; return s; });
      for (let o = 0; o < 6; o++) {
        let s = 0;
        for (let i = 0; i < 5; i++) s += x[r * 5 + i] * w[i * 6 + o];
        for (let j = 0; j < 2; j++) s += 1.5 * xa[j] * b[o * 2 + j];
        y[r * 6 + o] = s;
      }
    }
    return y;
  },
}));

t.test('trainable parameter counts', async (t) => {
  const gpt2 = getConfig('gpt2');
  // GPT-2's fused c_attn (768 -> 2304) is one adapted layer where the book's model has three
  // (W_query, W_key, W_value), so the count is below the book's 2,666,528 for its classifier.
  t.equal(loraParamCount(gpt2, loraSpec(16)), 12 * 16 * ((768 + 2304) + (768 + 768) + (768 + 3072) + (3072 + 768)));
  t.equal(loraParamCount(gpt2, loraSpec(16)), 2_359_296);
  t.equal(loraParamCount(gpt2, loraSpec(16, 16, parseLoraTargets('attn,mlp,head'))), 2_359_296 + 16 * (768 + 50257));
  t.same(loraModules(getConfig('tiny', { nLayers: 1 }), ['mlp']).map((m) => m.module), ['h.0.mlp.c_fc', 'h.0.mlp.c_proj']);
  t.equal(loraSpec(8).alpha, 8, 'alpha defaults to the rank');
});

t.test('step 0 is the base model; only the adapters train', async (t) => {
  const model = randomGPT(getConfig('tiny', { dModel: 32, nLayers: 2, nHeads: 2, contextLength: 16, vocabSize: 61 }), 3);
  const ids = Tensor.fromData([1, 5, 9, 2, 7, 3, 4, 8], [2, 4], 'i32');
  const targets = Tensor.fromData([5, 9, 2, 7, 3, 4, 8, 1], [2, 4], 'i32');
  const before = await tidy(() => keep(model.forward(ids))).toArray();
  model.useAdapters(initLora(model.config, loraSpec(4, 8, ['attn', 'mlp', 'head']), 1));
  const after = await tidy(() => keep(model.forward(ids))).toArray();
  t.same(Array.from(after), Array.from(before), 'B = 0: bit-identical logits');
  const modules = model.lora!.modules.length;
  t.equal(modules, 2 * 4 + 1);
  t.equal(model.trainable().size, 2 * modules, 'an A and a B per adapted layer');
  const dispatched = labels(device, () => tidy(() => backward(model.loss(ids, targets))));
  t.equal(dispatched.filter((l) => l === 'matmul dB').length, 2 * modules, 'weight-gradient matmuls for A and B only');
  for (const [name, p] of model.params) t.equal(p.grad, null, `${name} is frozen`);
  for (const [name, p] of model.trainable()) t.ok(p.grad, `${name} has a gradient`);
  // B is zero, so A's gradient is zero and B's is not: the classic LoRA start.
  const [a, b] = [...model.trainable().values()];
  t.ok((await a.grad!.toArray()).every((v) => v === 0), 'dA = 0 while B = 0');
  t.ok((await b.grad!.toArray()).some((v) => v !== 0), 'dB != 0');
  model.dispose();
});

t.test('a LoRA run: PEFT files, base file untouched, trainable count printed', async (t) => {
  const out = path.join(dir, 'lora');
  const baseHash = sha(path.join(modelDir, 'model.safetensors'));
  let logged = '';
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => ((logged += s), true)) as typeof process.stderr.write;
  try {
    await train({ ...base, out });
  } finally {
    process.stderr.write = write;
  }
  t.equal(sha(path.join(modelDir, 'model.safetensors')), baseHash, 'the base model file is byte-identical');
  t.match(logged, /trainable parameters: 2,048 of [\d,]+ \(LoRA rank 4, alpha 4, attn,mlp; the base model is frozen\)/,
    'trainable count printed: 4·((32+96) + (32+32) + (32+128) + (128+32))');
  t.notOk(existsSync(path.join(out, 'model.safetensors')), 'no full model without --merge');
  const cfg = await readAdapterConfig(out);
  t.match(cfg, { peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 4, lora_alpha: 4, fan_in_fan_out: true, bias: 'none',
    base_model_name_or_path: path.resolve(modelDir) });
  t.same(cfg.target_modules, ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj']);
  const header = await readSafetensorsHeader(path.join(out, 'adapter_model.safetensors'));
  const shapes = Object.fromEntries(header.tensors.map((x) => [x.name, x.shape]));
  t.same(shapes['base_model.model.transformer.h.0.attn.c_attn.lora_A.weight'], [4, 32]);
  t.same(shapes['base_model.model.transformer.h.0.attn.c_attn.lora_B.weight'], [96, 4]);
  t.same(shapes['base_model.model.transformer.h.0.mlp.c_proj.lora_A.weight'], [4, 128]);
  t.equal(header.tensors.length, 8);
  t.ok(existsSync(path.join(out, 'checkpoint', 'adapter_model.safetensors')), 'the checkpoint holds adapters, not the model');
  t.notOk(existsSync(path.join(out, 'checkpoint', 'model.safetensors')));
  const moments = await readSafetensorsHeader(path.join(out, 'checkpoint', 'optimizer.safetensors'));
  t.same(moments.tensors.map((x) => x.name).sort().slice(0, 2), ['m.h.0.attn.c_attn.lora_A.weight', 'm.h.0.attn.c_attn.lora_B.weight']);
  t.equal(moments.tensors.length, 16, 'AdamW moments (m and v) for the 8 adapter tensors only');
});

t.test('2 LoRA steps + resume for 2 more equal 4 straight, byte for byte', async (t) => {
  const straight = path.join(dir, 'lora-straight');
  const split = path.join(dir, 'lora-split');
  await train({ ...base, out: straight });
  await train({ ...base, out: split, maxSteps: 2 });
  await train({ ...base, out: split }, split);
  for (const f of ['adapter_model.safetensors', 'checkpoint/optimizer.safetensors']) {
    t.equal(sha(path.join(split, f)), sha(path.join(straight, f)), `${f} identical`);
  }
  const rows = (d: string): string => readFileSync(path.join(d, 'metrics.jsonl'), 'utf8').replace(/"elapsed_s":[^,}]*/g, '');
  t.equal(rows(split), rows(straight), 'same metrics rows (but for elapsed time)');
});

t.test('--merge: the merged model gives the adapted logits; the head adapter unties it', async (t) => {
  const out = path.join(dir, 'merged');
  await train({ ...base, out, loraTargets: 'attn,mlp,head', merge: true });
  const ids = Tensor.fromData([3, 14, 15, 92, 65, 35], [1, 6], 'i32');
  const adapted = await loadGPT(modelDir);
  await loadAdapters(out, adapted);
  const want = await tidy(() => keep(adapted.forward(ids))).toArray();
  const plain = await tidy(() => keep(adapted.withoutAdapters(() => adapted.forward(ids)))).toArray();
  adapted.dispose();
  const merged = await loadGPT(out);
  t.equal(merged.config.tiedHead, false, 'an adapted tied head is saved as its own lm_head');
  const got = await tidy(() => keep(merged.forward(ids))).toArray();
  merged.dispose();
  let maxDiff = 0;
  let moved = 0;
  for (let i = 0; i < want.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
    moved = Math.max(moved, Math.abs(want[i] - plain[i]));
  }
  t.ok(maxDiff <= 1e-5, `merged vs adapted logits: max |diff| ${maxDiff.toExponential(2)} <= 1e-5`);
  t.ok(moved > 1e-3, `the adapters changed the logits (by up to ${moved.toExponential(2)})`);
});

t.test('bad input: one clear line, nothing written', async (t) => {
  const out = path.join(dir, 'bad');
  await t.rejects(train({ ...base, out, loraRank: 0 }), new WgptError('--lora-rank must be a positive integer, got 0'));
  await t.rejects(train({ ...base, out, loraTargets: 'attn,ffn' }),
    /--lora-targets "attn,ffn": give a comma-separated list of attn, mlp, head/);
  await t.rejects(train({ ...base, out, model: 'tiny' }), /--lora-rank adapts a trained model/);
  await t.rejects(train({ ...base, out, loraRank: null, merge: true }), /--merge needs --lora-rank/);
  await t.rejects(train({ ...base, out: modelDir, merge: true }), /--merge would overwrite the base model/);
  t.notOk(existsSync(out), 'no run directory');
  const other = randomGPT(getConfig('tiny', { dModel: 48, nLayers: 1, nHeads: 2, contextLength: 96 }), 1);
  await t.rejects(loadAdapters(path.join(dir, 'lora'), other),
    /h\.0\.attn\.c_attn\.lora_A\.weight has shape \[4, 32\], this model needs \[4, 48\]: the adapter was made for another base model/);
  t.equal(other.lora, null, 'nothing attached');
  other.dispose();
});

t.test('--adapter on grads and generate (the base from adapter_config.json)', async (t) => {
  const adapter = path.join(dir, 'lora');
  const cli = path.join(import.meta.dirname, '..', 'bin', 'wgpt.js');
  const wgpt = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 300_000 });
  const g = wgpt('grads', '--adapter', adapter, '--data', dataFile, '--examples', '0-3', '--json');
  t.equal(g.status, 0, g.stderr);
  const report = JSON.parse(g.stdout);
  t.same(Object.keys(report.gradNorms).slice(0, 2), ['h.0.attn.c_attn.lora_A.weight', 'h.0.attn.c_attn.lora_B.weight'],
    'the adapters\' gradients');
  t.equal(Object.keys(report.gradNorms).length, 8);
  t.ok(report.globalNorm > 0);
  const gen = wgpt('generate', '--adapter', adapter, '--prompt', 'Hello', '--max-new-tokens', '3');
  t.equal(gen.status, 0, gen.stderr);
  t.match(gen.stderr, /3 tokens in/);
  const bad = wgpt('generate', '--model', modelDir, '--adapter', path.join(dir, 'nowhere'), '--prompt', 'x');
  t.not(bad.status, 0);
  t.match(bad.stderr, /no LoRA adapter in .*nowhere: expected adapter_config.json and adapter_model.safetensors/);
});

t.test('PEFT files as PEFT writes them: a c_attn-only adapter, ".default." keys; a head adapter needs the full vocabulary', async (t) => {
  const config = getConfig('tiny', { dModel: 32, nLayers: 2, nHeads: 2, contextLength: 16, vocabSize: 61 });
  const modules = loraModules(config, ['attn']).filter((m) => m.module.endsWith('c_attn'));
  const tensors = new Map<string, Tensor>();
  const host: { name: string; shape: number[]; data: Float32Array }[] = [];
  for (const m of modules) {
    for (const [name, shape] of [[`${m.module}.lora_A`, [2, m.in]], [`${m.module}.lora_B`, [m.out, 2]]] as const) {
      const data = Float32Array.from({ length: shape[0] * shape[1] }, (_, i) => Math.sin(i + name.length) / 10);
      tensors.set(`${name}.weight`, Tensor.fromData(data, [...shape]));
      host.push({ name: `base_model.model.transformer.${name}.default.weight`, shape: [...shape], data });
    }
  }
  const out = path.join(dir, 'peft-style');
  await saveAdapters(out, new LoraAdapters(loraSpec(2, 4, ['attn']), config, tensors, 'test', modules), null);
  // Rewrite the weights with PEFT's in-memory names (".default.") and its usual target list.
  await writeSafetensors(path.join(out, 'adapter_model.safetensors'), host);
  const cfg = JSON.parse(readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
  writeFileSync(path.join(out, 'adapter_config.json'), JSON.stringify({ ...cfg, target_modules: ['c_attn'] }));
  const model = randomGPT(config, 4);
  const adapters = await loadAdapters(out, model);
  t.same(adapters.modules.map((m) => m.module), ['h.0.attn.c_attn', 'h.1.attn.c_attn'], 'only the layers in the file');
  t.equal(adapters.scale, 2);
  const ids = Tensor.fromData([1, 2, 3, 4], [1, 4], 'i32');
  const a = await tidy(() => keep(model.forward(ids))).toArray();
  const b = await tidy(() => keep(model.withoutAdapters(() => model.forward(ids)))).toArray();
  t.ok(a.some((v, i) => v !== b[i]), 'the adapters change the logits');
  model.dispose();
  const vocab = randomGPT({ ...config, outputVocab: [0, 5, 7] }, 1);
  t.throws(() => initLora(vocab.config, loraSpec(2, 2, ['head'])),
    /--lora-targets head does not combine with a model that has an output vocabulary/);
  vocab.dispose();
});
