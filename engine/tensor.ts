// Tensors: contiguous f32 or i32 data in a GPU buffer, with a shape. Autograd is a tape built as
// ops run (each output remembers its parents and its vector-Jacobian product); memory is freed
// deterministically by scopes (tidy), never left to the garbage collector.
import type { Binding, Device } from './device.ts';
import { ShapeError, WgptError } from './errors.ts';

export type DType = 'f32' | 'i32';

/** A GPU buffer shared by a tensor and its views (reshape); freed when the last one is. */
class Storage {
  refs = 1;
  constructor(readonly device: Device, readonly buffer: GPUBuffer, readonly bytes: number) {}
}

/** What an op leaves on its output for the backward pass. */
export interface GradNode {
  op: string;
  parents: Tensor[];
  /** Given the gradient of the output, the gradients of the parents (null where none is needed).
   *  With `sumsFirst`, `prior` is the gradient the first parent has gathered so far, if any: the
   *  first gradient returned is then that plus the op's own, summed in its kernel (a layer norm's
   *  dx and the residual gradient beside it: no separate sum). */
  backward: (grad: Tensor, prior?: Tensor) => (Tensor | null)[];
  sumsFirst?: boolean;
  /** backward's gradients are new tensors that nothing else holds, so the backward pass may add
   *  another gradient into them in place. */
  fresh?: boolean;
  /** For a one-parent op: adds its gradient for the parent into `into` in place, instead of
   *  making a new one that the backward pass would then add (embedding's scatter-add into the
   *  tied LM head's gradient: no zero-filled [V, D] and no [V, D] sum per step). */
  accumulate?: (grad: Tensor, into: Tensor) => void;
}

let currentDevice: Device | null = null;
const scopes: Set<Tensor>[] = [];
let gradEnabled = true;

export function setDevice(device: Device | null): void {
  currentDevice = device;
}
export function getDevice(): Device {
  if (!currentDevice) throw new WgptError('no GPU device: call `await openDevice()` first');
  return currentDevice;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export class Tensor {
  readonly size: number;
  requiresGrad = false;
  grad: Tensor | null = null;
  node: GradNode | null = null;
  /** Token ids made from host data keep their host copy (the embedding backward groups by id). */
  host: Int32Array | null = null;
  private storage: Storage | null;
  /** Where the data starts in the storage's buffer, in elements: 0, except for a window of a shared
   *  buffer (packed parameters, at 256-byte-aligned offsets: see ops/adamw.ts). */
  private offset = 0;

  constructor(readonly shape: readonly number[], readonly dtype: DType, storage: Storage) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new ShapeError(`invalid shape ${shapeStr(shape)}`);
    }
    this.size = numel(shape);
    this.storage = storage;
    scopes[scopes.length - 1]?.add(this);
  }

  /** A new uninitialised tensor (every op overwrites its output in full). */
  static empty(shape: readonly number[], dtype: DType = 'f32', label = 'tensor'): Tensor {
    const device = getDevice();
    const { buffer, bytes } = device.allocate(Math.max(numel(shape), 1) * 4, label);
    return new Tensor(shape, dtype, new Storage(device, buffer, bytes));
  }

  static fromData(data: ArrayLike<number>, shape: readonly number[], dtype: DType = 'f32'): Tensor {
    if (data.length !== numel(shape)) {
      throw new ShapeError(`fromData: ${data.length} values do not fill shape ${shapeStr(shape)}`);
    }
    const t = Tensor.empty(shape, dtype, 'upload');
    const array = dtype === 'f32'
      ? (data instanceof Float32Array ? data : Float32Array.from(data))
      : (data instanceof Int32Array ? data : Int32Array.from(data));
    if (array.length > 0) getDevice().upload(t.buffer, 0, array, 'upload');
    if (array instanceof Int32Array) t.host = array;
    return t;
  }

  get ndim(): number {
    return this.shape.length;
  }

  get isDisposed(): boolean {
    return this.storage === null;
  }

  get buffer(): GPUBuffer {
    if (!this.storage) throw new WgptError(`a tensor of shape ${shapeStr(this.shape)} was used after dispose()`);
    return this.storage.buffer;
  }

  /** The elements [start, start+count) as a binding window. */
  bind(start = 0, count = this.size - start): Binding {
    return { buffer: this.buffer, offset: (this.offset + start) * 4, size: Math.max(count, 1) * 4 };
  }

  /** A tensor of `shape` over this one's elements from `start` (no copy; it shares the buffer). */
  window(start: number, shape: readonly number[]): Tensor {
    void this.buffer; // throws if disposed
    if (start < 0 || start + numel(shape) > this.size) {
      throw new ShapeError(`window: ${shapeStr(shape)} at element ${start} does not fit in ${shapeStr(this.shape)}`);
    }
    this.storage!.refs++;
    const t = new Tensor(shape, this.dtype, this.storage!);
    t.offset = this.offset + start;
    return t;
  }

  /** Copies this tensor's data into `into` (a window of the same size) and makes that its storage
   *  from now on: the tensor object stays the same, its old buffer goes back to the pool. */
  relocate(into: Tensor): void {
    if (into.size !== this.size || into.dtype !== this.dtype) {
      throw new ShapeError(`relocate: ${this.dtype} ${shapeStr(this.shape)} into ${into.dtype} ${shapeStr(into.shape)}`);
    }
    const from = this.bind();
    const to = into.bind();
    const old = this.storage!;
    if (this.size > 0) old.device.copy(from.buffer, from.offset, to.buffer, to.offset, this.size * 4, 'relocate');
    into.storage!.refs++;
    this.storage = into.storage;
    this.offset = into.offset;
    if (--old.refs === 0) old.device.release(old.buffer, old.bytes);
  }

  /** Same data, new shape (no copy). */
  view(shape: readonly number[]): Tensor {
    void this.buffer; // throws if disposed
    const s = this.storage!;
    if (numel(shape) !== this.size) {
      throw new ShapeError(`reshape: cannot view ${shapeStr(this.shape)} as ${shapeStr(shape)}`);
    }
    s.refs++;
    const t = new Tensor(shape, this.dtype, s);
    t.offset = this.offset;
    t.host = this.host;
    return t;
  }

  async toArray(): Promise<Float32Array | Int32Array> {
    const device = this.storage?.device ?? getDevice();
    const bytes = await device.read(this.buffer, this.offset * 4, this.size * 4, `reading ${shapeStr(this.shape)}`);
    return this.dtype === 'f32' ? new Float32Array(bytes) : new Int32Array(bytes);
  }

  async item(): Promise<number> {
    return (await this.itemLater()).value;
  }

  /** item() in two halves: resolves once the copy of the value is submitted (the tensor may then
   *  be disposed and the next work recorded while the GPU still runs), `value` once it is back. */
  async itemLater(): Promise<{ value: Promise<number> }> {
    if (this.size !== 1) throw new ShapeError(`item(): tensor has shape ${shapeStr(this.shape)}, not one element`);
    const device = this.storage?.device ?? getDevice();
    const { bytes } = await device.readLater(this.buffer, 0, 4, `reading ${shapeStr(this.shape)}`);
    const value = bytes.then((b) => (this.dtype === 'f32' ? new Float32Array(b) : new Int32Array(b))[0]);
    value.catch(() => {}); // read later, maybe after other awaits: not an unhandled rejection meanwhile
    return { value };
  }

  /** Frees the GPU memory now (the buffer goes back to the pool). Idempotent. */
  dispose(): void {
    const s = this.storage;
    if (!s) return;
    this.storage = null;
    for (const scope of scopes) scope.delete(this);
    if (--s.refs === 0) s.device.release(s.buffer, s.bytes);
  }
}

