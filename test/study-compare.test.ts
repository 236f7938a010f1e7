// The study's paired comparison (train/study/compare.ts) on synthetic numbers: an effect over
// enough seeds is shown, no effect is not, and three seeds never show one, however large.
import t from 'tap';
import { Rng } from '../train/run/loader.ts';
import { comparisonText, pairedComparison, SEEDS_NEEDED, signFlipP, type PairedSeed } from '../train/study/compare.ts';

/** Seeds of `questions` 0/1 answers: side a right with probability pa, side b with pb, a seed's
 *  luck shared by both sides (pairing) through a per-seed shift. */
function synthetic(seeds: number, questions: number, pa: number, pb: number, seed: number): PairedSeed[] {
  const rng = new Rng(seed);
  return Array.from({ length: seeds }, (_, s) => {
    const shift = (rng.int(21) - 10) / 100;
    const draw = (p: number): number[] => Array.from({ length: questions }, () => Number(rng.int(1000) / 1000 < p + shift));
    return { seed: s + 1, a: draw(pa), b: draw(pb) };
  });
}

t.test('the sign-flip test is exact, and needs six seeds for p < 0.05', async (t) => {
  t.equal(SEEDS_NEEDED, 6);
  t.equal(signFlipP([1, 1, 1]), 2 / 8, 'three seeds all one way: p = 1/4 at best');
  t.equal(signFlipP([1, 1, 1, 1, 1, 1]), 2 / 64);
  t.equal(signFlipP([1, -1]), 1);
  t.equal(signFlipP([3, 2, 2, 3, 2, -1]), 4 / 64, 'one seed the other way');
});

t.test('an effect over enough seeds and questions is shown, with its interval around it', async (t) => {
  const c = pairedComparison(synthetic(8, 180, 0.8, 0.6, 1));
  t.ok(c.shown, 'shown');
  t.ok(c.lo > 0.1 && c.hi < 0.3 && c.lo < c.diff && c.diff < c.hi, `diff ${c.diff} in [${c.lo}, ${c.hi}] around the true 0.2`);
  t.equal(c.p, 2 / 256);
  t.same([c.seeds, c.questions], [8, 180]);
  t.match(comparisonText(c, (x) => x.toFixed(2)), new RegExp('^difference 0\\.\\d\\d, ' +
    '95% paired bootstrap interval \\[0\\.\\d\\d, 0\\.\\d\\d\\] ' +
    'over 8 paired seeds x 180 questions, sign-flip p = 0\\.008: a difference is shown$'));
});

t.test('no effect is not shown; three seeds show nothing, however large the difference', async (t) => {
  let shown = 0;
  for (let s = 0; s < 20; s++) if (pairedComparison(synthetic(8, 180, 0.7, 0.7, 100 + s)).shown) shown++;
  t.ok(shown <= 2, `no effect: shown in ${shown} of 20 synthetic studies (about 1 expected at the 5% level)`);
  const three = pairedComparison(synthetic(3, 180, 0.9, 0.3, 5));
  t.notOk(three.shown, 'a 60-point effect over 3 seeds');
  t.ok(three.lo > 0.4, 'though its bootstrap interval is far from 0');
  t.match(comparisonText(three, (x) => x.toFixed(2)),
    /no difference can be shown with 3 seeds \(the sign-flip test needs at least 6 to reach p < 0\.05\)$/);
  const runs = pairedComparison([1, 2, 3, 4, 5, 6].map((seed) => ({ seed, a: [1.1 + seed / 100], b: [1.5 + seed / 50] })));
  t.ok(runs.shown && runs.questions === 1 && runs.diff < 0, 'one number per run: seeds alone');
  t.throws(() => pairedComparison([{ seed: 1, a: [1, 0], b: [1] }]), /seed 1: the two sides have 2 and 1 values/);
});
