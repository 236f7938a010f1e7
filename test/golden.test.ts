// Checks that the committed golden data (scripts/golden.py) loads through our readers with the
// expected names and shapes, and that it is what we think it is: a plain CPU GPT-2 forward over
// model.safetensors, reading weights in the Conv1D layout, reproduces the stored logits and loss.
// The engine-vs-golden comparison lives with the engine.
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint } from '../model/checkpoint.ts';
import type { GPTConfig } from '../model/config.ts';
import { hfTensorSpecs } from '../model/hf-names.ts';
import { readSafetensors } from '../model/safetensors.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

interface Golden {
  inputs: number[][]; targets: number[][]; loss: number; adamw_losses: number[]; loss_after_adamw: number;
  param_names: string[]; adamw: { lr: number; weight_decay: number; steps: number };
}

/** Reference forward in float64; W of a Conv1D is [in, out] row-major (y = x·W + b). */
function forward(cfg: GPTConfig, p: (n: string) => Float32Array, tokens: number[]): Float64Array {
  const d = cfg.dModel, T = tokens.length, hd = d / cfg.nHeads;
  const lin = (x: Float64Array, w: Float32Array, b: Float32Array, nOut: number): Float64Array => {
    const nIn = x.length / T, y = new Float64Array(T * nOut);
    for (let t = 0; t < T; t++) for (let o = 0; o < nOut; o++) {
      let s = b[o];
      for (let i = 0; i < nIn; i++) s += x[t * nIn + i] * w[i * nOut + o];
      y[t * nOut + o] = s;
    }
    return y;
  };
  const ln = (x: Float64Array, g: Float32Array, b: Float32Array): Float64Array => {
    const y = new Float64Array(x.length);
    for (let t = 0; t < T; t++) {
      const r = x.subarray(t * d, t * d + d);
      const mean = r.reduce((a, v) => a + v, 0) / d;
      const vr = r.reduce((a, v) => a + (v - mean) ** 2, 0) / d;
      for (let i = 0; i < d; i++) y[t * d + i] = ((r[i] - mean) / Math.sqrt(vr + cfg.layerNormEps)) * g[i] + b[i];
    }
    return y;
  };
  const x = new Float64Array(T * d);
  tokens.forEach((tok, t) => { for (let i = 0; i < d; i++) x[t * d + i] = p('wte.weight')[tok * d + i] + p('wpe.weight')[t * d + i]; });
  for (let l = 0; l < cfg.nLayers; l++) {
    const P = (n: string): Float32Array => p(`h.${l}.${n}`);
    const qkv = lin(ln(x, P('ln_1.weight'), P('ln_1.bias')), P('attn.c_attn.weight'), P('attn.c_attn.bias'), 3 * d);
    const y = new Float64Array(T * d);
    for (let h = 0; h < cfg.nHeads; h++) for (let t = 0; t < T; t++) {
      const sc: number[] = [];
      for (let s = 0; s <= t; s++) {
        let dot = 0;
        for (let i = 0; i < hd; i++) dot += qkv[t * 3 * d + h * hd + i] * qkv[s * 3 * d + d + h * hd + i];
        sc.push(dot / Math.sqrt(hd));
      }
      const m = Math.max(...sc), e = sc.map((v) => Math.exp(v - m)), z = e.reduce((a, v) => a + v, 0);
      for (let s = 0; s <= t; s++) for (let i = 0; i < hd; i++) y[t * d + h * hd + i] += (e[s] / z) * qkv[s * 3 * d + 2 * d + h * hd + i];
    }
    const a = lin(y, P('attn.c_proj.weight'), P('attn.c_proj.bias'), d);
    for (let i = 0; i < x.length; i++) x[i] += a[i];
    const f = lin(ln(x, P('ln_2.weight'), P('ln_2.bias')), P('mlp.c_fc.weight'), P('mlp.c_fc.bias'), 4 * d);
    for (let i = 0; i < f.length; i++) f[i] = 0.5 * f[i] * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (f[i] + 0.044715 * f[i] ** 3)));
    const m = lin(f, P('mlp.c_proj.weight'), P('mlp.c_proj.bias'), d);
    for (let i = 0; i < x.length; i++) x[i] += m[i];
  }
  const xf = ln(x, p('ln_f.weight'), p('ln_f.bias'));
  const head = p(cfg.tiedHead ? 'wte.weight' : 'lm_head.weight');
  const V = cfg.vocabSize, logits = new Float64Array(T * V);
  for (let t = 0; t < T; t++) for (let v = 0; v < V; v++) {
    let s = 0;
    for (let i = 0; i < d; i++) s += xf[t * d + i] * head[v * d + i];
    logits[t * V + v] = s;
  }
  return logits;
}

