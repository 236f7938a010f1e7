// The GPT-2 training step of the jax-js peer, written the way a JAX user would: a pure loss of
// (params, batch), `valueAndGrad` of it, and the AdamW update, all inside ONE `jit` function that
// maps (params, Adam moments) to new ones. Same model and optimiser as the other peers: pre-LN
// blocks, causal attention (additive -1e9 mask), GELU tanh, tied LM head, mean cross-entropy;
// AdamW as torch.optim.AdamW (lr 1e-4, betas 0.9/0.999, eps 1e-8, decoupled weight decay 0.1 on
// every parameter, bias-corrected moments).
//
// jax-js's ownership rules apply inside traced functions too: every array argument is consumed by
// the call it is passed to, so an array used twice is passed as `.ref` the first time.
import type * as JAX from '@jax-js/jax';
import type { PeerConfig } from './weights.ts';

type Arr = JAX.Array;
export type Params = Record<string, Arr>;
/** Step-dependent AdamW scalars, computed on the host in float64: passed in, so one compile serves every step. */
export type Hyper = { stepSize: Arr; sqrtBc2: Arr };

export const LR = 1e-4;
export const WEIGHT_DECAY = 0.1;
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPS = 1e-8;
const LN_EPS = 1e-5;

export interface TrainStep {
  /** (params, m, v, hyper, inputs [B·T] int32, targets [B·T] int32) → [loss, params', m', v']; consumes its arguments. */
  fn: JAX.OwnedFunction<(p: Params, m: Params, v: Params, h: Hyper, inputs: Arr, targets: Arr) => [Arr, Params, Params, Params]>;
  /** The scalars of AdamW step t (1-based). */
  hyper(t: number): Hyper;
}

export function buildTrainStep(jax: typeof JAX, config: PeerConfig): TrainStep {
  const np = jax.numpy;
  const nn = jax.nn;
  const { nLayers: L, dModel: D, nHeads: H, T, B, vocab: V } = config;
  const hd = D / H;
  const scale = 1 / Math.sqrt(hd);

  const layerNorm = (x: Arr, g: Arr, b: Arr): Arr => {
    const mean = x.ref.mean(-1, { keepdims: true });
    const xc = x.sub(mean);
    const variance = np.square(xc.ref).mean(-1, { keepdims: true });
    return xc.div(np.sqrt(variance.add(LN_EPS))).mul(g).add(b);
  };
  const linear = (x: Arr, p: Params, prefix: string): Arr => np.matmul(x, p[`${prefix}.weight`]).add(p[`${prefix}.bias`]);
  // [B, T, D] → [B, H, T, hd]
  const heads = (x: Arr): Arr => x.reshape([B, T, H, hd]).transpose([0, 2, 1, 3]);

  // The residual stream stays [B, T, D] from the gather on: jax-js 0.1.25's jit refuses a scatter
  // (the gather's gradient) whose input is a view (`jit: routine primitive scatter input is not
  // imm`), and a reshape after the gather would make the embedding's cotangent one.
  const loss = (p: Params, inputs: Arr, targets: Arr): Arr => {
    // Token embedding rows (gather by [B, T] ids), plus the position embedding broadcast over the batch.
    let x = np.take(p['wte.weight'].ref, inputs, 0).add(p['wpe.weight']);
    // Additive causal mask [T, T]: 0 on and below the diagonal, -1e9 above (a constant under jit).
    const mask = np.tri(T).sub(1).mul(1e9);
    for (let l = 0; l < L; l++) {
      const pre = `h.${l}.`;
      const h1 = layerNorm(x.ref, p[`${pre}ln_1.weight`], p[`${pre}ln_1.bias`]);
      const [q, k, v] = np.split(linear(h1, p, `${pre}attn.c_attn`), 3, 2);
      const scores = np.matmul(heads(q), heads(k).transpose([0, 1, 3, 2])).mul(scale).add(l === L - 1 ? mask : mask.ref);
      const att = np.matmul(nn.softmax(scores, -1), heads(v));
      const y = att.transpose([0, 2, 1, 3]).reshape([B, T, D]);
      x = x.add(linear(y, p, `${pre}attn.c_proj`));
      const h2 = layerNorm(x.ref, p[`${pre}ln_2.weight`], p[`${pre}ln_2.bias`]);
      x = x.add(linear(nn.gelu(linear(h2, p, `${pre}mlp.c_fc`), { approximate: true }), p, `${pre}mlp.c_proj`));
    }
    if (L === 0) mask.dispose();
    const hf = layerNorm(x, p['ln_f.weight'], p['ln_f.bias']);
    const logits = np.matmul(hf, p['wte.weight'].transpose()); // tied head: [B, T, V]
    // Mean cross-entropy: log-sum-exp of each row minus the target's logit, picked by a one-hot
    // product (elementwise, fused by jit) rather than takeAlongAxis, whose gradient is a scatter
    // of a broadcast constant that jit refuses as above. The one-hot is a comparison with an iota:
    // nn.oneHot gathers rows of eye(V), a [V, V] array (10 GB at V = 50257).
    const lse = nn.logsumexp(logits.ref, -1);
    const oneHot = np.equal(targets.reshape([B, T, 1]), np.arange(0, V, 1, { dtype: np.int32 })).astype(np.float32);
    const picked = logits.mul(oneHot).sum(-1);
    return lse.sub(picked).mean();
  };

  const fn = jax.jit((p: Params, m: Params, v: Params, h: Hyper, inputs: Arr, targets: Arr): [Arr, Params, Params, Params] => {
    const [value, grads] = jax.valueAndGrad(loss)(jax.tree.ref(p), inputs, targets);
    const p2: Params = {};
    const m2: Params = {};
    const v2: Params = {};
    for (const name of Object.keys(p)) {
      const g = grads[name];
      const mNew = m[name].mul(BETA1).add(g.ref.mul(1 - BETA1));
      const vNew = v[name].mul(BETA2).add(np.square(g).mul(1 - BETA2));
      const denom = np.sqrt(vNew.ref).div(h.sqrtBc2.ref).add(EPS);
      p2[name] = p[name].mul(1 - LR * WEIGHT_DECAY).sub(mNew.ref.div(denom).mul(h.stepSize.ref));
      m2[name] = mNew;
      v2[name] = vNew;
    }
    jax.tree.dispose(h);
    return [value, p2, m2, v2];
  });

  const hyper = (t: number): Hyper => ({
    stepSize: np.full([], LR / (1 - BETA1 ** t)),
    sqrtBc2: np.full([], Math.sqrt(1 - BETA2 ** t)),
  });
  return { fn, hyper };
}
