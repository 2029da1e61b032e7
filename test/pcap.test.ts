/**
 * pcap and pcapng: reading hand-built fixtures of every variant, the
 * malformed inputs that must be rejected (and where), writing, and round
 * trips. Fixtures are built byte by byte here, independently of the writers,
 * so reader and writer cannot share a mistake.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  linkL3, LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW,
  PcapFormatError, PcapngWriter, PcapWriter, readCapture, readCaptureSync, Sll2View, SllView, stripCooked,
  writePcapFile,
} from '../src/packet/pcap/index.js';
import type { CaptureRecord, WritableRecord } from '../src/packet/pcap/index.js';
import { timeToUnits, tsResolution, unitsToTime } from '../src/packet/pcap/timestamp.js';

// ---- fixture construction -------------------------------------------------

/** Little byte builder: numbers in a chosen byte order. */
class Bytes {
  private readonly out: number[] = [];
  constructor(readonly le: boolean) {}
  u8(...v: number[]): this { this.out.push(...v.map((x) => x & 0xff)); return this; }
  u16(v: number): this { return this.le ? this.u8(v, v >> 8) : this.u8(v >> 8, v); }
  u32(v: number): this { return this.le ? this.u8(v, v >> 8, v >> 16, v >>> 24) : this.u8(v >>> 24, v >> 16, v >> 8, v); }
  raw(b: ArrayLike<number>): this { this.out.push(...Array.from(b)); return this; }
  pad4(): this { while (this.out.length % 4) this.out.push(0); return this; }
  get length(): number { return this.out.length; }
  done(): Uint8Array { return Uint8Array.from(this.out); }
}

const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => Array.from(p)));
const payload = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

function pcapFile(o: { le: boolean; nano: boolean; linkType?: number; records: { sec: number; frac: number; data: Uint8Array; orig?: number }[] }): Uint8Array {
  const b = new Bytes(o.le).u32(o.nano ? 0xa1b23c4d : 0xa1b2c3d4).u16(2).u16(4).u32(0).u32(0).u32(65535).u32(o.linkType ?? 1);
  for (const r of o.records) b.u32(r.sec).u32(r.frac).u32(r.data.length).u32(r.orig ?? r.data.length).raw(r.data);
  return b.done();
}

/** A pcapng block: type, length, body (padded), length again. */
function block(le: boolean, type: number, body: Uint8Array): Uint8Array {
  const padded = (body.length + 3) & ~3;
  const total = 12 + padded;
  const b = new Bytes(le).u32(type).u32(total).raw(body).pad4().u32(total);
  return b.done();
}

function shb(le: boolean): Uint8Array {
  return block(le, 0x0a0d0d0a, new Bytes(le).u32(0x1a2b3c4d).u16(1).u16(0).u32(0xffffffff).u32(0xffffffff).done());
}

function idb(le: boolean, linkType: number, o: { snaplen?: number; tsresol?: number; tsoffset?: number } = {}): Uint8Array {
  const b = new Bytes(le).u16(linkType).u16(0).u32(o.snaplen ?? 0);
  b.u16(2).u16(4).raw([0x65, 0x74, 0x68, 0x30]); // if_name "eth0": an option we skip
  if (o.tsresol !== undefined) b.u16(9).u16(1).u8(o.tsresol).pad4();
  if (o.tsoffset !== undefined) {
    b.u16(14).u16(8);
    const hi = Math.floor(o.tsoffset / 2 ** 32), lo = o.tsoffset >>> 0;
    if (b.le) b.u32(lo).u32(hi); else b.u32(hi).u32(lo);
  }
  b.u16(0).u16(0);
  return block(le, 1, b.done());
}

function epb(le: boolean, ifId: number, hi: number, lo: number, data: Uint8Array, orig = data.length): Uint8Array {
  const b = new Bytes(le).u32(ifId).u32(hi).u32(lo).u32(data.length).u32(orig).raw(data).pad4();
  b.u16(1).u16(3).raw([0x61, 0x62, 0x63]).pad4().u16(0).u16(0); // opt_comment "abc", ignored
  return block(le, 6, b.done());
}

