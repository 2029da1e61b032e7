/**
 * The FFI backend's fast paths give the bytes of the plain ones:
 *  - the call list (call-list.ts): many C calls per koffi crossing, run by
 *    a few bytes of machine code, with per-entry results and skips;
 *  - the openssl-ffi batch engine (EspCrypto.batch()): a batch of packets
 *    sealed or opened in one crossing, byte for byte as node:crypto and as
 *    the same backend one packet at a time; refused packets in a batch are
 *    left as they came and do not disturb their neighbours;
 *  - SAs built without the call list (ffiUseCallList(false): one crossing
 *    per provider call) agree with those built with it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import type * as Koffi from 'koffi';
import { Packet } from '../src/packet/packet.js';
import { createEspCrypto } from '../src/xfrm/esp/algorithms.js';
import type { EspCrypto } from '../src/xfrm/esp/algorithms.js';
import { CALL_ENTRY, CallList, loadCallList } from '../src/xfrm/esp/call-list.js';
import { FFI_BATCH_SLOTS, ffiCallListAvailable, ffiUnavailableReason, ffiUseCallList } from '../src/xfrm/esp/crypto-ffi.js';
import { createEspSa, espInput, espInputBatch, espOutput, espOutputBatch } from '../src/xfrm/esp/index.js';
import type { EspSaConfig } from '../src/xfrm/esp/index.js';

const why = ffiUnavailableReason();
const listed = why === null && ffiCallListAvailable();
const skipList = listed ? false : why ?? 'the call list runs on Linux x86-64 only';

const AEADS = [
  { name: 'rfc4106(gcm(aes))', keyLen: 16, icvBits: 128 },
  { name: 'rfc4106(gcm(aes))', keyLen: 32, icvBits: 64 },
  { name: 'rfc4106(gcm(aes))', keyLen: 24, icvBits: 96 },
  { name: 'rfc7539esp(chacha20,poly1305)', keyLen: 32, icvBits: 128 },
];

function crypto(a: (typeof AEADS)[number], key: Uint8Array, backend: 'openssl-ffi' | 'node', callList = true): EspCrypto {
  ffiUseCallList(callList);
  try {
    return createEspCrypto({ aead: { name: a.name, key: key.subarray(0, a.keyLen + 4), icvBits: a.icvBits }, cryptoBackend: backend });
  } finally {
    ffiUseCallList(true);
  }
}

/** A packet buffer: `lead` bytes, SPI ‖ seq ‖ IV ‖ payload, room for the ICV, `trail` bytes. */
function layout(lead: number, header: Uint8Array, payload: Uint8Array, icv: number, trail = 0): Uint8Array {
  const b = new Uint8Array(lead + 16 + payload.length + icv + trail).fill(0x5a);
  b.set(header, lead);
  b.set(payload, lead + 16);
  return b;
}

