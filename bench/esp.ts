/**
 * ESP throughput: encapsulation and decapsulation of tunnel-mode IPv4 packets
 * with AES-GCM-128 and ChaCha20-Poly1305 at 64, 512 and 1400 bytes, in
 * packets per second, beside what this machine can do:
 *  - `openssl speed -evp <cipher> -bytes N`: the per-operation ceiling with
 *    no per-call overhead (the denominator of the ratio printed), and
 *    `-aead`, which also pays a nonce, AAD and tag per operation as ESP must;
 *  - where a C compiler is installed, the same per-packet sequence in C on
 *    a reused EVP context (PER_PACKET_C): what OpenSSL itself does per
 *    packet, which for ChaCha20-Poly1305 is far below `openssl speed`'s
 *    streaming figure;
 *  - node's bare per-packet cost: one createCipheriv + setAAD + update +
 *    final + getAuthTag, the floor under any ESP built on node:crypto one
 *    packet at a time.
 * nfx runs on each crypto backend (algorithms.ts): `openssl-ffi` (one
 * reused OpenSSL context per SA through koffi; the provider calls of a
 * packet, or of a batch of 64, in one crossing through the call list of
 * call-list.ts), the same without the call list (one crossing per provider
 * call, five per packet), and `node` (node:crypto). Each figure is the best
 * of TRIALS short runs timed in CPU seconds, as `openssl speed` times its
 * user CPU; openssl itself is run twice and the better run kept.
 *
 * Last: several cores. Linux scales ESP by giving each CPU its own SA
 * (`pcpu-num`, RFC 9611); nfx does the same with one worker thread per
 * core, each with its own SA, beside `openssl speed -multi N`. `-multi`
 * children time themselves in wall-clock seconds, so these figures are
 * wall-clock too (a busy machine lowers both alike).
 *
 * `npm run bench` runs it with the others, `node dist/bench/run.js esp` alone.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCipheriv } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Harness, fmt } from './harness.js';
import type { Figure } from './harness.js';
import { Packet } from '../src/packet/packet.js';
import { createEspSa, espInput, espInputBatch, espOutput, espOutputBatch } from '../src/xfrm/esp/index.js';
import type { EspSa, EspSaConfig } from '../src/xfrm/esp/index.js';
import type { EspCryptoBackend } from '../src/xfrm/esp/algorithms.js';
import { ffiCallListAvailable, ffiOpenSsl, ffiUnavailableReason, ffiUseCallList } from '../src/xfrm/esp/crypto-ffi.js';

const SIZES = [64, 512, 1400];
const BATCH = 64;
const TRIALS = 3;
const TRIAL_SECONDS = 0.15;
/** Wall seconds each worker runs in the multi-core figure. */
const MULTI_SECONDS = 1;

type Aead = 'gcm' | 'chacha';
const CIPHER: Record<Aead, 'aes-128-gcm' | 'chacha20-poly1305'> = { gcm: 'aes-128-gcm', chacha: 'chacha20-poly1305' };

/**
 * Runs `step` (which does `per` packets) in TRIALS trials of TRIAL_SECONDS
 * CPU seconds each; returns [packets, CPU seconds] of the fastest. CPU
 * time, as `openssl speed` (user CPU, unless -elapsed): on a shared machine
 * wall time would charge us for other processes' turns. Ours is user +
 * system of the whole process (GC threads included), which only errs
 * against nfx.
 */
function loop(per: number, step: () => void): [number, number] {
  for (let i = 0; i < 20; i++) step(); // warm up the JIT
  let best: [number, number] = [0, 1];
  for (let t = 0; t < TRIALS; t++) {
    let n = 0;
    const c0 = process.cpuUsage();
    let s = 0;
    do {
      for (let i = 0; i < 16; i++) step();
      n += 16 * per;
      const c = process.cpuUsage(c0);
      s = (c.user + c.system) / 1e6;
    } while (s < TRIAL_SECONDS);
    if (n / s > best[0] / best[1]) best = [n, s];
  }
  return best;
}