const strip = (r: CaptureRecord) => ({ ...r, data: Array.from(r.data) });

function expectFormatError(bytes: Uint8Array, offset: number, message: RegExp): void {
  assert.throws(() => readCaptureSync(bytes), (e: unknown) => {
    assert.ok(e instanceof PcapFormatError, `expected PcapFormatError, got ${String(e)}`);
    assert.equal(e.offset, offset, `offset of "${e.message}"`);
    assert.match(e.message, message);
    return true;
  });
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<CaptureRecord[]> {
  const out: CaptureRecord[] = [];
  for await (const r of readCapture(source)) out.push(r);
  return out;
}

async function* chunked(bytes: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let off = 0, i = 0;
  while (off < bytes.length) {
    const n = Math.max(1, sizes[i++ % sizes.length]!);
    yield bytes.slice(off, off + n);
    off += n;
  }
}

// ---- classic pcap ---------------------------------------------------------

for (const le of [true, false]) {
  for (const nano of [false, true]) {
    test(`pcap ${le ? 'little' : 'big'}-endian, ${nano ? 'nano' : 'micro'}second magic: timestamps, lengths, snapped packets`, () => {
      const full = payload(60);
      const snapped = payload(40, 3);
      const bytes = pcapFile({
        le, nano, records: [
          { sec: 1700000000, frac: nano ? 999999999 : 999999, data: full },
          { sec: 0xfffffffe, frac: 1, data: snapped, orig: 1514 },
        ],
      });
      const records = readCaptureSync(bytes);
      assert.deepEqual(records.map(strip), [
        { linkType: 1, tsSec: 1700000000, tsNsec: 999999999 - (nano ? 0 : 999), origLen: 60, data: Array.from(full), ifIndex: 0 },
        { linkType: 1, tsSec: 0xfffffffe, tsNsec: nano ? 1 : 1000, origLen: 1514, data: Array.from(snapped), ifIndex: 0 },
      ]);
      assert.equal(records[0]!.data.buffer, bytes.buffer, 'records are views into the input, not copies');
    });
  }
}

test('pcap link type word: the FCS bits above bit 26 are not part of the link type', () => {
  const bytes = pcapFile({ le: true, nano: false, linkType: 0x14000001, records: [{ sec: 1, frac: 0, data: payload(20) }] });
  assert.equal(readCaptureSync(bytes)[0]!.linkType, LINKTYPE_ETHERNET);
});

test('a pcap file with a header and no packets is a valid empty capture', () => {
  assert.deepEqual(readCaptureSync(pcapFile({ le: true, nano: false, records: [] })), []);
});

// ---- pcapng ---------------------------------------------------------------

/** Two sections, opposite byte orders, four interfaces, every packet block kind and some blocks to skip. */
function pcapngFixture(): Uint8Array {
  const L = true, B = false;
  return concat(
    shb(L),
    idb(L, LINKTYPE_ETHERNET), // default resolution: microseconds
    idb(L, LINKTYPE_RAW, { tsresol: 9, tsoffset: 100 }),
    idb(L, LINKTYPE_IPV6, { tsresol: 0x80 | 10 }), // 2^-10 s
    block(L, 4, new Bytes(L).u16(1).u16(8).raw([10, 0, 0, 1, 0x61, 0x00, 0, 0]).u16(0).u16(0).done()), // NRB
    // µs: 1700000000.123456 s = 1700000000123456 units
    epb(L, 0, Math.floor(1700000000123456 / 2 ** 32), 1700000000123456 % 2 ** 32, payload(60)),
    block(L, 5, new Bytes(L).u32(0).u32(0).u32(0).u16(0).u16(0).done()), // ISB
    block(L, 0x0000000a, new Bytes(L).u32(0x5353484b).u32(4).raw([1, 2, 3, 4]).done()), // DSB
    block(L, 0x00000bad, new Bytes(L).u32(32473).raw([9, 9, 9]).done()), // custom block
    block(L, 0x7777, payload(13)), // a block type nobody has defined yet
    // ns: 1700000000.987654321 s, plus if_tsoffset 100 s
    epb(L, 1, Number(1700000000987654321n >> 32n), Number(1700000000987654321n & 0xffffffffn), payload(40, 5), 1500),
    // 2^-10 s units: 1024 * 5 + 512 = 5.5 s
    epb(L, 2, 0, 1024 * 5 + 512, payload(48, 7)),
    // SPB on interface 0 (snaplen 0 = unlimited), original length 30: no timestamp
    block(L, 3, new Bytes(L).u32(30).raw(payload(30, 9)).done()),
    // obsolete Packet Block, interface 1
    block(L, 2, new Bytes(L).u16(1).u16(0).u32(0).u32(2_000_000_000).u32(16).u32(16).raw(payload(16, 11)).done()),
    shb(B),
    idb(B, LINKTYPE_LINUX_SLL2, { tsresol: 3 }), // milliseconds, big-endian section
    epb(B, 0, Math.floor(1700000000123 / 2 ** 32), 1700000000123 % 2 ** 32, payload(36, 13)),
  );
}

test('pcapng: two sections of opposite byte order, if_tsresol decimal and 2^-n, if_tsoffset, EPB/SPB/PB, skipped blocks', () => {
  const records = readCaptureSync(pcapngFixture()).map(strip);
  assert.deepEqual(records.map(({ data, ...r }) => ({ ...r, len: data.length })), [
    { linkType: LINKTYPE_ETHERNET, tsSec: 1700000000, tsNsec: 123456000, origLen: 60, ifIndex: 0, len: 60 },
    { linkType: LINKTYPE_RAW, tsSec: 1700000100, tsNsec: 987654321, origLen: 1500, ifIndex: 1, len: 40 },
    { linkType: LINKTYPE_IPV6, tsSec: 5, tsNsec: 500000000, origLen: 48, ifIndex: 2, len: 48 },
    { linkType: LINKTYPE_ETHERNET, tsSec: 0, tsNsec: 0, origLen: 30, ifIndex: 0, len: 30 },
    { linkType: LINKTYPE_RAW, tsSec: 100 + 2, tsNsec: 0, origLen: 16, ifIndex: 1, len: 16 },
    { linkType: LINKTYPE_LINUX_SLL2, tsSec: 1700000000, tsNsec: 123000000, origLen: 36, ifIndex: 3, len: 36 },
  ]);
  assert.deepEqual(records[1]!.data, Array.from(payload(40, 5)));
  assert.deepEqual(records[5]!.data, Array.from(payload(36, 13)));
});

test('pcapng simple packet block: captured length is bounded by the interface snaplen', () => {
  const bytes = concat(shb(true), idb(true, LINKTYPE_ETHERNET, { snaplen: 20 }), block(true, 3, new Bytes(true).u32(60).raw(payload(60)).done()));
  const [r] = readCaptureSync(bytes);
  assert.equal(r!.data.length, 20);
  assert.equal(r!.origLen, 60);
});

test('streaming reader equals the in-memory reader for any chunking of the input', async () => {
  const inputs = [pcapngFixture(), pcapFile({ le: false, nano: true, records: [{ sec: 5, frac: 6, data: payload(70) }, { sec: 7, frac: 8, data: payload(3) }] })];
  await fc.assert(fc.asyncProperty(fc.constantFrom(...inputs), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 20 }), async (bytes, sizes) => {
    const streamed = await collect(chunked(bytes, sizes));
    assert.deepEqual(streamed.map(strip), readCaptureSync(bytes).map(strip));
  }), { numRuns: 200 });
});

