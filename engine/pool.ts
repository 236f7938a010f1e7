// Size-class buffer pool. Freed buffers are kept by size class and handed out again, so a steady
// training step allocates no new GPUBuffer. Classes are 2^k * {4,5,6,7}/4 (at most 25% waste).

export function sizeClass(bytes: number): number {
  const b = Math.max(bytes, 256);
  const k = Math.floor(Math.log2(b));
  const base = 2 ** k;
  if (base === b) return b;
  const step = base / 4;
  return Math.ceil(b / step) * step;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  pooledBytes = 0;

  take(cls: number): GPUBuffer | undefined {
    const list = this.free.get(cls);
    const buf = list?.pop();
    if (buf) this.pooledBytes -= cls;
    return buf;
  }

  give(cls: number, buffer: GPUBuffer): void {
    let list = this.free.get(cls);
    if (!list) this.free.set(cls, (list = []));
    list.push(buffer);
    this.pooledBytes += cls;
  }

  /** Destroys every pooled buffer (used when memory runs short and at shutdown). */
  drain(): number {
    let bytes = 0;
    for (const [cls, list] of this.free) {
      for (const b of list) b.destroy();
      bytes += cls * list.length;
    }
    this.free.clear();
    this.pooledBytes = 0;
    return bytes;
  }
}
