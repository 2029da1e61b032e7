/**
 * The FFI backend's per-SA transform (crypto-ffi.ts loads OpenSSL and finds
 * the provider functions; this file runs them): one provider context per
 * SA, a native block holding each packet's nonce, AAD and tag parameter,
 * and, where the call list runs (call-list.ts), the provider calls of one
 * packet — or of FFI_BATCH_SLOTS packets — prebuilt so that only the
 * addresses and lengths of each packet are written before one crossing.
 */
import { OPEN_BAD_ICV, OPEN_INVALID, OPEN_OK } from './algorithms.js';
import type { EspBatchEngine, EspCrypto, OpenResult } from './algorithms.js';
import { CALL_ENTRY, CallList } from './call-list.js';
import type { CallListRunner } from './call-list.js';
import type { Impl, Native } from './crypto-ffi.js';
import type { GcmJob } from './gcm-batch.js';

/** <openssl/core.h>: OSSL_PARAM_OCTET_STRING; an OSSL_PARAM is 40 bytes on LP64. */
const OSSL_PARAM_OCTET_STRING = 5;
const OSSL_PARAM_SIZE = 40;
/** OSSL_PARAM fields are native C values: which 32-bit half of a 64-bit word comes first (0 on little-endian). */
const LO = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1 ? 0 : 1;

// Addresses of ArrayBuffers' data, looked up once each. An ArrayBuffer's
// backing store never moves (V8 keeps only small typed arrays on its heap,
// and asking for `.buffer` moves those off it first).
const addrCache = new WeakMap<ArrayBufferLike, number>();
let lastAb: ArrayBufferLike | null = null;
let lastBase = 0;

export function addressOf(n: Native, buf: Uint8Array): number {
  const ab = buf.buffer;
  if (ab === lastAb) return lastBase + buf.byteOffset;
  let base = addrCache.get(ab);
  if (base === undefined) {
    const a = n.addrOf(new Uint8Array(ab));
    if (typeof a !== 'number' || a === 0) throw new Error('nfx ESP: cannot take the address of a buffer');
    base = a;
    addrCache.set(ab, base);
  }
  lastAb = ab;
  lastBase = base;
  return base + buf.byteOffset;
}

// Layout of each SA's native block: a shared head, then one slot per packet
// of a batch (one slot for packet-at-a-time use).
const OUTL = 0; // size_t written by update/final, never read
const TAG_KEY = 16; // "tag\0", the OSSL_CIPHER_PARAM_AEAD_TAG name
const KEY = 32; // the key, only while the context is keyed
const HEAD = 64;
const SLOT = 128; // ≥ S_PARAMS + 2 * OSSL_PARAM_SIZE
const S_NONCE = 0; // salt ‖ explicit IV, 12 bytes
const S_AAD = 16; // SPI ‖ ESN high ‖ seq, 12 bytes (8-byte AADs are read from the packet)
const S_PARAMS = 32; // OSSL_PARAM[2]: { "tag", octet string, → the packet's ICV, icvLen, 0 }, then the terminator
/** Provider calls per packet in a call list: seal (init, AAD, payload, final, get tag), open (init with tag, AAD, payload, final). */
const SEAL_CALLS = 5;
const OPEN_CALLS = 4;
/** Packets per crossing in a batch (a bigger batch is run in turns). */
export const FFI_BATCH_SLOTS = 64;

let callListEnabled = process.env['NFX_FFI_CALL_LIST'] !== '0';

/**
 * Whether SAs created from now on run their provider calls through the call
 * list (call-list.ts: one koffi crossing per packet, or per batch) or cross
 * once per call. On by default where the call list loads (Linux x86-64);
 * `NFX_FFI_CALL_LIST=0` turns it off. For benchmarks and tests: both ways
 * give the same bytes.
 */
export function ffiUseCallList(on: boolean): void {
  callListEnabled = on;
}

const freeing = new FinalizationRegistry<{ impl: Impl; ctx: number }>(({ impl, ctx }) => impl.freectx(ctx));

/** An SA's native block: slots for `slots` packets and, with the call list, their prebuilt calls. */
class Block {
  readonly s: Uint8Array;
  /** The same bytes as native-endian 32-bit words. */
  private readonly w: Uint32Array;
  readonly addr: number;
  readonly seal: CallList | null = null;
  readonly open: CallList | null = null;