test('streaming reader reads a file by path', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfx-pcap-'));
  try {
    const file = join(dir, 'f.pcapng');
    writeFileSync(file, pcapngFixture());
    const records: CaptureRecord[] = [];
    for await (const r of readCapture(file)) records.push(r);
    assert.deepEqual(records.map(strip), readCaptureSync(pcapngFixture()).map(strip));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('leaving a streaming read early closes the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfx-pcap-'));
  const fds = () => readdirSync('/proc/self/fd').length;
  try {
    const file = join(dir, 'f.pcapng');
    writeFileSync(file, pcapngFixture());
    const before = fds();
    for (let i = 0; i < 20; i++) {
      for await (const r of readCapture(file)) if (r.ifIndex === 0) break;
    }
    assert.equal(fds(), before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- malformed input: always PcapFormatError, always with the offset ------

test('bad magic, empty and truncated inputs are PcapFormatError with the byte offset', () => {
  expectFormatError(new Uint8Array(0), 0, /empty/);
  expectFormatError(Uint8Array.of(0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0), 0, /not a pcap or pcapng file: magic 0x12345678/);
  expectFormatError(Uint8Array.of(0xd4, 0xc3), 0, /truncated file header/);
  const file = pcapFile({ le: true, nano: false, records: [{ sec: 1, frac: 2, data: payload(50) }] });
  expectFormatError(file.subarray(0, 20), 0, /truncated pcap file header/);
  expectFormatError(file.subarray(0, 24 + 10), 24, /truncated pcap record header/);
  expectFormatError(file.subarray(0, 24 + 16 + 49), 24, /truncated pcap record: 65 of 66 bytes/);
  const ng = pcapngFixture();
  expectFormatError(ng.subarray(0, ng.length - 1), ng.length - epb(false, 0, 0, 0, payload(36)).length, /truncated pcapng block/);
});

test('absurd lengths are rejected before any allocation or wait', () => {
  const big = pcapFile({ le: true, nano: false, records: [{ sec: 1, frac: 2, data: payload(4) }] });
  new DataView(big.buffer).setUint32(24 + 8, 262145, true);
  expectFormatError(big, 32, /record length 262145 exceeds 262144/);
  const ng = concat(shb(true), idb(true, 1), epb(true, 0, 0, 0, payload(8)));
  const at = shb(true).length + idb(true, 1).length;
  const huge = ng.slice();
  new DataView(huge.buffer).setUint32(at + 4, 0x7ffffff0, true);
  expectFormatError(huge, at + 4, /block length 2147483632 exceeds/);
  const inner = ng.slice();
  new DataView(inner.buffer).setUint32(at + 20, 1000, true);
  expectFormatError(inner, at + 20, /packet length 1000 overruns its block/);
  const absurd = ng.slice();
  new DataView(absurd.buffer).setUint32(at + 20, 300_000, true);
  expectFormatError(absurd, at + 20, /packet length 300000 exceeds 262144/);
});

test('pcapng block length not a multiple of 4, below the minimum, or with a different trailing copy', () => {
  const ng = concat(shb(true), idb(true, 1), epb(true, 0, 0, 0, payload(8)));
  const at = shb(true).length + idb(true, 1).length;
  const odd = ng.slice();
  new DataView(odd.buffer).setUint32(at + 4, 50, true);
  expectFormatError(odd, at + 4, /not a multiple of 4/);
  const tiny = ng.slice();
  new DataView(tiny.buffer).setUint32(at + 4, 8, true);
  expectFormatError(tiny, at + 4, /below 12/);
  const trailer = ng.slice();
  new DataView(trailer.buffer).setUint32(ng.length - 4, 44, true);
  expectFormatError(trailer, ng.length - 4, /trailing length 44 differs/);
  const bom = ng.slice();
  bom[8] = 0;
  expectFormatError(bom, 8, /byte-order magic/);
});

test('a packet on an interface the section never described is an error', () => {
  expectFormatError(concat(shb(true), idb(true, 1), epb(true, 1, 0, 0, payload(8))), 28 + 32 + 8, /interface 1, but the section defines 1/);
  // A new section forgets the previous section's interfaces.
  expectFormatError(concat(shb(true), idb(true, 1), shb(false), epb(false, 0, 0, 0, payload(8))), 28 + 32 + 28 + 8, /interface 0/);
});

// ---- timestamps -----------------------------------------------------------

test('64-bit pcapng timestamps convert exactly at every decimal and binary resolution (checked with BigInt)', () => {
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0x80, max: 0x80 + 40 })), (units, code) => {
    const out = { sec: 0, nsec: 0 };
    unitsToTime(Number(units >> 32n), Number(units & 0xffffffffn), tsResolution(code), out);
    const [sec, nsec] = code & 0x80
      ? [units >> BigInt(code & 0x7f), ((units & ((1n << BigInt(code & 0x7f)) - 1n)) * 10n ** 9n) >> BigInt(code & 0x7f)]
      : [units / 10n ** BigInt(code), code <= 9 ? (units % 10n ** BigInt(code)) * 10n ** BigInt(9 - code) : (units % 10n ** BigInt(code)) / 10n ** BigInt(code - 9)];
    assert.equal(out.nsec, Number(nsec));
    if (sec < 2n ** 53n) assert.equal(out.sec, Number(sec));
  }), { numRuns: 3000 });
});

