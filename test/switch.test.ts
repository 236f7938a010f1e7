// The on/off environment switches share one parser (engine/settings.ts).
import t from 'tap';
import { parseSwitch, parseTune } from '../engine/settings.ts';

t.test('on/1 and off/0 in any case; unset is on; anything else is refused in one line', async (t) => {
  for (const v of ['on', 'ON', '1', undefined]) t.equal(parseSwitch(v, 'WGPT_X'), true, `${v}`);
  for (const v of ['off', 'Off', '0']) t.equal(parseSwitch(v, 'WGPT_X'), false, v);
  t.throws(() => parseSwitch('true', 'WGPT_X'), /^unknown WGPT_X "true": use on or off$/);
  t.throws(() => parseSwitch('', 'WGPT_X'), /unknown WGPT_X ""/, 'empty is not a value');
});

t.test('WGPT_TUNE: set empty means on; its refusal says what the values do', async (t) => {
  t.equal(parseTune(''), true);
  t.equal(parseTune('off'), false);
  t.throws(() => parseTune('yes'),
    /^unknown WGPT_TUNE "yes": use on \(measure the matmul kernels once per machine\) or off \(the built-in defaults\)$/);
});
