// Measures peak resident memory while streaming a checkpoint through loadCheckpoint, the way the
// engine will (each tensor handed to a callback and then dropped). Used by
// test/checkpoint-rss.test.ts in a child process, so the measurement is not polluted by the
// test's own buffers; also handy by hand:  node --import tsx scripts/load-rss.ts DIR_OR_FILE
// Prints one JSON line: { baseRss, peakRss, largestTensorBytes, totalBytes, ms, samples }.
import { loadCheckpoint } from '../model/checkpoint.ts';

const target = process.argv[2];
if (!target) {
  console.error('usage: load-rss.ts <dir-or-file.safetensors>');
  process.exit(2);
}

const baseRss = process.memoryUsage().rss;
let peakRss = baseRss;
let largest = 0;
let total = 0;
// First, middle and last element of every tensor, so the caller can check the values too.
const samples: Record<string, [number, number, number]> = {};
const sample = (): void => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};
const t0 = performance.now();
await loadCheckpoint(target, {
  onProgress: sample,
  onTensor: (t) => {
    sample();
    const d = t.data;
    largest = Math.max(largest, d.byteLength);
    total += d.byteLength;
    samples[t.name] = [d[0], d[d.length >> 1], d[d.length - 1]];
  },
});
const ms = performance.now() - t0;
sample();
console.log(JSON.stringify({ baseRss, peakRss, largestTensorBytes: largest, totalBytes: total, ms, samples }));