  constructor(n: Native, impl: Impl, ctx: number, salt: Uint8Array, icvLen: number, readonly slots: number, lists: boolean) {
    // Off the V8 heap and not pooled: its address is stable and ours alone.
    this.s = new Uint8Array(Buffer.allocUnsafeSlow(HEAD + slots * SLOT).buffer);
    this.s.fill(0);
    this.w = new Uint32Array(this.s.buffer);
    this.addr = addressOf(n, this.s);
    this.s.set([0x74, 0x61, 0x67, 0], TAG_KEY);
    const p = new DataView(this.s.buffer);
    for (let k = 0; k < slots; k++) {
      const o = HEAD + k * SLOT;
      this.s.set(salt, o + S_NONCE);
      p.setBigUint64(o + S_PARAMS, BigInt(this.addr + TAG_KEY), LO === 0);
      p.setUint32(o + S_PARAMS + 8, OSSL_PARAM_OCTET_STRING, LO === 0);
      p.setBigUint64(o + S_PARAMS + 24, BigInt(icvLen), LO === 0);
    }
    if (!lists) return;
    this.seal = list(n, slots * SEAL_CALLS);
    this.open = list(n, slots * OPEN_CALLS);
    const outl = this.addr + OUTL;
    for (let k = 0; k < slots; k++) {
      const nonce = this.nonce(k);
      const params = this.params(k);
      // The calls that never change; AAD and payload are filled in per packet.
      let e = k * SEAL_CALLS;
      this.seal.set(e, impl.einitAt, 4, ctx, 0, 0, nonce, 12, 0);
      this.seal.set(e + 1, impl.updateAt, 3, ctx, 0, outl, 0, 0, 0);
      this.seal.set(e + 2, impl.updateAt, 2, ctx, 0, outl, 0, 0, 0);
      this.seal.set(e + 3, impl.finalAt, 1, ctx, 0, outl, 0, 0, 0);
      this.seal.set(e + 4, impl.getParamsAt, 0, ctx, params, 0, 0, 0, 0);
      e = k * OPEN_CALLS;
      // The expected tag goes in with the nonce (OSSL_CIPHER_PARAM_AEAD_TAG); final compares it.
      this.open.set(e, impl.dinitAt, 3, ctx, 0, 0, nonce, 12, params);
      this.open.set(e + 1, impl.updateAt, 2, ctx, 0, outl, 0, 0, 0);
      this.open.set(e + 2, impl.updateAt, 1, ctx, 0, outl, 0, 0, 0);
      this.open.set(e + 3, impl.finalAt, 0, ctx, 0, outl, 0, 0, 0);
    }
  }

  nonce(k: number): number {
    return this.addr + HEAD + k * SLOT + S_NONCE;
  }

  params(k: number): number {
    return this.addr + HEAD + k * SLOT + S_PARAMS;
  }

  /**
   * Slot k for the packet at `esp` of `buf` (at address `base`): nonce =
   * salt ‖ IV (RFC 4106 §4, RFC 7634 §2), the tag parameter pointing at the
   * packet's ICV. Returns the AAD's address; its length is in `aadLen`.
   */
  fill(k: number, buf: Uint8Array, base: number, esp: number, clen: number, icvLen: number, seqHi: number): number {
    const s = this.s;
    const o = HEAD + k * SLOT;
    for (let i = 0; i < 8; i++) s[o + S_NONCE + 4 + i] = buf[esp + 8 + i]!;
    // The tag parameter's data pointer (OSSL_PARAM.data, 8-byte aligned): the packet's ICV.
    const icv = base + esp + 16 + clen;
    const lo = icv >>> 0;
    const at = (o + S_PARAMS + 16) >>> 2;
    this.w[at + LO] = lo;
    this.w[at + 1 - LO] = (icv - lo) / 4294967296;
    if (seqHi < 0) {
      this.aadLen = 8;
      return base + esp;
    }
    // RFC 4106 §5 / RFC 7634 §2.1: SPI ‖ ESN high ‖ ESN low.
    const a = o + S_AAD;
    for (let i = 0; i < 4; i++) s[a + i] = buf[esp + i]!;
    s[a + 4] = seqHi >>> 24;
    s[a + 5] = (seqHi >>> 16) & 0xff;
    s[a + 6] = (seqHi >>> 8) & 0xff;
    s[a + 7] = seqHi & 0xff;
    for (let i = 0; i < 4; i++) s[a + 8 + i] = buf[esp + 4 + i]!;
    this.aadLen = 12;
    return this.addr + a;
  }

  aadLen = 8;
}

/** A call list of `entries` entries in native memory. */
function list(n: Native, entries: number): CallList {
  const bytes = new Uint8Array(Buffer.allocUnsafeSlow(entries * CALL_ENTRY).buffer);
  bytes.fill(0);
  return new CallList(bytes, addressOf(n, bytes));
}

