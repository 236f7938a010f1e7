// Small helpers shared by the ops: binding windows for tensors larger than one binding, 1-D launch.
import type { Binding, Device, TextureBinding } from '../device.ts';
import { ShapeError } from '../errors.ts';
import { getDevice, isGradEnabled, shapeStr, type Tensor } from '../tensor.ts';
import { grid1d, WG, type Kernel, type Params, type RowKernel } from '../../kernels/kernel.ts';

/** The largest element count one binding may hold, rounded down to the offset alignment. */
export function maxBindingElems(device: Device): number {
  const align = device.limits.minStorageBufferOffsetAlignment / 4;
  return Math.floor(device.limits.maxStorageBufferBindingSize / 4 / align) * align;
}

/** Runs `run` over windows of n elements, each at most what one binding holds (`step`): e0 is the
 *  window's first element. */
export function eachWindow(n: number, run: (e0: number, count: number) => void, step = maxBindingElems(getDevice())): void {
  for (let e0 = 0; e0 < n; e0 += step) run(e0, Math.min(step, n - e0));
}

/** A value forced on one device (tests, benchmarks, tuning by hand): set() returns the previous
 *  one; null clears it. */
export function perDevice<T>(): { get(device: Device): T | null; set(value: T | null, device: Device): T | null } {
  const values = new WeakMap<Device, T>();
  return {
    get: (device) => values.get(device) ?? null,
    set: (value, device) => {
      const prev = values.get(device) ?? null;
      if (value === null) values.delete(device);
      else values.set(device, value);
      return prev;
    },
  };
}

/** Runs a 1-D kernel over n elements (WG invocations per workgroup). */
export function launch1d(kernel: Kernel, n: number, params: Params, bindings: (Binding | TextureBinding)[], label: string,
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

/** A window of whole rows bound as one binding: rows [row0, row0+rows) of a [*, len] tensor live at
 *  elements [elem0 + shift, elem0 + count) of the binding's buffer; elem0 is aligned down to the
 *  offset alignment and the kernel adds `shift`. It works for any row length
 *  (a vocabulary of 50257 floats under a 1 MiB cap included). */
export interface RowWindow {
  row0: number;
  rows: number;
  elem0: number;
  shift: number;
  count: number;
}

export function rowWindows(rows: number, len: number, device = getDevice()): RowWindow[] {
  const align = device.limits.minStorageBufferOffsetAlignment / 4;
  const maxE = Math.floor(device.limits.maxStorageBufferBindingSize / 4);
  if (rows * len <= maxE) return [{ row0: 0, rows, elem0: 0, shift: 0, count: rows * len }];
  const per = Math.floor((maxE - (align - 1)) / len);
  if (per < 1) throw new ShapeError(`a row of ${len} elements does not fit one binding of ` +
    `${device.limits.maxStorageBufferBindingSize} bytes`);
  const out: RowWindow[] = [];
  for (let r0 = 0; r0 < rows; r0 += per) {
    const rc = Math.min(per, rows - r0);
    const start = r0 * len;
    const elem0 = Math.floor(start / align) * align;
    out.push({ row0: r0, rows: rc, elem0, shift: start - elem0, count: start - elem0 + rc * len });
  }
  return out;
}

/** Runs a kernel with one workgroup of `wg` invocations per row (rows folded into 2-D past the
 *  per-dimension limit; shaders recover the row with the prelude's grid_group): the subgroup build of a
 *  row kernel where the device uses subgroups, else its tree build. */
export function launchRows(kernel: RowKernel, rows: number, params: Params, bindings: Binding[], label: string,
  wg: number, constants: Record<string, number> = {}): void {
  const device = getDevice();
  const sub = device.subgroups;
  device.dispatch({
    kernel: sub ? kernel.subgroups : kernel.tree, params, bindings, label,
    constants: sub ? { WG: wg, ONE_SUBGROUP: wg <= device.subgroupMinSize ? 1 : 0, ...constants } : { WG: wg, ...constants },
    workgroups: grid1d(rows, 1, device.limits.maxComputeWorkgroupsPerDimension),
  });
}

/** Whether an op run now with these inputs will be recorded on the tape (saved state is kept). */
export function recording(...inputs: Tensor[]): boolean {
  return isGradEnabled() && inputs.some((t) => t.requiresGrad);
}

/** Invocations per workgroup for the one-workgroup-per-row kernels (an override constant, chosen
 *  per adapter): on llvmpipe one 8-lane vector per row was the fastest (fewer barrier switches;
 *  docs/measurements.md, 'Row kernels'); on a real GPU a wider group hides latency. */
export function rowWorkgroup(gpuSize: number, device = getDevice()): number {
  return device.kernelProfile === 'software' ? 8 : gpuSize;
}
