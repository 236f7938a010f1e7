// DPO against PyTorch (scripts/golden_dpo.py, export_dpo): the tied golden model as the policy, a
// perturbed copy as the reference, two pairs of different lengths under --mask prompt; each
// sequence's mean log-prob, the rewards, the loss and every parameter's gradient. Without torch:
// with policy = reference the loss is ln 2 and every margin 0.
import t, { type Test } from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { keep, noGrad, tidy } from '../engine/index.ts';
import { loadGPT } from '../model/build.ts';
import { readSafetensors } from '../model/safetensors.ts';
import { collatePairs, type EncodedPair } from '../train/dpo/collate.ts';
import { batchIds, sequenceLogProbs } from '../train/dpo/logprobs.ts';
import { dpoBackward } from '../train/dpo/step.ts';
import { withDevice } from './helpers/device.ts';
import { assertGradClose } from './helpers/opcheck.ts';

await withDevice(t);
const dir = new URL('./golden/dpo/', import.meta.url).pathname;
const skip = existsSync(`${dir}/golden.json`) ? false : 'no golden DPO data (run /usr/bin/python3 scripts/golden.py)';

const close = (t: Test, got: number, want: number, tol: number, what: string): void => {
  t.ok(Math.abs(got - want) <= tol, `${what}: ${got} vs ${want}`);
};

function goldenBatch(gold: { pad: number; pairs: Array<{ prompt_length: number; chosen: number[]; rejected: number[] }> }) {
  // The header length matters to --mask answer only; this case is --mask prompt.
  const pairs: EncodedPair[] = gold.pairs.map((p) => ({ promptLength: p.prompt_length, headerLength: 0,
    chosen: p.chosen, rejected: p.rejected }));
  return collatePairs(pairs, { mask: 'prompt', allowedMaxLength: 16, padTokenId: gold.pad });
}

t.test('DPO loss, rewards and every gradient match PyTorch', { skip }, async (t) => {
  const gold = JSON.parse(readFileSync(`${dir}/golden.json`, 'utf8'));
  const ref = await readSafetensors(`${dir}/golden.safetensors`);
  const policy = await loadGPT(new URL(`./golden/${gold.policy.replace('../', '')}/`, import.meta.url).pathname);
  const reference = await loadGPT(`${dir}/reference`);
  const batch = goldenBatch(gold);
  const { loss, graded } = await dpoBackward(policy, reference, batch, gold.beta);
  t.ok(graded);
  const b = gold.pairs.length;
  t.equal(loss.gradChosen.length, b, 'one gradient per pair');
  close(t, loss.loss, gold.loss, 1e-6, 'loss');
  const mean = (xs: number[]): number => xs.reduce((a, x) => a + x, 0) / xs.length;
  close(t, loss.chosenReward, mean(gold.chosen_rewards), 1e-5, 'mean chosen reward');
  close(t, loss.rejectedReward, mean(gold.rejected_rewards), 1e-5, 'mean rejected reward');
  t.ok(Math.abs(loss.chosenReward) > 1e-3 && Math.abs(loss.rejectedReward) > 1e-3, 'the rewards are not 0 (the reference differs)');
  // Each sequence's mean log-prob, policy and reference (chosen rows, then rejected).
  for (const [model, names] of [[policy, ['pi_chosen', 'pi_rejected']], [reference, ['ref_chosen', 'ref_rejected']]] as const) {
    const v = noGrad(() => tidy(() => keep(sequenceLogProbs(model, batchIds(batch), batch.targets)!)));
    const got = await v.toArray();
    v.dispose();
    const want = [...gold[names[0]], ...gold[names[1]]] as number[];
    want.forEach((w, i) => close(t, got[i], w, 1e-5, `${names[i < b ? 0 : 1]}[${i % b}]`));
  }
  for (const [name, p] of policy.params) assertGradClose(t, await p.grad!.toArray(), ref.get(`grad.${name}`)!.data, `grad ${name}`);
  policy.dispose();
  reference.dispose();
});

t.test('policy = reference: loss ln 2 to 1e-6, rewards and margin 0', async (t) => {
  const golden = new URL('./golden/tied/', import.meta.url).pathname;
  const policy = await loadGPT(golden);
  const reference = await loadGPT(golden);
  const batch = goldenBatch({ pad: 96, pairs: [
    { prompt_length: 4, chosen: [5, 17, 33, 8, 61, 2, 40], rejected: [5, 17, 33, 8, 12, 70, 71, 3, 9, 44] },
    { prompt_length: 3, chosen: [88, 4, 27, 50, 50, 13], rejected: [88, 4, 27, 6] },
  ] });
  const { loss } = await dpoBackward(policy, reference, batch, 0.1);
  close(t, loss.loss, Math.LN2, 1e-6, 'loss');
  t.equal(loss.margin, 0);
  t.equal(loss.chosenReward, 0);
  t.equal(loss.rejectedReward, 0);
  // The gradient is then -beta/2 * dπ/dθ of (chosen - rejected), not 0: one parameter checked non-zero.
  const g = await policy.p('ln_f.weight').grad!.toArray();
  t.ok(g.some((x) => x !== 0), 'the gradient at ln 2 still points towards the chosen answers');
  policy.dispose();
  reference.dispose();
});
