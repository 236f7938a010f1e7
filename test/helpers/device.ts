// Opens the software (or real) GPU once per test file and closes it when the file's tests end.
import type { Test } from 'tap';
import { closeDevice, openDevice, type Device, type DeviceOptions } from '../../engine/index.ts';
import { setting } from '../../engine/settings.ts';

export async function withDevice(t: Test, options: DeviceOptions = {}): Promise<Device> {
  const device = await openDevice(options);
  slowReadbacks(device);
  t.teardown(() => closeDevice(device));
  return device;
}

/** WGPT_TEST_READ_DELAY_MS=N makes every readback take N ms longer, as on a real GPU where a
 *  readback waits for queued work: on the software GPU submit is synchronous and readbacks are
 *  nearly instant, which hides tests that end before their readbacks do (see test-hygiene). */
export function slowReadbacks(device: Device): void {
  const ms = setting('WGPT_TEST_READ_DELAY_MS') ?? 0;
  if (!(ms > 0)) return;
  const read = device.read.bind(device);
  device.read = async (...args) => {
    await new Promise((r) => setTimeout(r, ms));
    return read(...args);
  };
  const readLater = device.readLater.bind(device);
  device.readLater = async (...args) => {
    const { bytes } = await readLater(...args);
    const later = bytes.then(async (b) => {
      await new Promise((r) => setTimeout(r, ms));
      return b;
    });
    later.catch(() => {});
    return { bytes: later };
  };
}

/** The kernel names `fn` dispatched on `device`, in order. */
export function kernelsDispatched(device: Device, fn: () => unknown): string[] {
  const names: string[] = [];
  const dispatch = device.dispatch.bind(device);
  device.dispatch = (d) => {
    names.push(d.kernel.name);
    dispatch(d);
  };
  try {
    fn();
  } finally {
    device.dispatch = dispatch;
  }
  return names;
}