test('writer-side timestamp split is exact (checked with BigInt)', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 34 }), fc.integer({ min: 0, max: 999_999_999 }), fc.integer({ min: 0, max: 9 }), (sec, nsec, k) => {
    const want = BigInt(sec) * 10n ** BigInt(k) + BigInt(nsec) / 10n ** BigInt(9 - k);
    const out = { hi: 0, lo: 0 };
    if (want >= 2n ** 64n) return;
    timeToUnits(sec, nsec, k, out);
    assert.equal((BigInt(out.hi) << 32n) | BigInt(out.lo), want);
  }), { numRuns: 3000 });
});

// ---- Linux cooked headers and layer 3 ------------------------------------

test('Linux cooked v1 and v2 headers: fields, protocol and where layer 3 starts', () => {
  const ip = payload(20);
  ip[0] = 0x45;
  const sll = concat(Uint8Array.of(0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00), ip);
  const v1 = new SllView(sll);
  assert.deepEqual([v1.pktType, v1.haType, v1.haLen, Array.from(v1.address), v1.protocol], [4, 1, 6, [2, 0, 0, 0, 0, 1], 0x0800]);
  assert.deepEqual(stripCooked(LINKTYPE_LINUX_SLL, sll), { protocol: 0x0800, offset: 16 });
  const sll2 = concat(Uint8Array.of(0x86, 0xdd, 0, 0, 0x80, 0, 0, 7, 0, 1, 0, 6, 2, 0, 0, 0, 0, 2, 0, 0), ip);
  const v2 = new Sll2View(sll2);
  assert.deepEqual([v2.protocol, v2.ifIndex, v2.haType, v2.pktType, v2.haLen, Array.from(v2.address)], [0x86dd, 0x80000007, 1, 0, 6, [2, 0, 0, 0, 0, 2]]);
  assert.deepEqual(stripCooked(LINKTYPE_LINUX_SLL2, sll2), { protocol: 0x86dd, offset: 20 });
  assert.equal(stripCooked(LINKTYPE_LINUX_SLL2, sll2.subarray(0, 19)), null, 'shorter than the cooked header');
  assert.equal(stripCooked(LINKTYPE_ETHERNET, sll2), null, 'not a cooked link type');
});

