import t from 'tap';
import { DataLoader, Rng, evalLoader, shuffledIndices, trainLoader } from '../train/run/loader.ts';

const items = Array.from({ length: 10 }, (_, i) => i);

t.test('mulberry32 is deterministic and restorable', async (t) => {
  const a = new Rng(42);
  const seq = [a.next(), a.next(), a.next()];
  // Reference values of mulberry32(42) (the well-known JS implementation).
  t.equal(seq[0].toFixed(10), '0.6011037519');
  const b = new Rng(42);
  t.same([b.next(), b.next(), b.next()], seq);
  const c = new Rng(7);
  c.next();
  const saved = c.getState();
  const after = [c.next(), c.next()];
  const d = new Rng(0);
  d.setState(saved);
  t.same([d.next(), d.next()], after);
  const perm = shuffledIndices(50, new Rng(1));
  t.same([...perm].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
  t.notSame(perm, Array.from({ length: 50 }, (_, i) => i));
});

t.test('train loader: shuffled, drop_last, new order per epoch', async (t) => {
  const l = trainLoader(items, 3, 123);
  t.equal(l.length, 3);
  const e0 = [...l.epochBatches()];
  t.equal(e0.length, 3);
  t.ok(e0.every((b) => b.length === 3));
  const seen = e0.flat();
  t.equal(new Set(seen).size, 9, 'nine distinct items, one dropped');
  t.equal(l.epoch, 1);
  const e1 = [...l.epochBatches()];
  t.notSame(e1, e0, 'a new order in epoch 1');
  const again = trainLoader(items, 3, 123);
  t.same([...again.epochBatches()], e0, 'same seed, same order');
  t.notSame([...trainLoader(items, 3, 124).epochBatches()], e0, 'other seed, other order');
  t.throws(() => trainLoader([1, 2], 8), /train split has 2 entries, fewer than the batch size 8/);
});

t.test('eval loader keeps order and the last partial batch', async (t) => {
  const l = evalLoader(items, 4);
  t.same([...l.epochBatches()], [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
  t.same([...l.epochBatches()], [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
});

t.test('resume mid-epoch from saved state', async (t) => {
  const a = trainLoader(items, 2, 9);
  a.nextBatch();
  a.nextBatch();
  const state = JSON.parse(JSON.stringify(a.getState()));
  t.same(state.order, a.order, 'the epoch order is exposed');
  const restA = [...a.epochBatches(), ...a.epochBatches()];
  const b = trainLoader(items, 2, 999);
  b.setState(state);
  const restB = [...b.epochBatches(), ...b.epochBatches()];
  t.same(restB, restA, 'same remaining batches and next epoch');
  t.throws(() => b.setState({ ...state, order: [0, 1] }), /not a permutation of 10 items/);
  t.throws(() => new DataLoader(items, { batchSize: 0 }), /batch size must be a positive integer/);
});
