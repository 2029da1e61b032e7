/**
 * AES-GCM for many packets at once (RFC 4106 ESP), for throughput.
 *
 * node:crypto offers GCM only as one cipher object per message, and creating
 * one costs far more than encrypting 1400 bytes with AES-NI. GCM is CTR
 * mode plus GHASH (NIST SP 800-38D §6-7), so a batch can be split:
 *  - the AES part for every packet of a batch — the counter blocks of all
 *    payloads and the J0 block of every tag — goes to OpenSSL in ONE
 *    `aes-*-ecb` call (the key schedule is paid once per batch);
 *  - GHASH runs here, with Shoup's 8-bit tables (16 tables of 256 entries
 *    precomputed from H once per key): 16 lookups and 64 XORs per block.
 * Tests check every tag and ciphertext against node's own GCM.
 */
import { createCipheriv } from 'node:crypto';

/** GHASH tables: M[(i * 256 + b) * 4 + w] = word w of (byte b at position i) · H in GF(2^128). */
function ghashTables(h: Uint8Array): Int32Array {
  const basis = new Uint32Array(128 * 4);
  let w0 = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
  let w1 = ((h[4]! << 24) | (h[5]! << 16) | (h[6]! << 8) | h[7]!) >>> 0;
  let w2 = ((h[8]! << 24) | (h[9]! << 16) | (h[10]! << 8) | h[11]!) >>> 0;
  let w3 = ((h[12]! << 24) | (h[13]! << 16) | (h[14]! << 8) | h[15]!) >>> 0;
  for (let j = 0; j < 128; j++) {
    basis[j * 4] = w0;
    basis[j * 4 + 1] = w1;
    basis[j * 4 + 2] = w2;
    basis[j * 4 + 3] = w3;
    // SP 800-38D §6.3: V·x is a right shift, reduced by R = 11100001 ‖ 0^120.
    const lsb = w3 & 1;
    w3 = ((w3 >>> 1) | (w2 << 31)) >>> 0;
    w2 = ((w2 >>> 1) | (w1 << 31)) >>> 0;
    w1 = ((w1 >>> 1) | (w0 << 31)) >>> 0;
    w0 = (w0 >>> 1) ^ (lsb ? 0xe1000000 : 0);
  }
  // Int32Array, not Uint32Array: loads stay small integers in V8, XOR never leaves int32.
  const m = new Int32Array(16 * 256 * 4);
  for (let i = 0; i < 16; i++) {
    for (let b = 1; b < 256; b++) {
      // Bit 7 of the byte is block bit 8i, bit 0 is block bit 8i + 7.
      const low = b & (b - 1);
      const bit = 31 - Math.clz32(b ^ low); // the lowest set bit's position in the byte
      const j = i * 8 + (7 - bit);
      const d = (i * 256 + b) * 4;
      const s = (i * 256 + low) * 4;
      m[d] = m[s]! ^ basis[j * 4]!;
      m[d + 1] = m[s + 1]! ^ basis[j * 4 + 1]!;
      m[d + 2] = m[s + 2]! ^ basis[j * 4 + 2]!;
      m[d + 3] = m[s + 3]! ^ basis[j * 4 + 3]!;
    }
  }
  return m;
}

/** One packet's share of a batch: where its AAD, IV and payload are. */
export interface GcmJob {
  buf: Uint8Array;
  /** ESP header offset: SPI ‖ seq at esp, IV at esp + 8, payload at esp + 16. */
  esp: number;
  clen: number;
  /** ESN high half for the AAD, or -1. */
  seqHi: number;
}

/**
 * Payloads longer than this are sealed one OpenSSL call each even in a
 * batch: measured here, JS GHASH costs more than node's per-call overhead
 * beyond about 40 blocks (bench/esp.ts).
 */
export const GCM_BATCH_MAX = 640;

export class GcmBatch {
  readonly maxLen = GCM_BATCH_MAX;
  private readonly m: Int32Array;
  private readonly ecbName: string;
  private ks = new Uint8Array(64 * 1024);
  private readonly blk = new Uint8Array(16);

  constructor(
    private readonly key: Uint8Array,
    private readonly salt: Uint8Array,
    readonly icvLen: number,
  ) {
    this.ecbName = `aes-${key.length * 8}-ecb`;
    this.m = ghashTables(this.ecb(new Uint8Array(16)));
  }

  private ecb(blocks: Uint8Array): Uint8Array {
    const c = createCipheriv(this.ecbName, this.key, null);
    c.setAutoPadding(false);
    return c.update(blocks);
  }

  // The running GHASH value Y as four big-endian words (in-object fields: no array traffic per block).
  private y0 = 0;
  private y1 = 0;
  private y2 = 0;
  private y3 = 0;