/** An IPv4/UDP packet of `size` bytes in all. */
function inner(size: number): Uint8Array {
  const p = new Uint8Array(size);
  p.set([0x45, 0, size >> 8, size & 255, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 1, 0, 1, 10, 2, 0, 1, 0x9c, 0x40, 0x9c, 0x41, (size - 20) >> 8, (size - 20) & 255, 0, 0]);
  return p;
}

/**
 * `openssl speed [-multi N] [-aead] -evp CIPHER -bytes SIZE -seconds 1`, the
 * better of `runs` runs, in operations per second (all children together
 * with -multi). For GCM and ChaCha20-Poly1305, OpenSSL 3.0's plain -evp
 * times EVP_EncryptUpdate alone; -aead adds nonce, AAD, final and tag per
 * operation.
 */
function opensslRate(cipher: string, size: number, opts: { aead?: boolean; multi?: number; runs?: number } = {}): number | null {
  let best = 0;
  for (let r = 0; r < (opts.runs ?? 1); r++) {
    const args = ['speed', ...(opts.multi ? ['-multi', String(opts.multi)] : []), ...(opts.aead ? ['-aead'] : []), '-evp', cipher, '-bytes', String(size), '-seconds', '1'];
    const out = spawnSync('openssl', args, { encoding: 'utf8' });
    // The last line: "<name>  <N>k", thousands of bytes per second for blocks of `size` bytes.
    const m = /\s([\d.]+)k\s*$/.exec((out.stdout ?? '').trim());
    if (out.status !== 0 || !m) return null;
    best = Math.max(best, (Number(m[1]) * 1000) / size);
  }
  return best;
}

function openssl(h: Harness, cipher: string, size: number, aead: boolean): Figure | null {
  const rate = opensslRate(cipher, size, { aead, runs: aead ? 1 : 2 });
  return rate === null ? null : h.record(`openssl speed ${aead ? '-aead ' : ''}-evp ${cipher} ${size}B`, rate, 'op', 1);
}