// ---- scopes --------------------------------------------------------------------------------------

function collect(value: unknown, out: Set<Tensor>): void {
  if (value instanceof Tensor) out.add(value);
  else if (Array.isArray(value)) for (const v of value) collect(v, out);
  else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out);
  }
}

/** Runs fn; every tensor created inside and not returned (or kept) is disposed when it ends, also
 *  when fn throws. Returned tensors move to the enclosing scope. */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    release(scope, undefined);
    throw e;
  } finally {
    scopes.pop();
  }
  return release(scope, result);
}

/** Disposes what a closed scope made, except what `result` holds (moved to the enclosing scope). */
function release<T>(scope: Set<Tensor>, result: T): T {
  const kept = new Set<Tensor>();
  collect(result, kept);
  for (const t of scope) {
    if (kept.has(t)) scopes[scopes.length - 1]?.add(t);
    else t.dispose();
  }
  return result;
}

/** tidy for a function that awaits in the middle of a graph (DPO reads each sequence's
 *  log-probability back, computes the loss on the host, then runs the backward of the same graph):
 *  the scope stays open across the awaits. Scopes must still nest, so two of these may not run
 *  interleaved; that is checked when the scope ends. */
export async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  let nested = false;
  try {
    result = await fn();
  } catch (e) {
    if (scopes[scopes.length - 1] === scope) release(scope, undefined);
    throw e;
  } finally {
    nested = scopes[scopes.length - 1] === scope;
    scopes.splice(scopes.indexOf(scope), 1);
  }
  // After the finally, so an error of fn's is the one thrown.
  if (!nested) throw new WgptError('tidyAsync: scopes ended out of order (two async scopes ran interleaved)');
  return release(scope, result);
}

/** Takes a tensor out of every scope: it lives until disposed by hand (parameters, state). */
export function keep<T extends Tensor>(t: T): T {
  for (const scope of scopes) scope.delete(t);
  return t;
}

// ---- autograd ------------------------------------------------------------------------------------

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording the tape (inference, optimizer updates, VJPs). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Marks a tensor as a leaf whose gradient is wanted. */
export function param<T extends Tensor>(t: T): T {
  if (t.dtype !== 'f32') throw new WgptError('only f32 tensors can require gradients');
  t.requiresGrad = true;
  return t;
}

/** Records an op on the tape if gradients are on and any input needs one. */
export function record(out: Tensor, op: string, parents: Tensor[], backward: GradNode['backward'],
  how: Pick<GradNode, 'fresh' | 'accumulate' | 'sumsFirst'> = {}): Tensor {
  if (gradEnabled && parents.some((p) => p.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op, parents, backward, ...how };
  }
  return out;
}

/** Same values, cut from the tape. */
export function detach(t: Tensor): Tensor {
  const d = t.view(t.shape);
  d.requiresGrad = false;
  return d;
}

/** Tensors that lead to root and need a gradient, parents before children. */
export function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const parents = top[0].node?.parents ?? [];
    if (top[1] < parents.length) {
      const p = parents[top[1]++];
      if (p.requiresGrad && !seen.has(p)) {
        seen.add(p);
        stack.push([p, 0]);
      }
    } else {
      order.push(top[0]);
      stack.pop();
    }
  }
  return order;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
