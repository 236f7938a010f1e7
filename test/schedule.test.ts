import t from 'tap';
import { learningRate } from '../train/run/schedule.ts';

t.test('constant: the chapter recipe, lr at every step', async (t) => {
  for (const s of [0, 1, 100]) t.equal(learningRate(s, { lr: 5e-5, schedule: 'constant', warmupSteps: 0, totalSteps: 10 }), 5e-5);
});

t.test('warm-up rises linearly, then cosine decays to a tenth at the last step', async (t) => {
  const o = { lr: 1e-3, schedule: 'cosine', warmupSteps: 9, totalSteps: 109 };
  t.equal(learningRate(0, o), 1e-4);
  t.equal(learningRate(4, o), 5e-4);
  t.equal(learningRate(9, o), 1e-3, 'peak right after warm-up');
  t.ok(Math.abs(learningRate(59, o) - 5.5e-4) < 1e-12, 'halfway down the cosine');
  t.ok(Math.abs(learningRate(109, o) - 1e-4) < 1e-12, 'floor at the planned end');
  t.ok(Math.abs(learningRate(500, o) - 1e-4) < 1e-12, 'stays at the floor past it');
  const curve = Array.from({ length: 101 }, (_, i) => learningRate(9 + i, o));
  t.ok(curve.every((lr, i) => i === 0 || lr <= curve[i - 1]), 'never rises after the warm-up');
});

t.test('an unknown schedule is a clear error', async (t) => {
  t.throws(() => learningRate(0, { lr: 1, schedule: 'linear', warmupSteps: 0, totalSteps: 1 }),
    /unknown learning-rate schedule "linear": expected one of constant, cosine/);
});