function nodeBare(h: Harness, cipher: string, size: number): Figure {
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

function saConfig(aead: Aead): EspSaConfig {
  return {
    spi: 0x100, mode: 'tunnel', saddr: '192.0.2.1', daddr: '192.0.2.2',
    aead: aead === 'gcm'
      ? { name: 'rfc4106(gcm(aes))', key: new Uint8Array(20).fill(9), icvBits: 128 }
      : { name: 'rfc7539esp(chacha20,poly1305)', key: new Uint8Array(36).fill(9), icvBits: 128 },
  };
}

/** An SA on `backend`; `crossings` = 'per-call' builds it without the call list. */
function saOn(backend: EspCryptoBackend, aead: Aead, crossings: 'list' | 'per-call' = 'list'): EspSa {
  ffiUseCallList(crossings === 'list');
  try {
    return createEspSa({ ...saConfig(aead), cryptoBackend: backend });
  } finally {
    ffiUseCallList(true);
  }
}

/** Resets a packet to `bytes` in place: a receive ring handing over a fresh frame (no secpath yet). */
function reset(p: Packet, bytes: Uint8Array, headroom: number): void {
  p.buffer.set(bytes, headroom);
  p.head = headroom;
  p.tail = headroom + bytes.length;
  p.meta.secpath = null;
}

interface Rates {
  enc: Figure;
  dec: Figure;
  encBatch: Figure | null;
  decBatch: Figure | null;
}

/** espOutput/espInput one packet at a time, and in batches of BATCH where the SA has a batch engine. */
function nfx(h: Harness, label: string, tx: EspSa, rx: EspSa, size: number): Rates {
  const src = inner(size);
  const pkts = Array.from({ length: BATCH }, () => Packet.from(src));
  const [n1, s1] = loop(BATCH, () => {
    for (const p of pkts) {
      reset(p, src, 128);
      espOutput(tx, p);
    }
  });
  const wire = pkts.map((p) => p.data.slice());
  const enc = h.record(`nfx ${label} espOutput ${size}B`, n1, 'pkt', s1);
  const [n2, s2] = loop(BATCH, () => {
    for (let i = 0; i < BATCH; i++) {
      reset(pkts[i]!, wire[i]!, 128);
      espInput(rx, pkts[i]!);
    }
  });
  const dec = h.record(`nfx ${label} espInput ${size}B`, n2, 'pkt', s2);
  // Every packet must have decrypted, or the figure measures drops.
  pkts.forEach((p, i) => reset(p, wire[i]!, 128));
  if (!pkts.every((p) => espInput(rx, p).ok)) throw new Error(`${label}: decapsulation failed in the bench`);
  if (!tx.crypto.batch()) return { enc, dec, encBatch: null, decBatch: null };
  const [n3, s3] = loop(BATCH, () => {
    for (const p of pkts) reset(p, src, 128);
    espOutputBatch(tx, pkts);
  });
  const encBatch = h.record(`nfx ${label} espOutputBatch(${BATCH}) ${size}B`, n3, 'pkt', s3);
  const [n4, s4] = loop(BATCH, () => {
    for (let i = 0; i < BATCH; i++) reset(pkts[i]!, wire[i]!, 128);
    espInputBatch(rx, pkts);
  });
  const decBatch = h.record(`nfx ${label} espInputBatch(${BATCH}) ${size}B`, n4, 'pkt', s4);
  pkts.forEach((p, i) => reset(p, wire[i]!, 128));
  if (!espInputBatch(rx, pkts).every((r) => r.ok)) throw new Error(`${label}: batch decapsulation failed in the bench`);
  return { enc, dec, encBatch, decBatch };
}

const best = (a: Figure, b: Figure | null): Figure => (b && b.perSecond > a.perSecond ? b : a);

/** The worker side of the multi-core figure: its own SAs, batches for MULTI_SECONDS wall seconds. */
function workerMain(d: { aead: Aead; size: number; dir: 'enc' | 'dec' }): void {
  const tx = createEspSa(saConfig(d.aead));
  const rx = createEspSa(saConfig(d.aead));
  const src = inner(d.size);
  const pkts = Array.from({ length: BATCH }, () => Packet.from(src));
  for (const p of pkts) reset(p, src, 128);
  espOutputBatch(tx, pkts);
  const wire = pkts.map((p) => p.data.slice());
  const step = d.dir === 'enc'
    ? (): void => {
      for (const p of pkts) reset(p, src, 128);
      espOutputBatch(tx, pkts);
    }
    : (): void => {
      for (let i = 0; i < BATCH; i++) reset(pkts[i]!, wire[i]!, 128);
      espInputBatch(rx, pkts);
    };
  for (let i = 0; i < 50; i++) step();
  let n = 0;
  const t0 = process.hrtime.bigint();
  let s = 0;
  do {
    for (let i = 0; i < 16; i++) step();
    n += 16 * BATCH;
    s = Number(process.hrtime.bigint() - t0) / 1e9;
  } while (s < MULTI_SECONDS);
  parentPort!.postMessage(n / s);
}

/** `workers` threads at once, each on its own SA; the sum of their wall-clock rates. */
async function multi(aead: Aead, size: number, dir: 'enc' | 'dec', workers: number): Promise<number> {
  const rates = await Promise.all(Array.from({ length: workers }, () => new Promise<number>((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { espBench: true, aead, size, dir } });
    w.once('message', (r: number) => resolve(r));
    w.once('error', reject);
  })));
  return rates.reduce((a, b) => a + b, 0);
}

/**
 * The per-packet ceiling in C, where a C compiler and OpenSSL's headers are
 * installed: the same sequence ESP needs per packet (nonce, 8-byte AAD,
 * payload, final, get tag) on one reused EVP context, in a loop, timed in
 * process CPU seconds. `openssl speed -evp` streams one message through
 * EVP_EncryptUpdate for ChaCha20-Poly1305 and pays none of the per-packet
 * work; this figure does. Not part of nfx (which cannot compile anything
 * at install time): a yardstick only.
 */
