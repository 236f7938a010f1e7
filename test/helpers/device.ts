// Opens the software (or real) GPU once per test file and closes it when the file's tests end.
import type { Test } from 'tap';
import { closeDevice, openDevice, type Device, type DeviceOptions } from '../../engine/index.ts';

export async function withDevice(t: Test, options: DeviceOptions = {}): Promise<Device> {
  const device = await openDevice(options);
  t.teardown(() => closeDevice(device));
  return device;
}
