// The DPO loss on the host, in f64: B scalars per side are too few to be worth a kernel, and the
// gradient with respect to each sequence's log-probability is then fed back into the GPU graph as
// the seed of backward(π, dL/dπ).
//   z_i    = beta * ((πc_i - πr_i) - (rc_i - rr_i))
//   loss   = mean_i -logsigmoid(z_i)
//   dL/dπc_i = -beta * sigmoid(-z_i) / B,   dL/dπr_i = -dL/dπc_i
//   rewards (detached, as the notebook, without beta): chosen πc - rc, rejected πr - rr; margin = their difference.
// With an SFT weight W (--sft-weight; Pang et al. 2024, "Iterative Reasoning Preference
// Optimization", and Llama 3's post-training): the objective adds W times the chosen answers'
// negative log-likelihood per token, sft = mean_i -πc_i, so dL/dπc_i gains -W / B. Without it
// DPO may lower both answers' likelihoods as long as the rejected one falls faster.

/** -log(sigmoid(z)) = softplus(-z), without overflow for large |z|. */
export function negLogSigmoid(z: number): number {
  return Math.max(-z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
}

export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

export interface DpoLoss {
  loss: number;
  /** dL/dπ for chosen (B) and rejected (B). */
  gradChosen: Float64Array;
  gradRejected: Float64Array;
  /** Batch means of the rewards and their difference. */
  chosenReward: number;
  rejectedReward: number;
  margin: number;
  /** Pairs where the policy's mean log-prob of chosen exceeds rejected's. */
  preferred: number;
  /** The chosen answers' mean negative log-likelihood per token (logged whatever the weight). */
  sft: number;
  /** What the step minimizes: loss + W·sft. */
  objective: number;
}

/** π*: the policy's mean log-probs, r*: the reference's, per pair. */
export function dpoLoss(piChosen: ArrayLike<number>, piRejected: ArrayLike<number>, refChosen: ArrayLike<number>,
  refRejected: ArrayLike<number>, beta: number, sftWeight = 0): DpoLoss {
  const b = piChosen.length;
  if (b === 0 || piRejected.length !== b || refChosen.length !== b || refRejected.length !== b) {
    throw new Error(
      `dpoLoss: ${b}, ${piRejected.length}, ${refChosen.length}, ${refRejected.length} log-probs; expected the same number (> 0) of each`);
  }
  const gradChosen = new Float64Array(b);
  const gradRejected = new Float64Array(b);
  let loss = 0, chosen = 0, rejected = 0, preferred = 0, sft = 0;
  for (let i = 0; i < b; i++) {
    const z = beta * ((piChosen[i] - piRejected[i]) - (refChosen[i] - refRejected[i]));
    loss += negLogSigmoid(z);
    const g = (-beta * sigmoid(-z)) / b;
    gradChosen[i] = g - sftWeight / b;
    gradRejected[i] = -g;
    sft -= piChosen[i];
    chosen += piChosen[i] - refChosen[i];
    rejected += piRejected[i] - refRejected[i];
    if (piChosen[i] > piRejected[i]) preferred++;
  }
  return {
    loss: loss / b, gradChosen, gradRejected, chosenReward: chosen / b, rejectedReward: rejected / b, margin: (chosen - rejected) / b,
    preferred, sft: sft / b, objective: loss / b + (sftWeight * sft) / b,
  };
}
