/**
 * ESP throughput: encapsulation and decapsulation of tunnel-mode IPv4 packets
 * with AES-GCM-128 and ChaCha20-Poly1305 at 64, 512 and 1400 bytes, in
 * packets per second, beside what this machine can do:
 *  - `openssl speed -evp <cipher> -bytes N -seconds 1`: the per-operation
 *    ceiling with AES-NI and no per-call overhead (the denominator of the
 *    ratio printed);
 *  - node's bare per-packet cost: one createCipheriv + setAAD + update +
 *    final + getAuthTag, the floor under any ESP built on node:crypto one
 *    packet at a time.
 * nfx is measured one packet at a time (espOutput/espInput) and, for GCM, in
 * batches of 64 (espOutputBatch/espInputBatch: one OpenSSL call per batch
 * for the AES work, GHASH in JS).
 *
 * Run with the others (`npm run bench`, once run.ts lists it) or alone:
 * `node dist/bench/esp.js`.
 */
import { spawnSync } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Harness } from './harness.js';
import type { Figure } from './harness.js';
import { Packet } from '../src/packet/packet.js';
import { createEspSa, espInput, espInputBatch, espOutput, espOutputBatch } from '../src/xfrm/esp/index.js';
import type { EspSaConfig } from '../src/xfrm/esp/index.js';

const SIZES = [64, 512, 1400];
const BATCH = 64;
const SECONDS = 0.6;

/** Runs `step` (which does `per` packets) until SECONDS have passed; returns [packets, seconds]. */
function loop(per: number, step: () => void): [number, number] {
  for (let i = 0; i < 20; i++) step(); // warm up the JIT
  let n = 0;
  const t0 = process.hrtime.bigint();
  let s = 0;
  do {
    for (let i = 0; i < 16; i++) step();
    n += 16 * per;
    s = Number(process.hrtime.bigint() - t0) / 1e9;
  } while (s < SECONDS);
  return [n, s];
}

/** An IPv4/UDP packet of `size` bytes in all. */
function inner(size: number): Uint8Array {
  const p = new Uint8Array(size);
  p.set([0x45, 0, size >> 8, size & 255, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 1, 0, 1, 10, 2, 0, 1, 0x9c, 0x40, 0x9c, 0x41, (size - 20) >> 8, (size - 20) & 255, 0, 0]);
  return p;
}

function openssl(h: Harness, cipher: string, size: number): Figure | null {
  const r = spawnSync('openssl', ['speed', '-evp', cipher, '-bytes', String(size), '-seconds', '1'], { encoding: 'utf8' });
  // The last line: "<name>  <N>k", thousands of bytes per second for blocks of `size` bytes.
  const m = /\s([\d.]+)k\s*$/.exec((r.stdout ?? '').trim());
  if (r.status !== 0 || !m) return null;
  return h.record(`openssl ${cipher} ${size}B`, (Number(m[1]) * 1000) / size, 'op', 1);
}

function nodeBare(h: Harness, cipher: 'aes-128-gcm' | 'chacha20-poly1305', size: number): Figure {
  const key = new Uint8Array(cipher === 'aes-128-gcm' ? 16 : 32).fill(7);
  const iv = new Uint8Array(12).fill(1);
  const aad = new Uint8Array(8);
  const data = new Uint8Array(size);
  const [n, s] = loop(1, () => {
    const c = createCipheriv(cipher as 'aes-128-gcm', key, iv, { authTagLength: 16 });
    c.setAAD(aad);
    c.update(data);
    c.final();
    c.getAuthTag();
  });
  return h.record(`node createCipheriv per packet ${size}B`, n, 'op', s);
}

function saConfig(aead: 'gcm' | 'chacha'): EspSaConfig {
  return {
    spi: 0x100, mode: 'tunnel', saddr: '192.0.2.1', daddr: '192.0.2.2',
    aead: aead === 'gcm'
      ? { name: 'rfc4106(gcm(aes))', key: new Uint8Array(20).fill(9), icvBits: 128 }
      : { name: 'rfc7539esp(chacha20,poly1305)', key: new Uint8Array(36).fill(9), icvBits: 128 },
  };
}

/** Resets a packet to `bytes` in place (the cost of a receive ring handing over a frame). */
function reset(p: Packet, bytes: Uint8Array, headroom: number): void {
  p.buffer.set(bytes, headroom);
  p.head = headroom;
  p.tail = headroom + bytes.length;
}

function nfx(h: Harness, aead: 'gcm' | 'chacha', size: number): { enc: Figure; dec: Figure } {
  const cfg = saConfig(aead);
  const tx = createEspSa(cfg);
  const rx = createEspSa(cfg); // window 0: the same packets can be fed again
  const src = inner(size);
  const pkts = Array.from({ length: BATCH }, () => Packet.from(src));
  const [n1, s1] = loop(BATCH, () => {
    for (const p of pkts) {
      reset(p, src, 128);
      espOutput(tx, p);
    }
  });
  const wire = pkts.map((p) => p.data.slice());
  let enc = h.record(`nfx espOutput ${size}B`, n1, 'pkt', s1);
  const [n2, s2] = loop(BATCH, () => {
    pkts.forEach((p, i) => reset(p, wire[i]!, 128));
    for (const p of pkts) espInput(rx, p);
  });
  let dec = h.record(`nfx espInput ${size}B`, n2, 'pkt', s2);
  if (aead === 'gcm') {
    const [n3, s3] = loop(BATCH, () => {
      for (const p of pkts) reset(p, src, 128);
      espOutputBatch(tx, pkts);
    });
    const be = h.record(`nfx espOutputBatch(${BATCH}) ${size}B`, n3, 'pkt', s3);
    const [n4, s4] = loop(BATCH, () => {
      pkts.forEach((p, i) => reset(p, wire[i]!, 128));
      espInputBatch(rx, pkts);
    });
    const bd = h.record(`nfx espInputBatch(${BATCH}) ${size}B`, n4, 'pkt', s4);
    if (be.perSecond > enc.perSecond) enc = be;
    if (bd.perSecond > dec.perSecond) dec = bd;
  }
  return { enc, dec };
}

export async function bench(h: Harness): Promise<void> {
  const hasOpenssl = h.has('openssl') || spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
  for (const [aead, cipher] of [['gcm', 'aes-128-gcm'], ['chacha', 'chacha20-poly1305']] as const) {
    h.note(`-- ${aead === 'gcm' ? 'rfc4106(gcm(aes)) 128-bit' : 'rfc7539esp(chacha20,poly1305)'}, tunnel IPv4 --`);
    for (const size of SIZES) {
      const base = hasOpenssl ? openssl(h, cipher, size) : null;
      const bare = nodeBare(h, cipher, size);
      const { enc, dec } = nfx(h, aead, size);
      h.ratio(enc, bare);
      if (base) {
        h.ratio(enc, base);
        h.ratio(dec, base);
      } else {
        h.note('openssl not installed: no ceiling to compare with');
      }
    }
  }
  h.note('ratios above 1 vs openssl are impossible here; the goal is >= 0.5 at 1400B (see the report for what limits node)');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const h = new Harness('esp');
  console.log('== esp ==');
  await bench(h);
  await h.cleanup();
}