const PER_PACKET_C = `
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double cpu(void) { struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(int argc, char **argv) {
  int len = atoi(argv[2]), outl;
  unsigned char key[32] = { 9 }, iv[12] = { 1 }, aad[8] = { 2 }, buf[2048] = { 0 };
  EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, argv[1], NULL);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!c || !ctx || !EVP_EncryptInit_ex(ctx, c, NULL, key, iv)) return 1;
  double best = 0;
  for (int r = 0; r < 3; r++) {
    long n = 0; double t0 = cpu(), t;
    do {
      for (int i = 0; i < 1000; i++) {
        if (!EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv) || !EVP_EncryptUpdate(ctx, NULL, &outl, aad, 8)
            || !EVP_EncryptUpdate(ctx, buf, &outl, buf, len) || !EVP_EncryptFinal_ex(ctx, buf + len, &outl)
            || !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, buf + len)) return 1;
      }
      n += 1000; t = cpu() - t0;
    } while (t < 0.15);
    if (n / t > best) best = n / t;
  }
  printf("%.0f\\n", best);
  return 0;
}
`;

/** Compiles PER_PACKET_C; null where there is no compiler or no OpenSSL headers. */
async function perPacketC(h: Harness): Promise<((cipher: string, size: number) => number | null) | null> {
  const dir = await h.tempDir();
  const bin = join(dir, 'per-packet');
  writeFileSync(join(dir, 'per-packet.c'), PER_PACKET_C);
  const cc = spawnSync('cc', ['-O2', '-o', bin, join(dir, 'per-packet.c'), '-lcrypto'], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) return null;
  return (cipher, size) => {
    const r = spawnSync(bin, [cipher, String(size)], { encoding: 'utf8' });
    const rate = Number(r.stdout);
    return r.status === 0 && rate > 0 ? rate : null;
  };
}

interface Row {
  cipher: string;
  size: number;
  enc: Figure;
  dec: Figure;
  evp: Figure | null;
  aeadOp: Figure | null;
  perPacket: Figure | null;
  bare: Figure;
  perCall: Rates | null;
  list: Rates | null;
  node: Rates;
}

