// The cache of built-in models: made once, kept while its recipe is the same, made again for another
// recipe, and a build that fails or is interrupted leaves nothing under the name (it used to leave
// builtin-sft.tmp-<pid> behind).
import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cachedModel, cacheDir } from '../train/builtin/cache.ts';

const root = mkdtempSync(path.join(tmpdir(), 'wgpt-cache-test-'));
process.env.WGPT_CACHE = root;

t.test('made once per recipe; a failed build leaves nothing behind', async (t) => {
  let builds = 0;
  const make = async (dir: string): Promise<void> => {
    builds++;
    writeFileSync(path.join(dir, 'model.safetensors'), `build ${builds}`);
    writeFileSync(path.join(dir, 'checkpoint'), 'optimizer state');
  };
  const dir = await cachedModel('base', { steps: 1 }, make);
  t.equal(dir, cacheDir('base'));
  t.equal(readFileSync(path.join(dir, 'model.safetensors'), 'utf8'), 'build 1');
  t.notOk(existsSync(path.join(dir, 'checkpoint')), 'no training checkpoint kept');
  await cachedModel('base', { steps: 1 }, make);
  t.equal(builds, 1, 'the same recipe is not made again');
  await cachedModel('base', { steps: 2 }, make);
  t.equal(builds, 2, 'another recipe is');
  t.equal(readFileSync(path.join(dir, 'model.safetensors'), 'utf8'), 'build 2');
  await t.rejects(cachedModel('base', { steps: 3 }, async (d) => {
    writeFileSync(path.join(d, 'model.safetensors'), 'half');
    throw new Error('interrupted');
  }), /interrupted/);
  t.equal(readFileSync(path.join(dir, 'model.safetensors'), 'utf8'), 'build 2', 'the previous copy is kept');
  t.same(readdirSync(root).filter((n) => n !== 'base' && !/^base\.\d+$/.test(n)), [], 'no temporary directory left');
  t.equal(readdirSync(root).filter((n) => /^base\.\d+$/.test(n)).length, 1, 'one generation');
});
