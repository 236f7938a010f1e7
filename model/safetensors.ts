// Streaming reader/writer for the safetensors format used by Hugging Face:
//   [u64 LE header length N][N bytes of JSON header][raw little-endian tensor data]
// The header maps each tensor name to {dtype, shape, data_offsets:[begin,end]} (offsets relative
// to the start of the data section) plus an optional "__metadata__" string map.
//
// Reading is done tensor by tensor with positioned reads so that a 1.5 GB checkpoint never has to
// sit in memory as a whole: with an `onTensor` callback the caller can upload each tensor to the
// GPU and drop it, keeping peak memory near the size of the largest single tensor.
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte range in the file (already shifted past the header). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  file: string;
  fileSize: number;
  /** Byte offset of the data section (8 + header length). */
  dataStart: number;
  metadata: Record<string, string>;
  /** In file order (sorted by begin offset). */
  tensors: TensorInfo[];
}

export interface LoadedTensor {
  name: string;
  shape: number[];
  /** The dtype stored in the file; `data` is always f32. */
  dtype: string;
  data: Float32Array;
}

export interface ReadOptions {
  /** Only tensors for which this returns true are read (others are skipped without I/O). */
  filter?: (name: string) => boolean;
  /** Called once per tensor in file order. When given, tensors are not kept: the returned map is
   *  empty and the caller owns each `data` (e.g. uploads it and lets it be collected). */
  onTensor?: (t: LoadedTensor) => void | Promise<void>;
  /** Bytes of tensor data read so far out of the bytes that will be read in total. */
  onProgress?: (doneBytes: number, totalBytes: number, tensorName: string) => void;
}

export interface WriteTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

const DTYPE_BYTES: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
  U16: 2, U32: 4, U64: 8, F8_E4M3: 1, F8_E5M2: 1,
};
const SUPPORTED = new Set(['F32', 'F16', 'BF16']);
// The spec caps the header at 100 MB; anything bigger is a corrupt or foreign file.
const MAX_HEADER = 100 * 1024 * 1024;
// Chunk for converting F16/BF16 and for splitting large reads (fs.read is limited to 2 GB).
const CHUNK = 16 * 1024 * 1024;

if (os.endianness() !== 'LE') {
  // Tensor bytes are viewed in place as Float32Array, which uses host byte order.
  throw new Error('safetensors.ts assumes a little-endian host');
}

function fail(file: string, msg: string, tensor?: string): never {
  throw new Error(`safetensors ${file}${tensor ? ` tensor '${tensor}'` : ''}: ${msg}`);
}

/** Reads and validates the header only (no tensor data). */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  const fh = await fsp.open(file, 'r');
  try {
    return await readHeader(fh, file);
  } finally {
    await fh.close();
  }
}