export async function bench(h: Harness): Promise<void> {
  const hasOpenssl = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
  const why = ffiUnavailableReason();
  if (why !== null) h.note(`openssl-ffi backend unavailable (${why}): node:crypto only`);
  else h.note(`openssl-ffi backend on ${ffiOpenSsl()}; call list ${ffiCallListAvailable() ? 'on' : 'unavailable (one crossing per call)'}`);
  const ffi = why === null;
  const cSeq = await perPacketC(h);
  if (!cSeq) h.note('no C compiler or OpenSSL headers: the per-packet C yardstick is skipped');
  const rows: Row[] = [];
  for (const aead of ['gcm', 'chacha'] as const) {
    const cipher = CIPHER[aead];
    h.note(`-- ${aead === 'gcm' ? 'rfc4106(gcm(aes)) 128-bit' : 'rfc7539esp(chacha20,poly1305)'}, tunnel IPv4 --`);
    for (const size of SIZES) {
      const evp = hasOpenssl ? openssl(h, cipher, size, false) : null;
      const aeadOp = hasOpenssl ? openssl(h, cipher, size, true) : null;
      const cRate = cSeq ? cSeq(cipher, size) : null;
      const perPacket = cRate === null ? null : h.record(`C, EVP per-packet sequence ${size}B`, cRate, 'op', 1);
      const bare = nodeBare(h, cipher, size);
      const node = nfx(h, 'node', saOn('node', aead), saOn('node', aead), size);
      let enc = best(node.enc, node.encBatch);
      let dec = best(node.dec, node.decBatch);
      let perCall: Rates | null = null;
      let list: Rates | null = null;
      if (ffi) {
        list = nfx(h, 'openssl-ffi', saOn('openssl-ffi', aead), saOn('openssl-ffi', aead), size);
        if (ffiCallListAvailable()) perCall = nfx(h, 'openssl-ffi, a crossing per call,', saOn('openssl-ffi', aead, 'per-call'), saOn('openssl-ffi', aead, 'per-call'), size);
        enc = best(best(enc, list.enc), list.encBatch);
        dec = best(best(dec, list.dec), list.decBatch);
      }
      rows.push({ cipher, size, enc, dec, evp, aeadOp, perPacket, bare, perCall, list, node });
    }
  }

  h.note('');
  h.note('packets/s (best of nfx one-at-a-time and batched; CPU-time rates) and nfx/openssl:');
  h.note(`${'cipher'.padEnd(18)} ${'size'.padStart(5)} ${'nfx encap'.padStart(11)} ${'nfx decap'.padStart(11)} ${'openssl-evp'.padStart(11)} ${'-aead'.padStart(11)} ${'C per-pkt'.padStart(11)} ${'node bare'.padStart(11)}   enc/evp dec/evp  enc/C-pkt`);
  for (const r of rows) {
    const ratio = (a: Figure, b: Figure | null): string => (b ? (a.perSecond / b.perSecond).toFixed(2) : '  -');
    h.note(`${r.cipher.padEnd(18)} ${`${r.size}B`.padStart(5)} ${fmt(r.enc.perSecond).padStart(11)} ${fmt(r.dec.perSecond).padStart(11)} ${(r.evp ? fmt(r.evp.perSecond) : '-').padStart(11)} ${(r.aeadOp ? fmt(r.aeadOp.perSecond) : '-').padStart(11)} ${(r.perPacket ? fmt(r.perPacket.perSecond) : '-').padStart(11)} ${fmt(r.bare.perSecond).padStart(11)}   ${ratio(r.enc, r.evp).padStart(7)} ${ratio(r.dec, r.evp).padStart(7)}  ${ratio(r.enc, r.perPacket).padStart(9)}`);
  }
  h.note('how the ratio at 1400B came about (encap / decap over openssl -evp):');
  for (const r of rows.filter((x) => x.size === 1400)) {
    const q = (f: Figure | null): string => (r.evp && f ? (f.perSecond / r.evp.perSecond).toFixed(2) : '-');
    h.note(`  ${r.cipher.padEnd(18)} node:crypto ${q(r.node.enc)} / ${q(r.node.dec)}` +
      (r.perCall ? `;  koffi, 5 crossings/pkt ${q(r.perCall.enc)} / ${q(r.perCall.dec)}` : '') +
      (r.list ? `;  call list, 1 crossing/pkt ${q(r.list.enc)} / ${q(r.list.dec)}; 1 per ${BATCH} pkts ${q(r.list.encBatch)} / ${q(r.list.decBatch)}` : ''));
  }

  // Several cores: per-CPU SAs in worker threads, against openssl speed -multi.
  const cores = Math.max(1, Math.min(availableParallelism(), 4));
  if (ffi && hasOpenssl && cores > 1) {
    h.note(`${cores} cores, one SA per worker thread, espOutputBatch/espInputBatch, 1400B, wall-clock rates (best of 2):`);
    for (const aead of ['gcm', 'chacha'] as const) {
      try {
        await multiLine(h, aead, cores);
      } catch (err) {
        h.note(`  ${CIPHER[aead]}: the multi-core figure failed (${err instanceof Error ? err.message : String(err)})`);
      }
    }
  }
  h.note('the goal: nfx/openssl >= 0.5 at 1400B');
}

/** One line of the multi-core figure: `cores` workers against `openssl speed -multi cores`. */
async function multiLine(h: Harness, aead: Aead, cores: number): Promise<void> {
  const cipher = CIPHER[aead];
  // Best of two for both sides: wall-clock figures on a shared machine swing widely.
  const evpN = opensslRate(cipher, 1400, { multi: cores, runs: 2 });
  const enc = Math.max(await multi(aead, 1400, 'enc', cores), await multi(aead, 1400, 'enc', cores));
  const dec = Math.max(await multi(aead, 1400, 'dec', cores), await multi(aead, 1400, 'dec', cores));
  const q = (x: number): string => (evpN ? (x / evpN).toFixed(2) : '-');
  h.note(`  ${cipher.padEnd(18)} nfx encap ${fmt(enc)} decap ${fmt(dec)} pkt/s; openssl speed -multi ${cores} ${evpN ? fmt(evpN) : '-'} op/s; ratio ${q(enc)} / ${q(dec)}`);
}

if (!isMainThread && (workerData as { espBench?: boolean } | null)?.espBench) {
  workerMain(workerData as { aead: Aead; size: number; dir: 'enc' | 'dec' });
}
