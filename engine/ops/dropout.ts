// Dropout with a counter-based hash RNG (seed, element index) -> keep/drop; forward and VJP side by
// side. The backward recomputes the mask from the seed: nothing is stored.
import { WgptError } from '../errors.ts';
import { record, Tensor } from '../tensor.ts';
import { DROPOUT } from '../../kernels/dropout.ts';
import { assertF32, eachWindow, launch1d } from './util.ts';

function dropoutRaw(x: Tensor, threshold: number, scale: number, seed: number, label: string): Tensor {
  const out = Tensor.empty(x.shape, 'f32', label);
  eachWindow(x.size, (e0, n) => launch1d(DROPOUT, n, { n, base: e0, seed, threshold, scale }, [x.bind(e0, n), out.bind(e0, n)], label));
  return out;
}

/** Zeroes each element with probability p (a hash of `seed` and its index) and scales the rest by
 *  1/(1-p). p = 0 returns x itself (a view). The same seed gives the same mask. */
export function dropout(x: Tensor, p: number, seed: number): Tensor {
  assertF32(x, 'dropout');
  if (!(p >= 0 && p < 1)) throw new WgptError(`dropout: p must be in [0, 1), got ${p}`);
  if (!Number.isInteger(seed)) throw new WgptError(`dropout: seed must be an integer, got ${seed}`);
  if (p === 0) return record(x.view(x.shape), 'dropout (p=0)', [x], (g) => [g.view(g.shape)]);
  const threshold = Math.min(Math.round(p * 2 ** 32), 2 ** 32 - 1);
  const s = seed >>> 0;
  const scale = 1 / (1 - p);
  return record(dropoutRaw(x, threshold, scale, s, 'dropout'), 'dropout', [x],
    (g) => [dropoutRaw(g, threshold, scale, s, 'dropout backward')]);
}