test('call list: entries run in order with their arguments, results are recorded, a failure skips the rest of its group', { skip: skipList }, () => {
  const koffi = createRequire(import.meta.url)('koffi') as typeof Koffi;
  const libc = koffi.load('libc.so.6');
  const run = loadCallList(koffi, libc);
  assert.ok(run);
  const dlsym = libc.func('uintptr_t dlsym(uintptr_t handle, const char *name)');
  const addrOf = libc.func('uintptr_t memmove(void *d, void *s, size_t n)');
  // RTLD_DEFAULT is 0: libc's own functions as plain addresses.
  const memcmp = dlsym(0, 'memcmp') as number;
  const abs = dlsym(0, 'abs') as number;
  assert.ok(memcmp > 0 && abs > 0);
  const bytes = new Uint8Array(Buffer.allocUnsafeSlow(8 * CALL_ENTRY).buffer).fill(0);
  const l = new CallList(bytes, addrOf(bytes, bytes, 0) as number);
  assert.equal(l.capacity, 8);
  const data = Buffer.allocUnsafeSlow(16).fill(7);
  const d = addrOf(data, data, 0) as number;
  // Group 1: abs(-1) = 1, then memcmp(equal) = 0 fails and skips 1 entry, the skipped abs(1), then abs(-1) again.
  l.set(0, abs, 0, 0xffffffff, 0, 0, 0, 0, 0);
  l.set(1, memcmp, 1, d, d, 16, 0, 0, 0);
  l.set(2, abs, 0, 1, 0, 0, 0, 0, 0);
  l.set(3, abs, 0, 1, 0, 0, 0, 0, 0);
  // abs() reads its int from the low half of the register: 0xffffffff is -1.
  assert.equal(run(l.address, 4), 2, 'two calls returned 1');
  assert.equal(l.result(0), 1);
  assert.equal(l.result(1), 0);
  assert.equal(l.result(2), 0, 'skipped: its result stays cleared');
  assert.equal(l.result(3), 1);
  // A skip past the end stops the run; n = 0 runs nothing.
  l.clearResults(0, 4);
  l.set(0, memcmp, 100, d, d, 16, 0, 0, 0);
  assert.equal(run(l.address, 4), 0);
  assert.equal(l.result(3), 0);
  assert.equal(run(l.address, 0), 0);
  // Six arguments arrive intact: memcmp of two different buffers returns their difference, not 1.
  const other = Buffer.allocUnsafeSlow(16).fill(9);
  l.set(0, memcmp, 0, d, addrOf(other, other, 0) as number, 16, 0, 0, 0);
  run(l.address, 1);
  assert.ok(l.result(0) < 0);
});

const batchArb = fc.record({
  aead: fc.constantFrom(...AEADS),
  key: fc.uint8Array({ minLength: 36, maxLength: 36 }),
  seqHi: fc.oneof(fc.constant(-1), fc.nat(0xffffffff)),
  jobs: fc.array(fc.record({ lead: fc.nat(24), header: fc.uint8Array({ minLength: 16, maxLength: 16 }), payload: fc.uint8Array({ maxLength: 300 }), tamper: fc.option(fc.nat(), { nil: undefined }) }), { minLength: 1, maxLength: 150 }),
});

test('openssl-ffi batch: seal is byte-identical to node:crypto and to one packet at a time, past FFI_BATCH_SLOTS too', { skip: skipList }, () => {
  fc.assert(
    fc.property(batchArb, (p) => {
      const ffi = crypto(p.aead, p.key, 'openssl-ffi');
      const node = crypto(p.aead, p.key, 'node');
      const engine = ffi.batch();
      assert.ok(engine);
      assert.equal(engine.maxLen, Infinity);
      const icv = p.aead.icvBits / 8;
      const bufs = p.jobs.map((j) => layout(j.lead, j.header, j.payload, icv, 3));
      const want = p.jobs.map((j) => {
        const b = layout(j.lead, j.header, j.payload, icv, 3);
        node.seal(b, j.lead, j.payload.length, p.seqHi);
        return b;
      });
      engine.seal(p.jobs.map((j, i) => ({ buf: bufs[i]!, esp: j.lead, clen: j.payload.length, seqHi: p.seqHi })));
      assert.deepEqual(bufs, want);
      // And one at a time on the same SA, after the batch.
      const one = layout(p.jobs[0]!.lead, p.jobs[0]!.header, p.jobs[0]!.payload, icv, 3);
      ffi.seal(one, p.jobs[0]!.lead, p.jobs[0]!.payload.length, p.seqHi);
      assert.deepEqual(one, want[0]);
    }),
    { numRuns: 60 },
  );
  assert.ok(FFI_BATCH_SLOTS < 150, 'the arbitrary batches exceed one crossing');
});

