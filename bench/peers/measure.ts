// Timing helpers shared by the benchmark and its WebGPU peers (tfjs.ts, jaxjs.ts), which run in
// child processes and so import nothing that opens a device.

export interface Timing {
  ms: number;
  ms_min: number;
  ms_max: number;
  cpu_ms: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Median, min and max wall ms, and median process CPU ms, of timed repetitions. */
export function stats(times: number[], cpu: number[]): Timing {
  return { ms: median(times), ms_min: Math.min(...times), ms_max: Math.max(...times), cpu_ms: median(cpu) };
}

/** Process CPU time (user + system, all threads: llvmpipe's are in-process) in milliseconds. */
export function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export function checkReps(reps: number): void {
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`reps must be a positive integer (got ${reps})`);
}

export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Why a peer cannot hold `what` (`elements` floats) in one `noun` under this adapter's
 *  maxStorageBufferBindingSize, and what it would do instead (`consequence`); null when it fits. */
export function overBindingLimit(what: string, elements: number, maxBinding: number, noun: string, consequence: string): string | null {
  const bytes = elements * 4;
  return bytes > maxBinding
    ? `${what} needs a ${(bytes / 2 ** 20).toFixed(1)} MiB ${noun}, over this adapter's ${(maxBinding / 2 ** 20).toFixed(0)} MiB ` +
        `maxStorageBufferBindingSize: ${consequence}`
    : null;
}
