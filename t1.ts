import { openDevice, Tensor, add, mul, sum, backward, param, tidy, closeDevice, mean, div, sub, scale } from './engine/index.ts';
const dev = await openDevice();
const a = param(Tensor.fromData([1,2,3,4,5,6], [2,3]));
const b = param(Tensor.fromData([10,20,30], [3]));
const l = tidy(() => { const l = mean(mul(add(a, b), a)); backward(l); return l; });
console.log(await l.toArray());
console.log(await a.grad!.toArray(), await b.grad!.toArray(), dev.counters);
const x = Tensor.fromData([1,2,3,4],[4]); console.log(await div(x, Tensor.fromData([2],[1])).toArray(), await sum(Tensor.fromData([1,2,3,4,5,6],[2,3]), 0).toArray());
closeDevice(dev); process.exit(0);
