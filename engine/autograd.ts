// Reverse-mode backward over the tape that ops record (see record() in tensor.ts).
import { ShapeError, WgptError } from './errors.ts';
import { add, copy, ones } from './ops/elementwise.ts';
import { keep, noGrad, sameShape, shapeStr, topoOrder, type Tensor } from './tensor.ts';

/** Backward from `root` (a scalar, unless `seed` gives the output gradient). Leaves that require a
 *  gradient get it in `.grad`, added to any gradient already there (as PyTorch does). The
 *  gradients of intermediate tensors are freed as soon as they have been passed on. */
export function backward(root: Tensor, seed?: Tensor): void {
  if (!root.requiresGrad) throw new WgptError('backward: the tensor does not depend on anything that requires a gradient');
  if (seed && !sameShape(seed.shape, root.shape)) {
    throw new ShapeError(`backward: seed ${shapeStr(seed.shape)} does not match the output ${shapeStr(root.shape)}`);
  }
  if (!seed && root.size !== 1) throw new ShapeError(`backward: output has shape ${shapeStr(root.shape)}; pass a seed gradient`);
  noGrad(() => {
    const grads = new Map<Tensor, Tensor>([[root, seed ? copy(seed) : ones(root.shape)]]);
    // Gradients made in this pass that nothing else holds (an op's `fresh` gradients, the sums
    // made here): another gradient may be added into them in place.
    const owned = new Set<Tensor>();
    const order = topoOrder(root);
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      if (!t.node) {
        // A leaf: its gradient survives the scope that computed it.
        if (t.grad) {
          const sum = keep(add(t.grad, g));
          t.grad.dispose();
          g.dispose();
          t.grad = sum;
        } else t.grad = keep(g);
        continue;
      }
      const node = t.node;
      const only = node.parents.length === 1 ? node.parents[0] : null;
      const into = only?.requiresGrad ? grads.get(only) : undefined;
      if (node.accumulate && into && owned.has(into)) {
        node.accumulate(g, into);
        g.dispose();
        continue;
      }
      const first = node.parents[0];
      const prior = node.sumsFirst && first.requiresGrad && node.parents.indexOf(first, 1) < 0 ? grads.get(first) : undefined;
      const parentGrads = node.backward(g, prior);
      if (prior) {
        // The op's first gradient already holds prior: it replaces prior instead of adding to it.
        grads.delete(first);
        owned.delete(prior);
        prior.dispose();
      }
      node.parents.forEach((p, j) => {
        const pg = parentGrads[j];
        if (!pg) return;
        if (!p.requiresGrad) {
          pg.dispose();
          return;
        }
        if (!sameShape(pg.shape, p.shape)) {
          throw new ShapeError(`backward of ${node.op}: gradient ${shapeStr(pg.shape)} for an input of shape ${shapeStr(p.shape)}`);
        }
        const prev = grads.get(p);
        if (prev) {
          const sum = add(prev, pg);
          owned.add(sum);
          grads.set(p, sum);
          prev.dispose();
          pg.dispose();
        } else {
          grads.set(p, pg);
          if (node.fresh) owned.add(pg);
        }
      });
      g.dispose();
    }
  });
}