test('openssl-ffi batch: open verifies each packet; a tampered one is refused and left as it came, its neighbours open', { skip: skipList }, () => {
  fc.assert(
    fc.property(batchArb, (p) => {
      const ffi = crypto(p.aead, p.key, 'openssl-ffi');
      const node = crypto(p.aead, p.key, 'node');
      const icv = p.aead.icvBits / 8;
      const sealed = p.jobs.map((j) => {
        const b = layout(j.lead, j.header, j.payload, icv);
        node.seal(b, j.lead, j.payload.length, p.seqHi);
        if (j.tamper !== undefined) b[j.lead + (j.tamper % (16 + j.payload.length + icv))]! ^= 0x10;
        return b;
      });
      const bufs = sealed.map((b) => b.slice());
      const ok = ffi.batch()!.open(p.jobs.map((j, i) => ({ buf: bufs[i]!, esp: j.lead, clen: j.payload.length, seqHi: p.seqHi })));
      p.jobs.forEach((j, i) => {
        assert.equal(ok[i], j.tamper === undefined);
        if (j.tamper === undefined) assert.deepEqual(bufs[i]!.subarray(j.lead + 16, j.lead + 16 + j.payload.length), j.payload);
        else assert.deepEqual(bufs[i], sealed[i], 'a refused packet was changed');
      });
    }),
    { numRuns: 60 },
  );
});

test('openssl-ffi batch: a job outside its buffer throws on seal and is refused on open, the others still open', { skip: skipList }, () => {
  const a = AEADS[0]!;
  const key = new Uint8Array(36).fill(3);
  const ffi = crypto(a, key, 'openssl-ffi');
  const good = layout(0, new Uint8Array(16).fill(1), new Uint8Array(40).fill(2), 16);
  ffi.seal(good, 0, 40, -1);
  const copy = good.slice();
  assert.throws(() => ffi.batch()!.seal([{ buf: new Uint8Array(50), esp: 0, clen: 40, seqHi: -1 }]), RangeError);
  const ok = ffi.batch()!.open([
    { buf: new Uint8Array(50), esp: 0, clen: 40, seqHi: -1 },
    { buf: copy, esp: 0, clen: 40, seqHi: -1 },
    { buf: new Uint8Array(80), esp: -4, clen: 40, seqHi: -1 },
  ]);
  assert.deepEqual(ok, [false, true, false]);
  assert.deepEqual(copy.subarray(16, 56), new Uint8Array(40).fill(2));
});

test('a crossing per call (no call list) and the call list give the same bytes, and the batch engine is the call list\'s', { skip: skipList }, () => {
  fc.assert(
    fc.property(fc.constantFrom(...AEADS), fc.uint8Array({ minLength: 36, maxLength: 36 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ maxLength: 600 }), fc.oneof(fc.constant(-1), fc.nat(0xffffffff)), (a, key, header, payload, seqHi) => {
      const plain = crypto(a, key, 'openssl-ffi', false);
      const fast = crypto(a, key, 'openssl-ffi', true);
      assert.equal(plain.batch(), null, 'without the call list there is no batch engine');
      const icv = a.icvBits / 8;
      const x = layout(5, header, payload, icv);
      const y = layout(5, header, payload, icv);
      plain.seal(x, 5, payload.length, seqHi);
      fast.seal(y, 5, payload.length, seqHi);
      assert.deepEqual(x, y);
      assert.equal(plain.open(y, 5, payload.length, seqHi), 0);
      const bad = x.slice();
      bad[bad.length - 1]! ^= 1;
      const before = bad.slice();
      assert.equal(plain.open(bad, 5, payload.length, seqHi), 1);
      assert.deepEqual(bad, before);
      assert.equal(fast.open(x, 5, payload.length, seqHi), 0);
      assert.deepEqual(x.subarray(21, 21 + payload.length), payload);
    }),
    { numRuns: 150 },
  );
});