for (const kind of ['tied', 'untied'] as const) {
  t.test(`golden/${kind}`, async (t) => {
    const dir = path.join(here, 'golden', kind);
    const ck = await loadCheckpoint(dir);
    const cfg = ck.config;
    t.same(cfg, { vocabSize: 97, contextLength: 16, dModel: 24, nLayers: 2, nHeads: 3, layerNormEps: 1e-5, dropout: 0,
      tiedHead: kind === 'tied' });
    const specs = hfTensorSpecs(cfg);
    t.same([...ck.tensors.keys()].sort(), specs.map((s) => s.name).sort(), 'parameters by HF name');
    t.equal(ck.tensors.has('lm_head.weight'), kind === 'untied');
    const g = JSON.parse(readFileSync(path.join(dir, 'golden.json'), 'utf8')) as Golden;
    t.same(g.param_names, specs.map((s) => s.name), 'golden.json lists the params in HF order');
    const gold = await readSafetensors(path.join(dir, 'golden.safetensors'));
    t.same(gold.get('logits')!.shape, [2, 8, 97]);
    for (const s of specs) {
      t.same(gold.get('grad.' + s.name)?.shape, s.shape, `grad.${s.name} shape`);
      t.same(gold.get('adamw3.' + s.name)?.shape, s.shape, `adamw3.${s.name} shape`);
    }
    t.equal(gold.size, 1 + 2 * specs.length, 'nothing else in golden.safetensors');
    t.same(g.inputs.map((r) => r.length), [8, 8]);
    t.equal(g.targets.flat().filter((v) => v === -100).length, 4);
    t.equal(g.adamw_losses.length, 3);
    t.equal(g.adamw_losses[0], g.loss);
    t.ok(g.adamw_losses[2] < g.adamw_losses[0] && g.loss_after_adamw < g.adamw_losses[2], 'AdamW lowers the loss');
    // Unused positions (8..15) get no gradient from a T=8 batch.
    const gw = gold.get('grad.wpe.weight')!.data;
    t.ok(gw.subarray(8 * 24).every((v) => v === 0) && gw.subarray(0, 8 * 24).some((v) => v !== 0));

    // Independent forward: logits within 1e-4 and the masked mean cross-entropy within 1e-5.
    const p = (n: string): Float32Array => ck.tensors.get(n)!.data;
    const ref = gold.get('logits')!.data;
    let maxErr = 0, nll = 0, count = 0;
    g.inputs.forEach((row, b) => {
      const lg = forward(cfg, p, row);
      for (let i = 0; i < lg.length; i++) maxErr = Math.max(maxErr, Math.abs(lg[i] - ref[b * lg.length + i]));
      row.forEach((_, tt) => {
        const y = g.targets[b][tt];
        if (y === -100) return;
        const r = lg.subarray(tt * 97, tt * 97 + 97), m = Math.max(...r);
        nll += m + Math.log(r.reduce((a, v) => a + Math.exp(v - m), 0)) - r[y];
        count++;
      });
    });
    t.ok(maxErr < 1e-4, `CPU forward matches golden logits (max abs err ${maxErr.toExponential(2)})`);
    t.equal(count, 12);
    t.ok(Math.abs(nll / count - g.loss) < 1e-5, `loss ${(nll / count).toFixed(7)} vs golden ${g.loss.toFixed(7)}`);
  });
}