async function readHeader(fh: FileHandle, file: string): Promise<SafetensorsHeader> {
  const fileSize = (await fh.stat()).size;
  if (fileSize < 8) fail(file, `file is ${fileSize} bytes, too short for the 8-byte header length`);
  const lenBuf = Buffer.alloc(8);
  await readExactly(fh, lenBuf, 0, file);
  const n = lenBuf.readBigUInt64LE(0);
  if (n > BigInt(MAX_HEADER)) fail(file, `header length ${n} exceeds ${MAX_HEADER} bytes (not a safetensors file?)`);
  const headerLen = Number(n);
  if (8 + headerLen > fileSize) {
    fail(file, `truncated: header claims ${headerLen} bytes but the file has only ${fileSize - 8} after the length`);
  }
  const hbuf = Buffer.alloc(headerLen);
  await readExactly(fh, hbuf, 8, file);
  let json: unknown;
  try {
    json = JSON.parse(hbuf.toString('utf8'));
  } catch (e) {
    fail(file, `bad header: not valid JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail(file, 'bad header: not a JSON object');
  const dataStart = 8 + headerLen;
  const dataSize = fileSize - dataStart;
  let metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object') fail(file, 'bad header: __metadata__ is not an object');
      metadata = raw as Record<string, string>;
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e === null || typeof e !== 'object') fail(file, 'bad header: entry is not an object', name);
    if (typeof e.dtype !== 'string') fail(file, 'bad header: missing dtype', name);
    if (!Array.isArray(e.shape) || !e.shape.every((s) => Number.isInteger(s) && s >= 0)) {
      fail(file, `bad header: shape ${JSON.stringify(e.shape)} is not a list of non-negative integers`, name);
    }
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isInteger(o) && o >= 0) || off[0] > off[1]) {
      fail(file, `bad header: data_offsets ${JSON.stringify(off)} is not [begin, end]`, name);
    }
    const [b, en] = off as [number, number];
    if (en > dataSize) {
      fail(file, `offsets [${b}, ${en}] run past the end of the data section (${dataSize} bytes): file truncated?`, name);
    }
    const shape = e.shape as number[];
    const elBytes = DTYPE_BYTES[e.dtype];
    if (elBytes !== undefined) {
      const want = shape.reduce((a, s) => a * s, 1) * elBytes;
      if (want !== en - b) {
        fail(file, `shape [${shape}] of ${e.dtype} needs ${want} bytes but data_offsets span ${en - b}`, name);
      }
    }
    tensors.push({ name, dtype: e.dtype, shape, begin: dataStart + b, end: dataStart + en });
  }
  tensors.sort((a, b) => a.begin - b.begin);
  return { file, fileSize, dataStart, metadata, tensors };
}

/** Fills buf[0..len) from `pos`, looping over short reads; a short file is a clear error. */
async function readExactly(fh: FileHandle, buf: Uint8Array, pos: number, file: string, tensor?: string): Promise<void> {
  let done = 0;
  while (done < buf.byteLength) {
    const want = Math.min(buf.byteLength - done, 1 << 30);
    const { bytesRead } = await fh.read(buf, done, want, pos + done);
    if (bytesRead === 0) fail(file, `truncated: unexpected end of file at byte ${pos + done}`, tensor);
    done += bytesRead;
  }
}

/**
 * Reads tensors as f32. Without `onTensor` returns them all in a Map; with it, streams them one
 * at a time to the callback (awaited) and returns an empty Map.
 */
export async function readSafetensors(file: string, opts: ReadOptions = {}): Promise<Map<string, LoadedTensor>> {
  const out = new Map<string, LoadedTensor>();
  const fh = await fsp.open(file, 'r');
  try {
    const header = await readHeader(fh, file);
    const todo = header.tensors.filter((t) => !opts.filter || opts.filter(t.name));
    for (const t of todo) {
      if (!SUPPORTED.has(t.dtype)) {
        fail(file, `dtype ${t.dtype} is not supported (only F32, F16, BF16 are converted to f32)`, t.name);
      }
    }
    const total = todo.reduce((a, t) => a + (t.end - t.begin), 0);
    let done = 0;
    let scratch: Buffer | undefined;
    for (const t of todo) {
      const count = t.shape.reduce((a, s) => a * s, 1);
      const data = new Float32Array(count);
      if (t.dtype === 'F32') {
        // Read straight into the destination: no intermediate copy.
        const bytes = new Uint8Array(data.buffer);
        for (let off = 0; off < bytes.byteLength; off += CHUNK) {
          const n = Math.min(CHUNK, bytes.byteLength - off);
          await readExactly(fh, bytes.subarray(off, off + n), t.begin + off, file, t.name);
          done += n;
          opts.onProgress?.(done, total, t.name);
        }
      } else {
        scratch ??= Buffer.allocUnsafe(CHUNK);
        const decode = t.dtype === 'F16' ? decodeF16 : decodeBF16;
        const bytesTotal = count * 2;
        for (let off = 0; off < bytesTotal; off += CHUNK) {
          const n = Math.min(CHUNK, bytesTotal - off);
          const chunk = scratch.subarray(0, n);
          await readExactly(fh, chunk, t.begin + off, file, t.name);
          // A buffer this large is never taken from Buffer's small pool, so its byteOffset is 0
          // and a Uint16Array view over it is aligned.
          const halves = new Uint16Array(chunk.buffer, chunk.byteOffset, n / 2);
          decode(halves, data.subarray(off / 2, off / 2 + n / 2));
          done += n;
          opts.onProgress?.(done, total, t.name);
        }
      }
      const lt: LoadedTensor = { name: t.name, shape: t.shape.slice(), dtype: t.dtype, data };
      if (opts.onTensor) await opts.onTensor(lt);
      else out.set(t.name, lt);
    }
    if (total === 0) opts.onProgress?.(0, 0, '');
  } finally {
    await fh.close();
  }
  return out;
}

let f16Table: Float32Array | undefined;

/** IEEE half -> float, exact for every bit pattern (subnormals, inf, NaN). */
export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24; // zero and subnormals
  if (e === 31) return m === 0 ? s * Infinity : NaN;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** bfloat16 is the top half of an f32, so widening is a 16-bit shift. */
export function bf16ToF32(h: number): number {
  const u = new Uint32Array([(h & 0xffff) << 16]);
  return new Float32Array(u.buffer)[0];
}

function decodeF16(src: Uint16Array, dst: Float32Array): void {
  // A 65536-entry table (256 KB) makes conversion a lookup; built on first use.
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) f16Table[i] = f16ToF32(i);
  }
  const tab = f16Table;
  for (let i = 0; i < src.length; i++) dst[i] = tab[src[i]];
}

function decodeBF16(src: Uint16Array, dst: Float32Array): void {
  const u = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) u[i] = src[i] << 16;
}

/**
 * Writes F32 tensors (in the order given) with `__metadata__` = {"format":"pt", ...metadata},
 * header padded with spaces to a multiple of 8 bytes as HF does. Data is streamed tensor by
 * tensor into a temp file beside `file`, fsynced, then renamed over it, so readers never see a
 * half-written checkpoint.
 */
export async function writeSafetensors(
  file: string,
  tensors: WriteTensor[],
  metadata: Record<string, string> = {},
): Promise<void> {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', ...metadata } };
  let offset = 0;
  const seen = new Set<string>();
  for (const t of tensors) {
    if (t.name === '__metadata__' || seen.has(t.name)) fail(file, 'duplicate or reserved tensor name', t.name);
    seen.add(t.name);
    const count = t.shape.reduce((a, s) => a * s, 1);
    if (!t.shape.every((s) => Number.isInteger(s) && s >= 0) || count !== t.data.length) {
      fail(file, `shape [${t.shape}] (${count} elements) does not match data length ${t.data.length}`, t.name);
    }
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  const jsonBytes = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - (jsonBytes % 8)) % 8);
  const hbuf = Buffer.from(json, 'utf8');
  const lenBuf = Buffer.alloc(8);
  lenBuf.writeBigUInt64LE(BigInt(hbuf.byteLength));

  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${Date.now()}`);
  const fh = await fsp.open(tmp, 'w');
  try {
    await writeAll(fh, lenBuf);
    await writeAll(fh, hbuf);
    for (const t of tensors) {
      // A byte view over the caller's array: no copy of the tensor is made.
      const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      for (let off = 0; off < bytes.byteLength; off += CHUNK) {
        await writeAll(fh, bytes.subarray(off, Math.min(off + CHUNK, bytes.byteLength)));
      }
    }
    await fh.sync();
    await fh.close();
    await fsp.rename(tmp, file);
  } catch (e) {
    await fh.close().catch(() => {});
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let w = 0;
  while (w < bytes.byteLength) w += (await fh.write(bytes, w, bytes.byteLength - w)).bytesWritten;
}