/** One SA's AEAD on a reused OpenSSL context; the EspCrypto of algorithms.ts. */
export class FfiAead implements EspCrypto {
  readonly aead = true;
  readonly ivLen = 8;
  readonly blockSize = 1;
  readonly backend = 'openssl-ffi' as const;
  private readonly ctx: number;
  private readonly one: Block;
  private many: Block | null = null;
  private readonly runner: CallListRunner | null;

  constructor(
    private readonly n: Native,
    private readonly impl: Impl,
    readonly description: string,
    key: Uint8Array,
    private readonly salt: Uint8Array,
    readonly icvLen: number,
  ) {
    this.runner = callListEnabled ? n.runner : null;
    const ctx = impl.newctx(impl.provctx);
    if (typeof ctx !== 'number' || ctx === 0) throw new Error('nfx ESP: OpenSSL could not allocate a cipher context');
    this.ctx = ctx;
    freeing.register(this, { impl, ctx });
    this.one = new Block(n, impl, ctx, salt, icvLen, 1, this.runner !== null);
    // The key is scheduled once; its copy in our block is wiped at once.
    const s = this.one.s;
    s.set(key, KEY);
    const ok = impl.einit(ctx, this.one.addr + KEY, key.length, 0, 0, 0);
    s.fill(0, KEY, KEY + key.length);
    if (ok !== 1) {
      n.errClear();
      throw new Error('nfx ESP: OpenSSL refused the key');
    }
  }

  /** With the call list: many packets per crossing (FfiBatch); without it, none. */
  batch(): EspBatchEngine | null {
    return this.runner ? new FfiBatch(this) : null;
  }

  seal(buf: Uint8Array, esp: number, clen: number, seqHi: number): void {
    if (!(esp >= 0 && clen >= 0 && esp + 16 + clen + this.icvLen <= buf.length)) throw new RangeError('ESP seal outside the buffer');
    const base = addressOf(this.n, buf);
    const b = this.one;
    const aad = b.fill(0, buf, base, esp, clen, this.icvLen, seqHi);
    const p = base + esp + 16;
    let ok: boolean;
    if (b.seal && this.runner) {
      setSeal(b.seal, 0, aad, b.aadLen, p, clen);
      ok = this.runner(b.seal.address, SEAL_CALLS) === SEAL_CALLS;
    } else {
      const { ctx, impl } = this;
      const outl = b.addr + OUTL;
      ok = impl.einit(ctx, 0, 0, b.nonce(0), 12, 0) === 1 && impl.update(ctx, 0, outl, b.aadLen, aad, b.aadLen) === 1
        && impl.update(ctx, p, outl, clen, p, clen) === 1 && impl.final(ctx, 0, outl, 0) === 1 && impl.getParams(ctx, b.params(0)) === 1;
    }
    if (!ok) {
      this.n.errClear();
      throw new Error('nfx ESP: OpenSSL AEAD encryption failed');
    }
  }

  open(buf: Uint8Array, esp: number, clen: number, seqHi: number): OpenResult {
    if (!(esp >= 0 && clen >= 0 && esp + 16 + clen + this.icvLen <= buf.length)) return OPEN_INVALID;
    const base = addressOf(this.n, buf);
    const b = this.one;
    const aad = b.fill(0, buf, base, esp, clen, this.icvLen, seqHi);
    const p = base + esp + 16;
    if (b.open && this.runner) {
      setOpen(b.open, 0, aad, b.aadLen, p, clen);
      if (this.runner(b.open.address, OPEN_CALLS) === OPEN_CALLS) return OPEN_OK;
      return this.failed(b, 0, b.open.result(2) === 1, p, clen);
    }
    const { ctx, impl } = this;
    const outl = b.addr + OUTL;
    const ok = impl.dinit(ctx, 0, 0, b.nonce(0), 12, b.params(0)) === 1 && impl.update(ctx, 0, outl, b.aadLen, aad, b.aadLen) === 1
      && impl.update(ctx, p, outl, clen, p, clen) === 1;
    if (ok && impl.final(ctx, 0, outl, 0) === 1) return OPEN_OK;
    return this.failed(b, 0, ok, p, clen);
  }

  /**
   * An open that did not verify. When the payload was already decrypted in
   * place (final refused the tag), RFC 4303 §3.4.4.1 wants it as it came:
   * XOR it with the same keystream again.
   */
  failed(b: Block, k: number, decrypted: boolean, p: number, clen: number): OpenResult {
    const { ctx, impl } = this;
    if (decrypted && clen > 0) {
      impl.dinit(ctx, 0, 0, b.nonce(k), 12, 0);
      impl.update(ctx, p, b.addr + OUTL, clen, p, clen);
    }
    this.n.errClear();
    return decrypted ? OPEN_BAD_ICV : OPEN_INVALID;
  }

