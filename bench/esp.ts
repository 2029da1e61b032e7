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
 * nfx is measured on each crypto backend (algorithms.ts): `openssl-ffi`
 * (crypto-ffi.ts: one reused OpenSSL context per SA through koffi) and
 * `node` (node:crypto), one packet at a time (espOutput/espInput) and, for
 * GCM on node, in batches of 64 (espOutputBatch/espInputBatch: one OpenSSL
 * call per batch for the AES work, GHASH in JS). `EspCrypto.seal alone`
 * is the backend's transform without the ESP framing around it: the
 * difference to espOutput is what nfx's own JS costs.
 *
 * Run with the others (`npm run bench`, once run.ts lists it) or alone:
 * `node dist/bench/esp.js`.
 */
import { spawnSync } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Koffi from 'koffi';
import { Harness } from './harness.js';
import type { Figure } from './harness.js';
import { Packet } from '../src/packet/packet.js';
import { createEspSa, espInput, espInputBatch, espOutput, espOutputBatch } from '../src/xfrm/esp/index.js';
import type { EspSa, EspSaConfig } from '../src/xfrm/esp/index.js';
import type { EspCryptoBackend } from '../src/xfrm/esp/algorithms.js';
import { ffiOpenSsl, ffiUnavailableReason } from '../src/xfrm/esp/crypto-ffi.js';

const SIZES = [64, 512, 1400];
const BATCH = 64;
const SECONDS = 0.5;

/**
 * Runs `step` (which does `per` packets) until SECONDS of CPU time have
 * passed; returns [packets, CPU seconds]. CPU time, because `openssl speed`
 * divides by its user CPU time too (unless -elapsed): on a shared machine
 * wall time would charge us for other processes' turns and the ratio
 * would compare different things. Ours is user + system of the whole
 * process (GC threads included), which only errs against nfx.
 */
function loop(per: number, step: () => void): [number, number] {
  for (let i = 0; i < 20; i++) step(); // warm up the JIT
  let n = 0;
  const c0 = process.cpuUsage();
  let s = 0;
  do {
    for (let i = 0; i < 16; i++) step();
    n += 16 * per;
    const c = process.cpuUsage(c0);
    s = (c.user + c.system) / 1e6;
  } while (s < SECONDS);
  return [n, s];
}

/** An IPv4/UDP packet of `size` bytes in all. */
function inner(size: number): Uint8Array {
  const p = new Uint8Array(size);
  p.set([0x45, 0, size >> 8, size & 255, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 1, 0, 1, 10, 2, 0, 1, 0x9c, 0x40, 0x9c, 0x41, (size - 20) >> 8, (size - 20) & 255, 0, 0]);
  return p;
}

/**
 * `openssl speed -evp`: for GCM and ChaCha20-Poly1305 OpenSSL 3.0 times
 * EVP_EncryptUpdate alone over the buffer (no nonce, AAD or tag per
 * operation). With `aead` (`-aead`) it times the TLS-like sequence per
 * operation: nonce, AAD, update, final, tag; what ESP needs per packet.
 */