  /** Y = (Y ⊕ X) · H, X given as four big-endian words; 16 table lookups, unrolled. */
  private mul(x0: number, x1: number, x2: number, x3: number): void {
    const m = this.m;
    x0 ^= this.y0;
    x1 ^= this.y1;
    x2 ^= this.y2;
    x3 ^= this.y3;
    let t = (x0 >>> 24) << 2;
    let z0 = m[t]!, z1 = m[t + 1]!, z2 = m[t + 2]!, z3 = m[t + 3]!;
    t = (256 + ((x0 >>> 16) & 255)) << 2; z0 ^= m[t]!; z1 ^= m[t + 1]!; z2 ^= m[t + 2]!; z3 ^= m[t + 3]!;
    t = (512 + ((x0 >>> 8) & 255)) << 2; z0 ^= m[t]!; z1 ^= m[t + 1]!; z2 ^= m[t + 2]!; z3 ^= m[t + 3]!;
    t = (768 + (x0 & 255)) << 2; z0 ^= m[t]!; z1 ^= m[t + 1]!; z2 ^= m[t + 2]!; z3 ^= m[t + 3]!;
    t = (1024 + (x1 >>> 24)) << 2; z0 ^= m[t]!; z1 ^= m[t + 1]!; z2 ^= m[t + 2]!; z3 ^= m[t + 3]!;
    t = (1280 + ((x1 >>> 16) & 255)) << 2; z0 ^= m[t]!; z1 ^= m[t + 1]!; z2 ^= m[t + 2]!; z3 ^= m[t + 3]!;
    t = (1536 + ((x1 >>> 8) & 255)) << 2; z0 ^= m[t]!; z1 ^= m[t + 1]!; z2 ^= m[t + 2]!; z3 ^= m[t + 3]!;
    t = (1792 + (x1 & 255)) << 2; z0 ^= m[t]!; z1 ^= m[t + 1]!; z2 ^= m[t + 2]!; z3 ^= m[t + 3]!;
    t = (2048 + (x2 >>> 24)) << 2; z0 ^= m[t]!; z1 ^= m[t + 1]!; z2 ^= m[t + 2]!; z3 ^= m[t + 3]!;
    t = (2304 + ((x2 >>> 16) & 255)) << 2; z0 ^= m[t]!; z1 ^= m[t + 1]!; z2 ^= m[t + 2]!; z3 ^= m[t + 3]!;
    t = (2560 + ((x2 >>> 8) & 255)) << 2; z0 ^= m[t]!; z1 ^= m[t + 1]!; z2 ^= m[t + 2]!; z3 ^= m[t + 3]!;
    t = (2816 + (x2 & 255)) << 2; z0 ^= m[t]!; z1 ^= m[t + 1]!; z2 ^= m[t + 2]!; z3 ^= m[t + 3]!;
    t = (3072 + (x3 >>> 24)) << 2; z0 ^= m[t]!; z1 ^= m[t + 1]!; z2 ^= m[t + 2]!; z3 ^= m[t + 3]!;
    t = (3328 + ((x3 >>> 16) & 255)) << 2; z0 ^= m[t]!; z1 ^= m[t + 1]!; z2 ^= m[t + 2]!; z3 ^= m[t + 3]!;
    t = (3584 + ((x3 >>> 8) & 255)) << 2; z0 ^= m[t]!; z1 ^= m[t + 1]!; z2 ^= m[t + 2]!; z3 ^= m[t + 3]!;
    t = (3840 + (x3 & 255)) << 2; z0 ^= m[t]!; z1 ^= m[t + 1]!; z2 ^= m[t + 2]!; z3 ^= m[t + 3]!;
    this.y0 = z0;
    this.y1 = z1;
    this.y2 = z2;
    this.y3 = z3;
  }

