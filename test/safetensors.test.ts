import t from 'tap';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bf16ToF32, f16ToF32, readSafetensors, readSafetensorsHeader, writeSafetensors } from '../model/safetensors.ts';

const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'wgpt-st-'));
t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));

/** Builds a safetensors file by hand, so tests control dtype, offsets and header bytes. */
async function rawFile(name: string, header: unknown, data: Uint8Array, headerText?: string): Promise<string> {
  const h = Buffer.from(headerText ?? JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  const file = path.join(dir, name);
  await fsp.writeFile(file, Buffer.concat([len, h, data]));
  return file;
}

const u16 = (xs: number[]): Uint8Array => new Uint8Array(new Uint16Array(xs).buffer);

t.test('write then read is bit-identical, header padded, metadata kept', async (t) => {
  const special = new Float32Array([0, -0, 1.5, -3.25, Infinity, -Infinity, 1e-45, 3.4028234663852886e38, NaN]);
  // A NaN with a payload must survive too: compare the raw bits.
  new Uint32Array(special.buffer)[8] = 0x7fc12345;
  const big = new Float32Array(1000);
  for (let i = 0; i < big.length; i++) big[i] = Math.sin(i) * 1e3;
  const file = path.join(dir, 'rt.safetensors');
  await writeSafetensors(file, [
    { name: 'a', shape: [3, 3], data: special },
    { name: 'b.weight', shape: [10, 10, 10], data: big },
    { name: 'empty', shape: [0, 4], data: new Float32Array(0) },
    { name: 'view', shape: [2], data: big.subarray(5, 7) },
  ], { step: '7' });
  const m = await readSafetensors(file);
  t.same([...m.keys()], ['a', 'b.weight', 'empty', 'view'], 'file order kept');
  t.same(new Uint32Array(m.get('a')!.data.buffer), new Uint32Array(special.buffer), 'bits identical incl. -0, NaN payload, subnormal');
  t.same(m.get('a')!.shape, [3, 3]);
  t.same(m.get('b.weight')!.data, big);
  t.same(m.get('empty')!.data.length, 0);
  t.same([...m.get('view')!.data], [big[5], big[6]], 'subarray views are written from their offset');
  const raw = await fsp.readFile(file);
  const hlen = Number(raw.readBigUInt64LE(0));
  t.equal(hlen % 8, 0, 'header length is a multiple of 8');
  const header = JSON.parse(raw.subarray(8, 8 + hlen).toString());
  t.same(header.__metadata__, { format: 'pt', step: '7' });
  t.same(header.a, { dtype: 'F32', shape: [3, 3], data_offsets: [0, 36] });
  t.equal(raw.length, 8 + hlen + 36 + 4000 + 0 + 8);
  const h = await readSafetensorsHeader(file);
  t.same(h.metadata, { format: 'pt', step: '7' });
  t.same(await fsp.readdir(dir).then((f) => f.filter((n) => n.includes('.tmp-'))), [], 'no temp file left');
});

t.test('overwrite is atomic and bad input leaves the old file alone', async (t) => {
  const file = path.join(dir, 'atomic.safetensors');
  await writeSafetensors(file, [{ name: 'x', shape: [2], data: new Float32Array([1, 2]) }]);
  await t.rejects(
    writeSafetensors(file, [{ name: 'x', shape: [3], data: new Float32Array([1, 2]) }]),
    /tensor 'x': shape \[3\] \(3 elements\) does not match data length 2/,
  );
  t.same([...(await readSafetensors(file)).get('x')!.data], [1, 2]);
  await writeSafetensors(file, [{ name: 'y', shape: [1], data: new Float32Array([5]) }]);
  t.same([...(await readSafetensors(file)).keys()], ['y']);
});

t.test('f16 decoding of known bit patterns', async (t) => {
  const cases: [number, number][] = [
    [0x0000, 0], [0x3c00, 1], [0xc000, -2], [0x3555, 0.333251953125], [0x7bff, 65504],
    [0x0400, 2 ** -14], // smallest normal
    [0x0001, 2 ** -24], // smallest subnormal
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x8001, -(2 ** -24)],
    [0x7c00, Infinity], [0xfc00, -Infinity],
  ];
  for (const [bits, v] of cases) t.equal(f16ToF32(bits), v, `0x${bits.toString(16)}`);
  t.ok(Object.is(f16ToF32(0x8000), -0), '0x8000 is -0');
  t.ok(Number.isNaN(f16ToF32(0x7e00)) && Number.isNaN(f16ToF32(0x7c01)), 'NaN');
  // Same patterns through the file path (table-driven bulk decoder).
  const bits = [...cases.map((c) => c[0]), 0x8000, 0x7e00];
  const file = await rawFile('f16.safetensors', { h: { dtype: 'F16', shape: [bits.length], data_offsets: [0, bits.length * 2] } },
    u16(bits));
  const got = (await readSafetensors(file)).get('h')!;
  t.equal(got.dtype, 'F16');
  t.same([...got.data.subarray(0, cases.length)], cases.map((c) => c[1]));
  t.ok(Object.is(got.data[cases.length], -0));
  t.ok(Number.isNaN(got.data[cases.length + 1]));
  // Every one of the 65536 patterns: the bulk path equals the scalar function (rounded to f32).
  const all = Array.from({ length: 65536 }, (_, i) => i);
  const f2 = await rawFile('f16all.safetensors', { h: { dtype: 'F16', shape: [65536], data_offsets: [0, 131072] } }, u16(all));
  const d = (await readSafetensors(f2)).get('h')!.data;
  let bad = 0;
  for (let i = 0; i < 65536; i++) if (!Object.is(d[i], Math.fround(f16ToF32(i)))) bad++;
  t.equal(bad, 0, 'all 65536 f16 patterns decode as the scalar reference');
});