test('linkL3 for Ethernet, raw IP (version nibble), IPv4, IPv6; reuses the out object', () => {
  const out = { protocol: -1, offset: -1 };
  const eth = concat(payload(12), Uint8Array.of(0x81, 0x00), payload(4));
  assert.equal(linkL3(LINKTYPE_ETHERNET, eth, out), out);
  assert.deepEqual(out, { protocol: 0x8100, offset: 14 });
  assert.deepEqual(linkL3(LINKTYPE_RAW, Uint8Array.of(0x60, 0, 0, 0)), { protocol: 0x86dd, offset: 0 });
  assert.deepEqual(linkL3(LINKTYPE_RAW, Uint8Array.of(0x45)), { protocol: 0x0800, offset: 0 });
  assert.equal(linkL3(LINKTYPE_RAW, Uint8Array.of(0x15)), null);
  assert.deepEqual(linkL3(LINKTYPE_IPV4, new Uint8Array(0)), { protocol: 0x0800, offset: 0 });
  assert.deepEqual(linkL3(LINKTYPE_IPV6, new Uint8Array(0)), { protocol: 0x86dd, offset: 0 });
  assert.equal(linkL3(LINKTYPE_ETHERNET, payload(13)), null);
});

// ---- writers --------------------------------------------------------------

