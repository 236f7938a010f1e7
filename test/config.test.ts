import t from 'tap';
import { CONFIGS, blockParamCount, getConfig, paramCount, validateConfig } from '../model/config.ts';

t.test('parameter counts match the released models', async (t) => {
  t.equal(paramCount(getConfig('gpt2')), 124_439_808, 'gpt2 tied');
  t.equal(paramCount(getConfig('gpt2-medium', { tiedHead: false })), 406_286_336, 'gpt2-medium untied');
  t.equal(paramCount(getConfig('gpt2-medium')), 354_823_168, 'gpt2-medium tied');
  t.equal(paramCount(getConfig('gpt2-large')), 774_030_080, 'gpt2-large tied');
  t.equal(paramCount(getConfig('gpt2-xl')), 1_557_611_200, 'gpt2-xl tied');
  t.equal(blockParamCount(768), 12 * 768 * 768 + 13 * 768);
});

t.test('presets', async (t) => {
  t.same(
    Object.entries(CONFIGS).map(([k, c]) => [k, c.dModel, c.nLayers, c.nHeads, c.contextLength, c.vocabSize]),
    [
      ['gpt2', 768, 12, 12, 1024, 50257],
      ['gpt2-medium', 1024, 24, 16, 1024, 50257],
      ['gpt2-large', 1280, 36, 20, 1024, 50257],
      ['gpt2-xl', 1600, 48, 25, 1024, 50257],
      ['tiny', 128, 4, 4, 256, 50257],
      ['mini', 256, 6, 8, 512, 50257],
    ],
  );
  for (const c of Object.values(CONFIGS)) validateConfig(c);
  const a = getConfig('tiny');
  a.dModel = 1;
  t.equal(CONFIGS.tiny.dModel, 128, 'getConfig returns a copy');
  t.equal(getConfig('gpt2', { dropout: 0.1 }).dropout, 0.1);
});

t.test('bad configs are rejected with the reason', async (t) => {
  t.throws(() => getConfig('gpt3'), /unknown model config 'gpt3'/);
  t.throws(() => getConfig('gpt2', { nHeads: 7 }), /dModel=768 is not divisible by nHeads=7/);
  t.throws(() => getConfig('gpt2', { nLayers: 0 }), /nLayers must be a positive integer/);
  t.throws(() => getConfig('gpt2', { dropout: 1 }), /dropout must be in \[0, 1\)/);
});
