// The engine's public surface: what model/ and train/ may use.
import { Device, type DeviceOptions } from './device.ts';
import { setDevice } from './tensor.ts';
import { setTuneDispatch, tunePending } from './tune/tuner.ts';
import { dispatchMatmul } from './ops/matmul-lower.ts';
import { adamwDispatch } from './ops/adamw.ts';

export { Device, type DeviceOptions, type Counters, type Dispatch, type Limits } from './device.ts';
export * from './errors.ts';
export { Tensor, tidy, tidyAsync, keep, noGrad, param, detach, numel, shapeStr, getDevice, type DType } from './tensor.ts';
export { backward } from './autograd.ts';
export * from './ops/elementwise.ts';
export { sum, mean } from './ops/reduce.ts';
export { sumTo } from './ops/sum-to.ts';

// The tuner times candidates through the ops' own dispatch functions (tune/ does not import ops/).
setTuneDispatch({ matmul: dispatchMatmul, adamw: adamwDispatch });

/** Opens the GPU device every op runs on. */
export async function openDevice(options: DeviceOptions = {}): Promise<Device> {
  const device = await Device.open(options);
  // Matmul classes met for the first time are measured at the next readback or finish().
  device.beforeWait = () => tunePending(device);
  setDevice(device);
  return device;
}

/** Destroys the device (Node does not exit while Dawn holds one). */
export function closeDevice(device: Device): void {
  device.destroy();
  setDevice(null);
}
export { matmul, type MatmulOptions } from './ops/matmul.ts';
export { reshape, permute, transpose, slice, split, splitHeads, concat } from './ops/layout.ts';
export { layerNorm } from './ops/norm.ts';
export { gelu, biasGelu } from './ops/activation.ts';
export { softmax, type SoftmaxOptions } from './ops/softmax.ts';
export { attentionComposed, causalSelfAttention, qkvAttention, setAttentionTile } from './ops/attention.ts';
export { paddedAttention, paddedSoftmax } from './ops/padded-attention.ts';
export { argmax } from './ops/argmax.ts';
export type { AttentionTile } from '../kernels/attention.ts';
export { crossEntropy, crossEntropyPerToken, type CrossEntropyOptions, IGNORE_INDEX } from './ops/loss.ts';
export { dropout } from './ops/dropout.ts';
export { embedding } from './ops/embedding.ts';
export { adamwStep, ParamPack, type AdamWOptions } from './ops/adamw.ts';