test('PcapWriter writes the libpcap header and records byte for byte', () => {
  const w = new PcapWriter({ linkType: LINKTYPE_RAW, snaplen: 65535 });
  w.write({ tsSec: 1700000000, tsNsec: 123456789, data: payload(20), origLen: 40 });
  assert.deepEqual(Array.from(w.bytes()), Array.from(pcapFile({ le: true, nano: false, linkType: 101, records: [{ sec: 1700000000, frac: 123456, data: payload(20), orig: 40 }] })));
  const be = new PcapWriter({ linkType: 1, nanosecond: true, littleEndian: false, snaplen: 65535 });
  be.write({ tsSec: 3, tsNsec: 4, data: payload(9) });
  assert.deepEqual(Array.from(be.bytes()), Array.from(pcapFile({ le: false, nano: true, records: [{ sec: 3, frac: 4, data: payload(9) }] })));
});

test('writers truncate to the snaplen and keep the original length', () => {
  const w = new PcapWriter({ linkType: 1, snaplen: 64 });
  w.write({ tsSec: 0, tsNsec: 0, data: payload(100) });
  const [r] = readCaptureSync(w.bytes());
  assert.deepEqual([r!.data.length, r!.origLen], [64, 100]);
});

test('writers refuse what the format cannot hold (caller mistakes are RangeError, not silent)', () => {
  const w = new PcapWriter({ linkType: 1 });
  assert.throws(() => w.write({ tsSec: 2 ** 32, tsNsec: 0, data: payload(1) }), RangeError);
  assert.throws(() => w.write({ tsSec: 0, tsNsec: 1e9, data: payload(1) }), RangeError);
  assert.throws(() => w.write({ tsSec: 0, tsNsec: 0, data: payload(1), linkType: 101 }), RangeError);
  const ng = new PcapngWriter({ interfaces: [{ linkType: 1 }] });
  assert.throws(() => ng.write({ tsSec: 0, tsNsec: 0, data: payload(1), ifIndex: 1 }), RangeError, 'undeclared interface without a link type');
  assert.throws(() => new PcapWriter({ linkType: 1, snaplen: 0 }), RangeError);
});

const recordArb = (maxIf: number) => fc.record({
  tsSec: fc.integer({ min: 0, max: 0xffffffff }),
  tsNsec: fc.integer({ min: 0, max: 999_999_999 }),
  data: fc.uint8Array({ maxLength: 200 }),
  extra: fc.nat({ max: 3000 }),
  ifIndex: fc.integer({ min: 0, max: maxIf }),
});

test('round trip: random records → PcapWriter (µs and ns, both byte orders) → reader gives them back', () => {
  fc.assert(fc.property(fc.array(recordArb(0), { maxLength: 30 }), fc.boolean(), fc.boolean(), fc.constantFrom(1, 101, 113, 228, 229, 276), (recs, nano, le, linkType) => {
    const w = new PcapWriter({ linkType, nanosecond: nano, littleEndian: le });
    for (const r of recs) w.write({ tsSec: r.tsSec, tsNsec: r.tsNsec, data: r.data, origLen: r.data.length + r.extra });
    assert.deepEqual(readCaptureSync(w.bytes()).map(strip), recs.map((r) => ({
      linkType, tsSec: r.tsSec, tsNsec: nano ? r.tsNsec : r.tsNsec - (r.tsNsec % 1000), origLen: r.data.length + r.extra, data: Array.from(r.data), ifIndex: 0,
    })));
  }), { numRuns: 300 });
});

