// Small helpers shared by the ops: binding windows for tensors larger than one binding, 1-D launch.
import { f32bits, type Binding, type Device } from '../device.ts';
import { ShapeError } from '../errors.ts';
import { getDevice, shapeStr, type Tensor } from '../tensor.ts';
import { grid1d, WG, type Kernel } from '../../kernels/kernel.ts';

export { f32bits };

/** The largest element count one binding may hold, rounded down to the offset alignment. */
export function maxBindingElems(device: Device, elemsPerRow = 1): number {
  const align = device.limits.minStorageBufferOffsetAlignment / 4;
  const raw = Math.floor(device.limits.maxStorageBufferBindingSize / 4);
  // Whole rows, and a row count whose byte offset stays aligned.
  const rowAlign = align / gcd(align, elemsPerRow);
  const rows = Math.floor(raw / elemsPerRow / rowAlign) * rowAlign;
  return rows * elemsPerRow;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Splits [0, rows) into chunks whose rows of `elemsPerRow` fit one binding each. */
export function rowChunks(rows: number, elemsPerRow: number, device = getDevice()): [number, number][] {
  const max = device.limits.maxStorageBufferBindingSize;
  if (elemsPerRow * 4 > max) throw new ShapeError(`a row of ${elemsPerRow} elements does not fit one binding of ${max} bytes`);
  const perChunk = Math.max(1, Math.floor(maxBindingElems(device, elemsPerRow) / Math.max(elemsPerRow, 1)));
  const out: [number, number][] = [];
  for (let r = 0; r < rows; r += perChunk) out.push([r, Math.min(perChunk, rows - r)]);
  return out;
}

/** Runs a 1-D kernel over n elements (WG invocations per workgroup). */
export function launch1d(kernel: Kernel, n: number, params: number[], bindings: Binding[], label: string,
  constants: Record<string, number> = {}): void {
  const device = getDevice();
  device.dispatch({
    kernel, params, bindings, label,
    constants: { WG, ...constants },
    workgroups: grid1d(n, WG, device.limits.maxComputeWorkgroupsPerDimension),
  });
}

export function assertF32(t: Tensor, op: string): void {
  if (t.dtype !== 'f32') throw new ShapeError(`${op}: expected an f32 tensor, got ${t.dtype} ${shapeStr(t.shape)}`);
}

/** Normalises a possibly negative axis. */
export function axisOf(axis: number, ndim: number, op: string): number {
  const a = axis < 0 ? axis + ndim : axis;
  if (!Number.isInteger(a) || a < 0 || a >= ndim) throw new ShapeError(`${op}: axis ${axis} is out of range for ${ndim} dimensions`);
  return a;
}
