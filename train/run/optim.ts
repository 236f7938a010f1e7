// AdamW with torch.optim.AdamW semantics, one fused dispatch per parameter (engine adamwStep).
// Holds the moment estimates; their state goes into checkpoints so a resumed run continues exactly.
import { adamwStep, keep, noGrad, Tensor, zeros } from '../../engine/index.ts';

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
  private m: Tensor[];
  private v: Tensor[];

  constructor(readonly params: Tensor[], readonly options: AdamWOptions) {
    this.m = params.map((p) => keep(zeros(p.shape)));
    this.v = params.map((p) => keep(zeros(p.shape)));
  }

  /** One update from each parameter's .grad (parameters without a gradient are left alone, as
   *  torch does), then the gradients are cleared. */
  update(): void {
    this.step++;
    const [beta1, beta2] = this.options.betas ?? [0.9, 0.999];
    noGrad(() => {
      this.params.forEach((p, i) => {
        if (!p.grad) return;
        adamwStep(p, p.grad, this.m[i], this.v[i], {
          lr: this.options.lr, beta1, beta2, eps: this.options.eps ?? 1e-8,
          weightDecay: this.options.weightDecay ?? 0.01, step: this.step,
        });
      });
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
      m.push((await this.m[i].toArray()) as Float32Array);
      v.push((await this.v[i].toArray()) as Float32Array);
    }
    return { step: this.step, m, v };
  }

  load(state: AdamWState): void {
    this.step = state.step;
    this.params.forEach((p, i) => {
      this.m[i].dispose();
      this.v[i].dispose();
      this.m[i] = keep(Tensor.fromData(state.m[i], p.shape));
      this.v[i] = keep(Tensor.fromData(state.v[i], p.shape));
    });
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}