test('round trip: random records on several interfaces of different tsresol → PcapngWriter → reader', () => {
  const resols = [9, 6, 3];
  const links = [LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL];
  fc.assert(fc.property(fc.array(recordArb(2), { maxLength: 30 }), fc.boolean(), (recs, le) => {
    const w = new PcapngWriter({ littleEndian: le, interfaces: links.map((linkType, i) => ({ linkType, tsresol: resols[i]!, name: `if${i}` })) });
    for (const r of recs) w.write({ tsSec: r.tsSec, tsNsec: r.tsNsec, data: r.data, origLen: r.data.length + r.extra, ifIndex: r.ifIndex });
    assert.deepEqual(readCaptureSync(w.bytes()).map(strip), recs.map((r) => {
      const unit = 10 ** (9 - resols[r.ifIndex]!);
      return { linkType: links[r.ifIndex]!, tsSec: r.tsSec, tsNsec: r.tsNsec - (r.tsNsec % unit), origLen: r.data.length + r.extra, data: Array.from(r.data), ifIndex: r.ifIndex };
    }));
  }), { numRuns: 300 });
});

test('writers hand chunks to a callback sink; a multi-megabyte capture reassembles exactly', () => {
  const chunks: Uint8Array[] = [];
  const w = new PcapngWriter({ linkType: LINKTYPE_ETHERNET }, (c) => chunks.push(c));
  const n = 3000;
  for (let i = 0; i < n; i++) w.write({ tsSec: i, tsNsec: i, data: payload(1000, i) });
  w.close();
  assert.ok(chunks.length >= 3, 'the capture left the writer in several chunks');
  const records = readCaptureSync(concat(...chunks));
  assert.equal(records.length, n);
  assert.deepEqual(Array.from(records[n - 1]!.data), Array.from(payload(1000, n - 1)));
});

test('writers write to a Node stream (fs.createWriteStream)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfx-pcap-'));
  try {
    const file = join(dir, 'stream.pcap');
    const stream = createWriteStream(file);
    const w = new PcapWriter({ linkType: LINKTYPE_IPV4, nanosecond: true }, stream);
    for (let i = 0; i < 2000; i++) w.write({ tsSec: i, tsNsec: i, data: payload(700, i) });
    w.close();
    await new Promise<void>((resolve, reject) => stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
    const records = readCaptureSync(readFileSync(file));
    assert.equal(records.length, 2000);
    assert.deepEqual([records[1999]!.tsSec, records[1999]!.tsNsec, records[1999]!.linkType], [1999, 1999, LINKTYPE_IPV4]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writePcapFile replaces the file atomically and leaves nothing behind on failure', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfx-pcap-'));
  try {
    const file = join(dir, 'out.pcapng');
    const recs: WritableRecord[] = [{ tsSec: 1, tsNsec: 2, data: payload(30), linkType: LINKTYPE_RAW }];
    assert.equal(await writePcapFile(file, recs, { format: 'pcapng' }), 1);
    const first = readFileSync(file);
    assert.equal(readCaptureSync(first)[0]!.linkType, LINKTYPE_RAW);
    async function* failing(): AsyncGenerator<WritableRecord> {
      yield { tsSec: 1, tsNsec: 0, data: payload(10) };
      throw new Error('source failed');
    }
    await assert.rejects(writePcapFile(file, failing()), /source failed/);
    assert.deepEqual(readFileSync(file), first, 'the old file is untouched');
    assert.deepEqual(readdirSync(dir), ['out.pcapng'], 'no temporary file left');
    await writePcapFile(join(dir, 'empty.pcap'), []);
    assert.deepEqual(readCaptureSync(readFileSync(join(dir, 'empty.pcap'))), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('data/demo.pcap is exactly what bench/make-demo-capture.ts generates (regenerate it when the generator changes)', async () => {
  const { demoRecords } = await import('../bench/make-demo-capture.js');
  const w = new PcapWriter({ linkType: LINKTYPE_ETHERNET });
  for (const r of demoRecords()) w.write(r);
  const shipped = readFileSync(new URL('../../data/demo.pcap', import.meta.url));
  assert.deepEqual(new Uint8Array(shipped), w.bytes());
  assert.equal(readCaptureSync(shipped).length, 22);
});
