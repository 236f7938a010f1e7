// AdamW with torch.optim.AdamW semantics, one fused dispatch per group of parameters (the engine's
// ParamPack moves them into a few shared buffers). Holds the moment estimates; their state goes
// into checkpoints so a resumed run continues exactly.
import { assign, ParamPack, Tensor, tidy } from '../../engine/index.ts';

export interface AdamWOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

export interface AdamWState {
  step: number;
  /** Per parameter (same order as given to the optimizer): first and second moments. */
  m: Float32Array[];
  v: Float32Array[];
}

export class AdamW {
  step = 0;
  private readonly pack: ParamPack;
  private readonly m: { flat: Tensor[]; views: Tensor[] };
  private readonly v: { flat: Tensor[]; views: Tensor[] };

  constructor(readonly params: Tensor[], readonly options: AdamWOptions) {
    this.pack = new ParamPack(params);
    this.m = this.pack.zeros();
    this.v = this.pack.zeros();
  }

  /** One update from each parameter's .grad (parameters without a gradient are left alone, as
   *  torch does), then the gradients are cleared. */
  update(): void {
    this.step++;
    const [beta1, beta2] = this.options.betas ?? [0.9, 0.999];
    this.pack.adamw(this.params.map((p) => p.grad), this.m, this.v, {
      lr: this.options.lr, beta1, beta2, eps: this.options.eps ?? 1e-8, weightDecay: this.options.weightDecay ?? 0.01, step: this.step,
    });
    this.zeroGrad();
  }

  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  async state(): Promise<AdamWState> {
    const m: Float32Array[] = [];
    const v: Float32Array[] = [];
    for (let i = 0; i < this.params.length; i++) {
      m.push((await this.m.views[i].toArray()) as Float32Array);
      v.push((await this.v.views[i].toArray()) as Float32Array);
    }
    return { step: this.step, m, v };
  }

  load(state: AdamWState): void {
    this.step = state.step;
    tidy(() => this.params.forEach((p, i) => {
      assign(this.m.views[i], Tensor.fromData(state.m[i], p.shape));
      assign(this.v.views[i], Tensor.fromData(state.v[i], p.shape));
    }));
  }

  dispose(): void {
    for (const s of [this.m, this.v]) for (const t of [...s.flat, ...s.views]) t.dispose();
    this.pack.dispose();
  }
}