  /** Absorbs n bytes at b[o..] (n < 16: zero padded). */
  private absorb(b: Uint8Array, o: number, n: number): void {
    if (n === 16) {
      this.mul(
        (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!,
        (b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!,
        (b[o + 8]! << 24) | (b[o + 9]! << 16) | (b[o + 10]! << 8) | b[o + 11]!,
        (b[o + 12]! << 24) | (b[o + 13]! << 16) | (b[o + 14]! << 8) | b[o + 15]!,
      );
      return;
    }
    const p = this.blk;
    p.fill(0);
    p.set(b.subarray(o, o + n));
    this.absorb(p, 0, 16);
  }

  /** GHASH(AAD, C) over one job's ciphertext, into y0..y3. */
  private ghash(j: GcmJob, aad: Uint8Array, aadLen: number): void {
    this.y0 = this.y1 = this.y2 = this.y3 = 0;
    this.absorb(aad, 0, 16);
    const p = j.esp + 16;
    let off = 0;
    for (; off + 16 <= j.clen; off += 16) this.absorb(j.buf, p + off, 16);
    if (off < j.clen) this.absorb(j.buf, p + off, j.clen - off);
    // The length block: bit lengths of A and C, 64 bits each.
    const cb = j.clen * 8;
    this.mul(0, aadLen * 8, Math.floor(cb / 2 ** 32), cb >>> 0);
  }

  /**
   * Counter blocks for every job: J0 (for the tag), then inc32(J0)... for
   * the payload (SP 800-38D §7.1, 96-bit IV: J0 = IV ‖ 0^31 ‖ 1). Returns
   * the keystream and each job's first block index.
   */
  private keystream(jobs: readonly GcmJob[]): { ks: Uint8Array; first: Int32Array } {
    let blocks = 0;
    const first = new Int32Array(jobs.length);
    for (let k = 0; k < jobs.length; k++) {
      first[k] = blocks;
      blocks += 1 + Math.ceil(jobs[k]!.clen / 16);
    }
    if (this.ks.length < blocks * 16) this.ks = new Uint8Array(blocks * 32);
    const ctr = this.ks;
    for (let k = 0; k < jobs.length; k++) {
      const j = jobs[k]!;
      const n = 1 + Math.ceil(j.clen / 16);
      let o = first[k]! * 16;
      for (let c = 1; c <= n; c++, o += 16) {
        ctr.set(this.salt, o);
        ctr.set(j.buf.subarray(j.esp + 8, j.esp + 16), o + 4);
        ctr[o + 12] = c >>> 24;
        ctr[o + 13] = (c >>> 16) & 0xff;
        ctr[o + 14] = (c >>> 8) & 0xff;
        ctr[o + 15] = c & 0xff;
      }
    }
    return { ks: this.ecb(ctr.subarray(0, blocks * 16)), first };
  }

  private aad(j: GcmJob, out: Uint8Array): number {
    out.set(j.buf.subarray(j.esp, j.esp + 4), 0);
    if (j.seqHi < 0) {
      out.set(j.buf.subarray(j.esp + 4, j.esp + 8), 4);
      return 8;
    }
    out[4] = j.seqHi >>> 24;
    out[5] = (j.seqHi >>> 16) & 0xff;
    out[6] = (j.seqHi >>> 8) & 0xff;
    out[7] = j.seqHi & 0xff;
    out.set(j.buf.subarray(j.esp + 4, j.esp + 8), 8);
    return 12;
  }

  /** Encrypts every job's payload in place and writes its ICV after it. */
  seal(jobs: readonly GcmJob[]): void {
    const { ks, first } = this.keystream(jobs);
    const aad = new Uint8Array(16);
    for (let k = 0; k < jobs.length; k++) {
      const j = jobs[k]!;
      const p = j.esp + 16;
      const base = first[k]! * 16;
      const b = j.buf;
      for (let i = 0; i < j.clen; i++) b[p + i]! ^= ks[base + 16 + i]!;
      aad.fill(0);
      this.ghash(j, aad, this.aad(j, aad));
      this.writeTag(b, p + j.clen, ks, base);
    }
  }

  /** Verifies every job's ICV and decrypts the good ones; returns one flag per job. */
  open(jobs: readonly GcmJob[]): boolean[] {
    const { ks, first } = this.keystream(jobs);
    const aad = new Uint8Array(16);
    const tag = new Uint8Array(16);
    const ok: boolean[] = [];
    for (let k = 0; k < jobs.length; k++) {
      const j = jobs[k]!;
      const p = j.esp + 16;
      const base = first[k]! * 16;
      aad.fill(0);
      this.ghash(j, aad, this.aad(j, aad));
      this.writeTag(tag, 0, ks, base);
      let diff = 0;
      for (let i = 0; i < this.icvLen; i++) diff |= tag[i]! ^ j.buf[p + j.clen + i]!;
      if (diff !== 0) {
        ok.push(false);
        continue;
      }
      const b = j.buf;
      for (let i = 0; i < j.clen; i++) b[p + i]! ^= ks[base + 16 + i]!;
      ok.push(true);
    }
    return ok;
  }

  /** Tag = E(K, J0) ⊕ GHASH, truncated to the ICV length. */
  private writeTag(out: Uint8Array, at: number, ks: Uint8Array, base: number): void {
    const y = [this.y0, this.y1, this.y2, this.y3];
    for (let i = 0; i < this.icvLen; i++) out[at + i] = ks[base + i]! ^ ((y[i >>> 2]! >>> (24 - 8 * (i & 3))) & 0xff);
  }
}