  /** The batch block, built on first use (FFI_BATCH_SLOTS slots). */
  manyBlock(): Block {
    return (this.many ??= new Block(this.n, this.impl, this.ctx, this.salt, this.icvLen, FFI_BATCH_SLOTS, true));
  }

  run(l: CallList, entries: number): number {
    return this.runner!(l.address, entries);
  }

  address(buf: Uint8Array): number {
    return addressOf(this.n, buf);
  }
}

/**
 * The per-packet fields of one slot's calls, which seal and open share from
 * entry `e`: the AAD update (entry e+1) and the in-place payload update (e+2).
 */
function setPacket(l: CallList, e: number, aad: number, aadLen: number, p: number, clen: number): void {
  l.putLen(e + 1, 4, aadLen);
  l.put(e + 1, 5, aad);
  l.putLen(e + 1, 6, aadLen);
  l.put2(e + 2, 2, 5, p);
  l.putLen(e + 2, 4, clen);
  l.putLen(e + 2, 6, clen);
}

/** Slot k's seal calls: AAD, and the payload encrypted in place. */
function setSeal(l: CallList, k: number, aad: number, aadLen: number, p: number, clen: number): void {
  setPacket(l, k * SEAL_CALLS, aad, aadLen, p, clen);
}

/** The same for slot k's open calls; results cleared so a skipped call reads 0. */
function setOpen(l: CallList, k: number, aad: number, aadLen: number, p: number, clen: number): void {
  const e = k * OPEN_CALLS;
  setPacket(l, e, aad, aadLen, p, clen);
  l.clearResults(e + 2, 2);
}

/**
 * Many packets of one SA per crossing: FFI_BATCH_SLOTS packets' provider
 * calls go in one call list and run in one koffi call.
 */
class FfiBatch implements EspBatchEngine {
  readonly maxLen = Infinity;
  constructor(private readonly a: FfiAead) {}

  seal(jobs: readonly GcmJob[]): void {
    const a = this.a;
    const b = a.manyBlock();
    const icv = a.icvLen;
    for (let from = 0; from < jobs.length; from += FFI_BATCH_SLOTS) {
      const n = Math.min(FFI_BATCH_SLOTS, jobs.length - from);
      for (let k = 0; k < n; k++) {
        const j = jobs[from + k]!;
        if (!(j.esp >= 0 && j.clen >= 0 && j.esp + 16 + j.clen + icv <= j.buf.length)) throw new RangeError('ESP seal outside the buffer');
        const base = a.address(j.buf);
        const aad = b.fill(k, j.buf, base, j.esp, j.clen, icv, j.seqHi);
        setSeal(b.seal!, k, aad, b.aadLen, base + j.esp + 16, j.clen);
      }
      if (a.run(b.seal!, n * SEAL_CALLS) !== n * SEAL_CALLS) throw new Error('nfx ESP: OpenSSL AEAD encryption failed');
    }
  }

  open(jobs: readonly GcmJob[]): boolean[] {
    const a = this.a;
    const b = a.manyBlock();
    const icv = a.icvLen;
    const ok: boolean[] = new Array<boolean>(jobs.length).fill(false);
    for (let from = 0; from < jobs.length; from += FFI_BATCH_SLOTS) {
      const n = Math.min(FFI_BATCH_SLOTS, jobs.length - from);
      // A packet outside its buffer gets no slot (and stays refused).
      let m = 0;
      const slotOf = new Int32Array(n).fill(-1);
      for (let k = 0; k < n; k++) {
        const j = jobs[from + k]!;
        if (!(j.esp >= 0 && j.clen >= 0 && j.esp + 16 + j.clen + icv <= j.buf.length)) continue;
        const base = a.address(j.buf);
        const aad = b.fill(m, j.buf, base, j.esp, j.clen, icv, j.seqHi);
        setOpen(b.open!, m, aad, b.aadLen, base + j.esp + 16, j.clen);
        slotOf[k] = m++;
      }
      if (m > 0 && a.run(b.open!, m * OPEN_CALLS) === m * OPEN_CALLS) {
        for (let k = 0; k < n; k++) ok[from + k] = slotOf[k]! >= 0;
        continue;
      }
      for (let k = 0; k < n; k++) {
        const s = slotOf[k]!;
        if (s < 0) continue;
        const e = s * OPEN_CALLS;
        if (b.open!.result(e + 3) === 1) {
          ok[from + k] = true;
          continue;
        }
        const j = jobs[from + k]!;
        a.failed(b, s, b.open!.result(e + 2) === 1, a.address(j.buf) + j.esp + 16, j.clen);
      }
    }
    return ok;
  }
}