test('espOutputBatch/espInputBatch on openssl-ffi: the packets of espOutput, ESN and UDP encapsulation included', { skip: skipList }, () => {
  const configs: EspSaConfig[] = [
    { spi: 0x42, mode: 'tunnel', saddr: '192.0.2.1', daddr: '192.0.2.2', replayWindow: 128, aead: { name: 'rfc4106(gcm(aes))', key: new Uint8Array(20).fill(4), icvBits: 128 } },
    { spi: 0x43, mode: 'tunnel', saddr: '2001:db8::1', daddr: '2001:db8::2', replayWindow: 128, flags: ['esn'], replayOseq: 0xfffffff0, replaySeq: 0xfffffff0,
      encap: { sport: 4500, dport: 4500 }, aead: { name: 'rfc7539esp(chacha20,poly1305)', key: new Uint8Array(36).fill(5), icvBits: 128 } },
  ];
  for (const cfg of configs) {
    const [tx1, tx2, rx1, rx2] = [0, 1, 2, 3].map(() => createEspSa(cfg));
    assert.ok(tx1!.crypto.batch(), 'the FFI SA has a batch engine');
    const inner = Array.from({ length: 90 }, (_, i) => {
      const v6 = cfg.saddr.includes(':');
      const n = 60 + i * 13;
      const b = new Uint8Array(n).map((_, k) => (k * 7 + i) & 0xff);
      if (v6) b.set([0x60, 0, 0, 0, (n - 40) >> 8, (n - 40) & 0xff, 17, 64]);
      else b.set([0x45, 0, n >> 8, n & 0xff, 0, 1, 0, 0, 64, 17, 0, 0]);
      return b;
    });
    const one = inner.map((b) => {
      const p = Packet.from(b);
      assert.ok(espOutput(tx1!, p).ok);
      return p;
    });
    const many = inner.map((b) => Packet.from(b));
    assert.ok(espOutputBatch(tx2!, many).every((r) => r.ok));
    assert.deepEqual(many.map((p) => p.data), one.map((p) => p.data));
    // Decapsulate: one by one and batched, with a tampered packet and a replay in the batch.
    const wire = one.map((p) => p.data.slice());
    const batch = wire.map((w) => Packet.from(w));
    batch[7]!.buffer[batch[7]!.tail - 1]! ^= 1;
    batch.push(Packet.from(wire[3]!));
    const res = espInputBatch(rx2!, batch);
    res.forEach((r, i) => {
      if (i === 7) assert.ok(!r.ok && r.counter === 'XfrmInStateProtoError');
      else if (i === wire.length) assert.ok(!r.ok && r.counter === 'XfrmInStateSeqError', 'a duplicate in the batch is a replay');
      else assert.ok(r.ok, `packet ${i}`);
    });
    wire.forEach((w, i) => {
      const p = Packet.from(w);
      assert.ok(espInput(rx1!, p).ok);
      if (i !== 7) assert.deepEqual(batch[i]!.data, p.data);
    });
  }
});

test('NFX_FFI_LIBCRYPTO picks the OpenSSL: node\'s own and the system\'s libcrypto.so.3 both pass the self-test and agree with node:crypto', { skip: why === null ? false : why }, (t) => {
  const url = new URL('../src/xfrm/esp/crypto-ffi.js', import.meta.url).href;
  const algs = new URL('../src/xfrm/esp/algorithms.js', import.meta.url).href;
  // A child per choice: the library is loaded once per process.
  const script = `
    const f = await import(${JSON.stringify(url)});
    const a = await import(${JSON.stringify(algs)});
    const key = new Uint8Array(36).map((_, i) => i);
    const out = [];
    for (const backend of ['openssl-ffi', 'node']) {
      const c = a.createEspCrypto({ aead: { name: 'rfc7539esp(chacha20,poly1305)', key, icvBits: 128 }, cryptoBackend: backend });
      const b = new Uint8Array(16 + 100 + 16).map((_, i) => i * 3);
      c.seal(b, 0, 100, 7);
      out.push(Buffer.from(b).toString('hex'));
    }
    console.log(JSON.stringify({ why: f.ffiUnavailableReason(), source: f.ffiOpenSsl(), same: out[0] === out[1] }));`;
  for (const pick of ['node', 'system']) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NFX_FFI_LIBCRYPTO: pick } });
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout.trim()) as { why: string | null; source: string | null; same: boolean };
    if (pick === 'system' && got.why !== null && got.why.startsWith('no OpenSSL 3 found')) {
      t.diagnostic('no system libcrypto.so.3 here');
      continue;
    }
    assert.equal(got.why, null);
    assert.match(got.source!, pick === 'node' ? /node's own/ : /libcrypto\.so\.3/);
    assert.ok(got.same, `${pick}: FFI and node:crypto differ`);
  }
});
