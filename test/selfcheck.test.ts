// bench/peers/selfcheck.ts compares tfjs and torch: a missing peer means nothing was compared.
import t from 'tap';
import { selfcheckVerdict } from '../bench/peers/verdict.ts';

t.test('selfcheck passes only when both peers ran and agreed', async (t) => {
  t.same(selfcheckVerdict({ tfjs: false, torch: false, failures: 0 }),
    { ok: false, line: 'selfcheck not run: tfjs and torch missing (the "available" lines above say why)' });
  t.same(selfcheckVerdict({ tfjs: true, torch: false, failures: 0 }).ok, false);
  t.match(selfcheckVerdict({ tfjs: true, torch: false, failures: 0 }).line, /not run: torch missing/);
  t.same(selfcheckVerdict({ tfjs: true, torch: true, failures: 2 }), { ok: false, line: 'selfcheck: 2 failure(s)' });
  t.same(selfcheckVerdict({ tfjs: true, torch: true, failures: 0 }), { ok: true, line: 'selfcheck passed' });
});
