/**
 * Robustness: whatever bytes arrive, the capture readers return records or
 * throw PcapFormatError — no other exception, no hang — and the streaming
 * reader reaches the same outcome as the in-memory one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PcapFormatError, PcapngWriter, PcapWriter, readCapture, readCaptureSync } from '../src/packet/pcap/index.js';

/** Valid captures to truncate and corrupt: every writer variant. */
function seeds(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const le of [true, false]) {
    for (const nanosecond of [false, true]) {
      const w = new PcapWriter({ linkType: 1, nanosecond, littleEndian: le });
      for (let i = 0; i < 4; i++) w.write({ tsSec: 1700000000 + i, tsNsec: i * 1000, data: new Uint8Array(20 + i * 9).fill(i) });
      out.push(w.bytes());
    }
    const ng = new PcapngWriter({ littleEndian: le, interfaces: [{ linkType: 1, tsresol: 6, name: 'eth0' }, { linkType: 276, tsresol: 9 }] });
    for (let i = 0; i < 4; i++) ng.write({ tsSec: 1700000000 + i, tsNsec: i, data: new Uint8Array(13 + i * 11).fill(i), ifIndex: i % 2 });
    out.push(ng.bytes());
  }
  return out;
}

/** A pcapng section of blocks with well-formed lengths and random types and bodies, so parsing reaches the block bodies. */
const blockSoup = fc.tuple(fc.boolean(), fc.array(fc.tuple(fc.constantFrom(1, 2, 3, 4, 5, 6, 0xa, 0xbad, 0x0a0d0d0a, 77), fc.uint8Array({ maxLength: 64 })), { maxLength: 8 }))
  .map(([le, blocks]) => {
    const parts: number[] = [];
    const u32 = (v: number) => (le ? [v, v >> 8, v >> 16, v >>> 24] : [v >>> 24, v >> 16, v >> 8, v]).map((x) => x & 0xff);
    const bom = u32(0x1a2b3c4d);
    parts.push(...u32(0x0a0d0d0a), ...u32(28), ...bom, ...(le ? [1, 0, 0, 0] : [0, 1, 0, 0]), ...new Array(8).fill(0xff), ...u32(28));
    for (const [type, body] of blocks) {
      const padded = (body.length + 3) & ~3;
      const total = 12 + padded;
      const b = Array.from(body);
      if (type === 0x0a0d0d0a) b.splice(0, 4, ...bom);
      parts.push(...u32(type), ...u32(total), ...b.slice(0, padded), ...new Array(padded - Math.min(b.length, padded)).fill(0), ...u32(total));
    }
    return Uint8Array.from(parts);
  });

const magics = [[0xa1, 0xb2, 0xc3, 0xd4], [0xd4, 0xc3, 0xb2, 0xa1], [0xa1, 0xb2, 0x3c, 0x4d], [0x4d, 0x3c, 0xb2, 0xa1], [0x0a, 0x0d, 0x0d, 0x0a]];

const inputs = (bases: Uint8Array[]) => fc.oneof(
  // random bytes, half of them behind a valid magic number
  fc.tuple(fc.option(fc.constantFrom(...magics), { nil: undefined }), fc.uint8Array({ maxLength: 300 }))
    .map(([m, rest]) => Uint8Array.from([...(m ?? []), ...rest])),
  // a valid capture cut short anywhere
  fc.tuple(fc.constantFrom(...bases), fc.nat()).map(([b, n]) => b.subarray(0, n % (b.length + 1))),
  // a valid capture with a few bytes overwritten (lengths, magics, interface ids...)
  fc.tuple(fc.constantFrom(...bases), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }))
    .map(([b, edits]) => { const c = b.slice(); for (const [i, v] of edits) c[i % c.length] = v; return c; }),
  blockSoup,
  blockSoup.chain((b) => fc.nat().map((n) => b.subarray(0, n % (b.length + 1)))),
);

type Outcome = { records: string } | { error: string };

function outcomeSync(bytes: Uint8Array): Outcome {
  try {
    const records = readCaptureSync(bytes);
    return { records: JSON.stringify(records.map((r) => [r.linkType, r.tsSec, r.tsNsec, r.origLen, r.ifIndex, Buffer.from(r.data).toString('hex')])) };
  } catch (e) {
    if (!(e instanceof PcapFormatError)) throw e;
    assert.ok(Number.isInteger(e.offset) && e.offset >= 0 && e.offset <= bytes.length, `offset ${e.offset} inside the input`);
    return { error: e.message };
  }
}

async function outcomeStream(bytes: Uint8Array, chunk: number): Promise<Outcome> {
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (let off = 0; off < bytes.length; off += chunk) yield bytes.subarray(off, off + chunk);
  }
  const records: unknown[] = [];
  try {
    for await (const r of readCapture(chunks())) records.push([r.linkType, r.tsSec, r.tsNsec, r.origLen, r.ifIndex, Buffer.from(r.data).toString('hex')]);
    return { records: JSON.stringify(records) };
  } catch (e) {
    if (!(e instanceof PcapFormatError)) throw e;
    return { error: e.message };
  }
}

test('100,000 random, truncated and corrupted inputs: only PcapFormatError escapes readCaptureSync', { timeout: 120_000 }, () => {
  let errors = 0;
  fc.assert(fc.property(inputs(seeds()), (bytes) => {
    if ('error' in outcomeSync(bytes)) errors++;
  }), { numRuns: 100_000 });
  assert.ok(errors > 40_000, `most inputs are malformed (${errors})`);
});

test('2,000 such inputs through the streaming reader in small chunks: the same records or the same error', { timeout: 120_000 }, async () => {
  await fc.assert(fc.asyncProperty(inputs(seeds()), fc.integer({ min: 1, max: 64 }), async (bytes, chunk) => {
    assert.deepEqual(await outcomeStream(bytes, chunk), outcomeSync(bytes));
  }), { numRuns: 2_000 });
});