function openssl(h: Harness, cipher: string, size: number, aead = false): Figure | null {
  const args = ['speed', ...(aead ? ['-aead'] : []), '-evp', cipher, '-bytes', String(size), '-seconds', '1'];
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  // The last line: "<name>  <N>k", thousands of bytes per second for blocks of `size` bytes.
  const m = /\s([\d.]+)k\s*$/.exec((r.stdout ?? '').trim());
  if (r.status !== 0 || !m) return null;
  return h.record(`openssl speed ${aead ? '-aead ' : ''}-evp ${cipher} ${size}B`, (Number(m[1]) * 1000) / size, 'op', 1);
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

/** Builds an SA on `backend` (through NFX_CRYPTO, which createEspCrypto reads). */
function saOn(backend: EspCryptoBackend, aead: 'gcm' | 'chacha'): EspSa {
  const saved = process.env['NFX_CRYPTO'];
  process.env['NFX_CRYPTO'] = backend;
  try {
    return createEspSa(saConfig(aead));
  } finally {
    if (saved === undefined) delete process.env['NFX_CRYPTO'];
    else process.env['NFX_CRYPTO'] = saved;
  }
}

/** Resets a packet to `bytes` in place (the cost of a receive ring handing over a frame). */
function reset(p: Packet, bytes: Uint8Array, headroom: number): void {
  p.buffer.set(bytes, headroom);
  p.head = headroom;
  p.tail = headroom + bytes.length;
}

/** The transform alone, one packet at a time, on an SA's EspCrypto: what the backend costs without ESP framing. */
function bareSeal(h: Harness, backend: EspCryptoBackend, aead: 'gcm' | 'chacha', size: number): Figure {
  const crypto = saOn(backend, aead).crypto;
  const buf = new Uint8Array(16 + size + 16);
  const [n, s] = loop(1, () => crypto.seal(buf, 0, size, -1));
  return h.record(`${backend} EspCrypto.seal alone ${size}B`, n, 'op', s);
}

function nfx(h: Harness, backend: EspCryptoBackend, aead: 'gcm' | 'chacha', size: number): { enc: Figure; dec: Figure } {
  const tx = saOn(backend, aead);
  const rx = saOn(backend, aead); // window 0: the same packets can be fed again
  const src = inner(size);
  const pkts = Array.from({ length: BATCH }, () => Packet.from(src));
  const [n1, s1] = loop(BATCH, () => {
    for (const p of pkts) {
      reset(p, src, 128);
      espOutput(tx, p);
    }
  });
  const wire = pkts.map((p) => p.data.slice());
  let enc = h.record(`nfx ${backend} espOutput ${size}B`, n1, 'pkt', s1);
  const [n2, s2] = loop(BATCH, () => {
    pkts.forEach((p, i) => reset(p, wire[i]!, 128));
    for (const p of pkts) espInput(rx, p);
  });
  let dec = h.record(`nfx ${backend} espInput ${size}B`, n2, 'pkt', s2);
  // Every packet must have decrypted, or the figure measures drops.
  pkts.forEach((p, i) => reset(p, wire[i]!, 128));
  if (!pkts.every((p) => espInput(rx, p).ok)) throw new Error(`${backend} ${aead}: decapsulation failed in the bench`);
  if (tx.crypto.batch()) {
    const [n3, s3] = loop(BATCH, () => {
      for (const p of pkts) reset(p, src, 128);
      espOutputBatch(tx, pkts);
    });
    const be = h.record(`nfx ${backend} espOutputBatch(${BATCH}) ${size}B`, n3, 'pkt', s3);
    const [n4, s4] = loop(BATCH, () => {
      pkts.forEach((p, i) => reset(p, wire[i]!, 128));
      espInputBatch(rx, pkts);
    });
    const bd = h.record(`nfx ${backend} espInputBatch(${BATCH}) ${size}B`, n4, 'pkt', s4);
    if (be.perSecond > enc.perSecond) enc = be;
    if (bd.perSecond > dec.perSecond) dec = bd;
  }
  return { enc, dec };
}

export async function bench(h: Harness): Promise<void> {
  const hasOpenssl = h.has('openssl') || spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
  const why = ffiUnavailableReason();
  const backends: EspCryptoBackend[] = why === null ? ['openssl-ffi', 'node'] : ['node'];
  if (why !== null) h.note(`openssl-ffi backend unavailable (${why}): node:crypto only`);
  else h.note(`openssl-ffi backend on ${ffiOpenSsl()}`);
  const shim = why === null ? await nativeShim(h) : null;
  if (!shim) h.note('no C compiler or OpenSSL: the native-batch experiment is skipped');
  const summary: string[] = [];
  for (const [aead, cipher] of [['gcm', 'aes-128-gcm'], ['chacha', 'chacha20-poly1305']] as const) {
    h.note(`-- ${aead === 'gcm' ? 'rfc4106(gcm(aes)) 128-bit' : 'rfc7539esp(chacha20,poly1305)'}, tunnel IPv4 --`);
    for (const size of SIZES) {
      const base = hasOpenssl ? openssl(h, cipher, size) : null;
      if (hasOpenssl) openssl(h, cipher, size, true);
      const bare = nodeBare(h, cipher, size);
      for (const backend of backends) {
        bareSeal(h, backend, aead, size);
        if (backend === 'openssl-ffi' && shim) {
          // Where the time goes: the same OpenSSL work with 1 crossing per packet, and 1 per BATCH packets.
          const one = shim.seal(h, cipher, size, 1);
          const many = shim.seal(h, cipher, size, BATCH);
          if (base) {
            const r1 = h.ratio(one, base);
            const rn = h.ratio(many, base);
            summary.push(`${cipher.padEnd(18)} ${String(size).padStart(4)}B experiment   seal alone, C helper: 1 pkt/crossing ${r1.toFixed(2)}, ${BATCH} pkt/crossing ${rn.toFixed(2)}`);
          }
        }
        const { enc, dec } = nfx(h, backend, aead, size);
        h.ratio(enc, bare);
        if (base) {
          const re = h.ratio(enc, base);
          const rd = h.ratio(dec, base);
          summary.push(`${cipher.padEnd(18)} ${String(size).padStart(4)}B ${backend.padEnd(12)} encap ${re.toFixed(2)}  decap ${rd.toFixed(2)}`);
        }
      }
      if (!base) h.note('openssl not installed: no ceiling to compare with');
    }
  }
  if (summary.length) {
    h.note('nfx/openssl (packets per CPU second over openssl speed -evp op/s, same run):');
    for (const line of summary) h.note(`  ${line}`);
  }
  h.note('rates are per CPU second (openssl speed: user CPU time); the goal is >= 0.5 at 1400B');
}

/**
 * An experiment, not nfx's path: a 30-line C helper (compiled here with the
 * system's cc, loaded with koffi) that runs the per-packet EVP sequence for
 * n packets per JS→native crossing. It shows how much of the FFI backend's
 * time is crossings: n = 1 is one crossing per packet instead of five,
 * n = 64 is batching.
 */
const SHIM_C = `
typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;
int EVP_CipherInit_ex(EVP_CIPHER_CTX *, const void *, void *, const unsigned char *, const unsigned char *, int);
int EVP_CipherUpdate(EVP_CIPHER_CTX *, unsigned char *, int *, const unsigned char *, int);
int EVP_CipherFinal_ex(EVP_CIPHER_CTX *, unsigned char *, int *);
int EVP_CIPHER_CTX_ctrl(EVP_CIPHER_CTX *, int, int, void *);
struct job { double buf; int esp, clen, seqhi, res; };
int nfx_seal_batch(EVP_CIPHER_CTX *ctx, const unsigned char *salt, int icv, struct job *jobs, int n) {
  unsigned char nonce[12]; int outl, good = 0;
  for (int i = 0; i < 4; i++) nonce[i] = salt[i];
  for (int i = 0; i < n; i++) {
    unsigned char *e = (unsigned char *)(unsigned long)jobs[i].buf + jobs[i].esp, *p = e + 16;
    int clen = jobs[i].clen;
    for (int k = 0; k < 8; k++) nonce[4 + k] = e[8 + k];
    int ok = EVP_CipherInit_ex(ctx, 0, 0, 0, nonce, 1) && EVP_CipherUpdate(ctx, 0, &outl, e, 8)
      && EVP_CipherUpdate(ctx, p, &outl, p, clen) && EVP_CipherFinal_ex(ctx, p + clen, &outl)
      && EVP_CIPHER_CTX_ctrl(ctx, 0x10 /* EVP_CTRL_AEAD_GET_TAG */, icv, p + clen);
    jobs[i].res = ok;
    good += ok;
  }
  return good;
}
`;

interface Shim {
  seal(h: Harness, cipher: string, size: number, n: number): Figure;
}

async function nativeShim(h: Harness): Promise<Shim | null> {
  let koffi: typeof Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as typeof Koffi;
  } catch {
    return null;
  }
  const dir = await h.tempDir();
  writeFileSync(join(dir, 'shim.c'), SHIM_C);
  const cc = spawnSync('cc', ['-O2', '-shared', '-fPIC', '-o', join(dir, 'shim.so'), join(dir, 'shim.c'), '-l:libcrypto.so.3'], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) return null;
  try {
    const lib = koffi.load(join(dir, 'shim.so'));
    const crypto = koffi.load('libcrypto.so.3');
    const libc = koffi.load('libc.so.6');
    const addrOf = libc.func('uintptr_t memmove(void *d, void *s, size_t n)');
    const ctxNew = crypto.func('uintptr_t EVP_CIPHER_CTX_new()');
    const fetch = crypto.func('void *EVP_CIPHER_fetch(void *libctx, const char *name, const char *props)');
    const init = crypto.func('int EVP_CipherInit_ex(uintptr_t ctx, void *cipher, void *engine, void *key, void *iv, int enc)');
    const batch = lib.func('int nfx_seal_batch(uintptr_t ctx, uintptr_t salt, int icv, uintptr_t jobs, int n)');
    return {
      seal(h2: Harness, cipher: string, size: number, n: number): Figure {
        const ctx = ctxNew() as number;
        init(ctx, fetch(null, cipher, null), null, Buffer.alloc(cipher === 'aes-128-gcm' ? 16 : 32, 9), null, 1);
        const bufs = Array.from({ length: n }, () => Buffer.allocUnsafeSlow(16 + size + 16).fill(1));
        const jobs = Buffer.allocUnsafeSlow(24 * n);
        const f64 = new Float64Array(jobs.buffer);
        const i32 = new Int32Array(jobs.buffer);
        bufs.forEach((b, i) => {
          f64[i * 3] = addrOf(b, b, 0) as number;
          i32[i * 6 + 2] = 0;
          i32[i * 6 + 3] = size;
          i32[i * 6 + 4] = -1;
        });
        const salt = Buffer.allocUnsafeSlow(4).fill(9);
        const saltAt = addrOf(salt, salt, 0) as number;
        const jobsAt = addrOf(jobs, jobs, 0) as number;
        const [count, s] = loop(n, () => {
          if (batch(ctx, saltAt, 16, jobsAt, n) !== n) throw new Error('native shim seal failed');
        });
        return h2.record(`experiment: C helper, ${n} pkt/crossing ${size}B`, count, 'op', s);
      },
    };
  } catch {
    return null;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const h = new Harness('esp');
  console.log('== esp ==');
  await bench(h);
  await h.cleanup();
}