t.test('bf16 decoding of known bit patterns', async (t) => {
  const cases: [number, number][] = [
    [0x3f80, 1], [0xc000, -2], [0x4049, 3.140625], [0x0080, 2 ** -126],
    [0x0001, 2 ** -133], // smallest subnormal
    [0x7f7f, 3.3895313892515355e38], [0x7f80, Infinity], [0xff80, -Infinity], [0x0000, 0],
  ];
  for (const [bits, v] of cases) t.equal(bf16ToF32(bits), v, `0x${bits.toString(16)}`);
  t.ok(Object.is(bf16ToF32(0x8000), -0));
  t.ok(Number.isNaN(bf16ToF32(0x7fc0)));
  const file = await rawFile('bf16.safetensors', { b: { dtype: 'BF16', shape: [3, 3], data_offsets: [0, 18] } },
    u16(cases.map((c) => c[0])));
  const got = (await readSafetensors(file)).get('b')!;
  t.same(got.shape, [3, 3]);
  t.same([...got.data], cases.map((c) => c[1]));
});

t.test('errors name the file and the tensor', async (t) => {
  const i64 = await rawFile('i64.safetensors', {
    ok: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
    ids: { dtype: 'I64', shape: [2], data_offsets: [4, 20] },
  }, new Uint8Array(20));
  await t.rejects(readSafetensors(i64), /i64\.safetensors tensor 'ids': dtype I64 is not supported/);
  t.same([...(await readSafetensors(i64, { filter: (n) => n !== 'ids' })).keys()], ['ok'], 'filtered out: not an error');

  const trunc = await rawFile('trunc.safetensors', { w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, new Uint8Array(10));
  await t.rejects(readSafetensors(trunc),
    /trunc\.safetensors tensor 'w': offsets \[0, 16\] run past the end of the data section \(10 bytes\): file truncated\?/);

  await t.rejects(readSafetensors(await rawFile('json.safetensors', null, new Uint8Array(0), '{"a": [1,')),
    /json\.safetensors: bad header: not valid JSON/);
  await t.rejects(readSafetensors(await rawFile('arr.safetensors', [1, 2], new Uint8Array(0))), /bad header: not a JSON object/);

  const hugeLen = Buffer.alloc(16);
  hugeLen.writeBigUInt64LE(1n << 40n);
  await fsp.writeFile(path.join(dir, 'huge.safetensors'), hugeLen);
  await t.rejects(readSafetensors(path.join(dir, 'huge.safetensors')), /header length 1099511627776 exceeds/);

  const shortLen = Buffer.alloc(8);
  shortLen.writeBigUInt64LE(100n);
  await fsp.writeFile(path.join(dir, 'shorth.safetensors'), Buffer.concat([shortLen, Buffer.from('{}')]));
  await t.rejects(readSafetensors(path.join(dir, 'shorth.safetensors')), /truncated: header claims 100 bytes but the file has only 2/);

  await fsp.writeFile(path.join(dir, 'tiny.safetensors'), Buffer.alloc(3));
  await t.rejects(readSafetensors(path.join(dir, 'tiny.safetensors')), /file is 3 bytes, too short/);

  const mism = await rawFile('mism.safetensors', { m: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, new Uint8Array(24));
  await t.rejects(readSafetensors(mism), /tensor 'm': shape \[2,3\] of F32 needs 24 bytes but data_offsets span 20/);

  const neg = await rawFile('neg.safetensors', { n: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, new Uint8Array(8));
  await t.rejects(readSafetensors(neg), /tensor 'n': bad header: data_offsets \[8,4\] is not \[begin, end\]/);

  await t.rejects(readSafetensors(path.join(dir, 'nope.safetensors')), /ENOENT/);
});

t.test('streaming: onTensor gets each tensor once, progress reaches the total', async (t) => {
  const file = path.join(dir, 'stream.safetensors');
  const a = new Float32Array(5_000_000).map((_, i) => i % 977); // 20 MB: more than one 16 MB chunk
  await writeSafetensors(file, [
    { name: 'small', shape: [2], data: new Float32Array([7, 8]) },
    { name: 'large', shape: [5000, 1000], data: a },
  ]);
  const seen: string[] = [];
  const progress: number[] = [];
  let total = 0;
  const m = await readSafetensors(file, {
    onTensor: async (tt) => {
      seen.push(tt.name);
      // Byte compare: tap's deep equality is far too slow for 5M elements.
      if (tt.name === 'large') t.ok(Buffer.from(tt.data.buffer).equals(Buffer.from(a.buffer)), 'large tensor data identical');
    },
    onProgress: (done, tot) => {
      progress.push(done);
      total = tot;
    },
  });
  t.equal(m.size, 0, 'nothing retained when streaming');
  t.same(seen, ['small', 'large']);
  t.equal(total, 8 + 20_000_000);
  t.equal(progress.at(-1), total);
  t.ok(progress.length >= 3, 'large tensor reports progress per chunk');
  t.ok(progress.every((p, i) => i === 0 || p >= progress[i - 1]), 'monotonic');
});
