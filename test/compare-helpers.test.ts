// The comparison helpers every op and golden test goes through: a NaN or an infinity anywhere is a
// failure, wherever it sits among the elements (a check that let the next element's error replace
// a NaN passed [NaN, 1] against [1, 1]).
import t, { type Test } from 'tap';
import { assertClose, assertGradClose, worst } from './helpers/opcheck.ts';

/** The assertions a helper made, as [passed, message], without failing this test. */
function verdicts(check: (t: Test) => void): Array<[boolean, string]> {
  const out: Array<[boolean, string]> = [];
  const fake = {
    ok: (v: unknown, m: string) => out.push([!!v, m]),
    equal: (a: unknown, b: unknown, m: string) => out.push([a === b, m]),
  } as unknown as Test;
  check(fake);
  return out;
}

t.test('worst(): NaN and infinities fail wherever they are', async (t) => {
  t.same(worst([NaN, 1], [1, 1], 1e-5, 1e-4), { ratio: Infinity, at: 0 }, 'a NaN first');
  t.same(worst([5, NaN, 1], [1, 1, 1], 1e-5, 1e-4), { ratio: Infinity, at: 1 }, 'a NaN after a larger error');
  t.same(worst([1, 1], [1, NaN], 1e-5, 1e-4), { ratio: Infinity, at: 1 }, 'a NaN in the reference');
  t.same(worst([1, Infinity], [1, Infinity], 1e-5, 1e-4), { ratio: Infinity, at: 1 }, 'equal infinities');
  t.same(worst([-Infinity], [0], 1e-5, 1e-4), { ratio: Infinity, at: 0 }, 'an infinity against a number');
  t.equal(worst([1, 2], [1, 2, 3], 1e-5, 1e-4).ratio, Infinity, 'a length mismatch');
  t.same(worst([0, 0], [0, 0], 0, 0), { ratio: 0, at: -1 }, 'equal zeros with no tolerance pass');
  const { ratio, at } = worst([1, 1.1, 1.01], [1, 1, 1], 0, 0.01);
  t.equal(at, 1, 'the largest violation');
  t.ok(Math.abs(ratio - 10) < 1e-9, `its ratio (${ratio})`);
});

t.test('assertClose and assertGradClose fail on a NaN and pass on close values', async (t) => {
  const failed = (v: Array<[boolean, string]>): string[] => v.filter(([ok]) => !ok).map(([, m]) => m);
  t.match(failed(verdicts((f) => assertClose(f, [5, NaN, 1], [1, 1, 1], 1e-5, 1e-4, 'x'))), [/x: max error ratio Infinity at 1: got NaN/]);
  t.match(failed(verdicts((f) => assertGradClose(f, [NaN, 1], [1, 1], 'g'))), [/g: worst element Infinity/]);
  t.match(failed(verdicts((f) => assertGradClose(f, [1, 1], [NaN, 1], 'g'))), [/g: worst element Infinity/], 'a NaN reference');
  t.same(failed(verdicts((f) => assertClose(f, [1, 2.00001], [1, 2], 1e-5, 1e-4, 'x'))), []);
  t.same(failed(verdicts((f) => assertGradClose(f, [1e-9, 2], [0, 2], 'g'))), [], 'near-zero elements within atol of the largest');
});
