// Size-class pools. Freed buffers (and operand textures) are kept by size class and handed out
// again, so a steady training step allocates no new GPUBuffer. Classes are 2^k * {4,5,6,7}/4 (at
// most 25% waste).

export function sizeClass(bytes: number): number {
  const b = Math.max(bytes, 256);
  const k = Math.floor(Math.log2(b));
  const base = 2 ** k;
  if (base === b) return b;
  const step = base / 4;
  return Math.ceil(b / step) * step;
}

export class Pool<T extends { destroy(): void }> {
  private free = new Map<number, T[]>();

  /** `bytesOf`: what an item of a class holds (by default the class is its size in bytes). */
  constructor(private readonly bytesOf: (item: T, cls: number) => number = (_, cls) => cls) {}

  take(cls: number): T | undefined {
    return this.free.get(cls)?.pop();
  }

  give(cls: number, item: T): void {
    let list = this.free.get(cls);
    if (!list) this.free.set(cls, (list = []));
    list.push(item);
  }

  /** Destroys every pooled item (when memory runs short, and at shutdown); returns their bytes. */
  drain(): number {
    let bytes = 0;
    for (const [cls, list] of this.free) {
      for (const item of list) {
        bytes += this.bytesOf(item, cls);
        item.destroy();
      }
    }
    this.free.clear();
    return bytes;
  }
}
