// Size-class pools. Freed buffers (and operand textures) are kept by size class and handed out
// again, so a steady training step allocates no new GPUBuffer. Classes are 2^k * {4,5,6,7}/4 (at
// most 25% waste). A class hands out its oldest free item (the first made) first, so which buffer
// a request gets depends only on which are free, not on the order they came back: from its second
// step on, a steady step binds the buffers of its first, and its bind groups are all cached
// (device/recorder.ts).

export function sizeClass(bytes: number): number {
  const b = Math.max(bytes, 256);
  const k = Math.floor(Math.log2(b));
  const base = 2 ** k;
  if (base === b) return b;
  const step = base / 4;
  return Math.ceil(b / step) * step;
}

export class Pool<T extends { destroy(): void }> {
  /** Per class, the free items, newest first (take pops the oldest). */
  private free = new Map<number, T[]>();
  private ids = new WeakMap<T, number>();
  private nextId = 0;

  /** `bytesOf`: what an item of a class holds (by default the class is its size in bytes). */
  constructor(private readonly bytesOf: (item: T, cls: number) => number = (_, cls) => cls) {}

  /** The oldest free item of the class, or a new one from `make` (numbered in the order made). */
  take(cls: number, make: () => T): T {
    const item = this.free.get(cls)?.pop();
    if (item) return item;
    const made = make();
    this.ids.set(made, this.nextId++);
    return made;
  }

  give(cls: number, item: T): void {
    let list = this.free.get(cls);
    if (!list) this.free.set(cls, (list = []));
    const id = this.ids.get(item)!;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ids.get(list[mid])! > id) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, item);
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
