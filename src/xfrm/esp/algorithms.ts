/**
 * ESP transforms by their `ip xfrm` names, on node:crypto; GCM and
 * ChaCha20-Poly1305 run on a reused OpenSSL context through koffi where it
 * works (crypto-ffi.ts, ~4x faster), byte for byte the same (see
 * espCryptoBackend() and NFX_CRYPTO).
 *
 * Linux turns every ESP SA into one AEAD transform: a real AEAD
 * (`rfc4106(gcm(aes))`, `rfc4309(ccm(aes))`, `rfc4543(gcm(aes))`,
 * `rfc7539esp(chacha20,poly1305)`) or `authenc(auth,enc)` /
 * `authencesn(auth,enc)` built from an `enc` and an `auth` algorithm
 * (net/ipv4/esp4.c esp_init_aead/esp_init_authenc). `EspCrypto` is that one
 * transform: `seal` encrypts the ESP payload in place and writes the ICV,
 * `open` verifies the ICV and decrypts in place.
 *
 * Layout both work on (RFC 4303 §2): at `esp` the SPI and the 32-bit
 * sequence number, then the IV (`ivLen` bytes), then `clen` bytes of payload
 * + TFC + padding + pad length + next header, then the ICV (`icvLen` bytes).
 * `seqHi` is the ESN high half, or -1 when the SA has no ESN.
 *
 * Key material is laid out as Linux takes it from `ip xfrm`: AEAD keys end
 * with the 4-byte salt (3 bytes for CCM, RFC 4309 §4), `rfc3686(ctr(aes))`
 * keys end with the 4-byte nonce (RFC 3686 §5.1).
 */
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import type { CipherGCMTypes, CipherCCMTypes } from 'node:crypto';
import { cmacMac, xcbcMac } from './mac.js';
import type { BlockMac } from './mac.js';
import { GcmBatch } from './gcm-batch.js';
import type { GcmJob } from './gcm-batch.js';
import { createFfiAead, ffiUnavailableReason } from './crypto-ffi.js';

/** An `aead NAME KEY ICVBITS` clause. */
export interface AeadSpec {
  name: string;
  key: Uint8Array;
  icvBits: number;
}
/** An `enc NAME KEY` clause. */
export interface EncSpec {
  name: string;
  key: Uint8Array;
}
/** An `auth NAME KEY` clause, or `auth-trunc NAME KEY TRUNCBITS` when `truncBits` is set. */
export interface AuthSpec {
  name: string;
  key: Uint8Array;
  truncBits?: number;
}

/** A configuration the kernel would refuse; the message never contains key bytes. */
export class EspConfigError extends Error {
  override name = 'EspConfigError';
}

/** `open` outcomes: the kernel's 0, -EBADMSG (ICV mismatch) and -EINVAL (malformed). */
export const OPEN_OK = 0;
export const OPEN_BAD_ICV = 1;
export const OPEN_INVALID = 2;
export type OpenResult = typeof OPEN_OK | typeof OPEN_BAD_ICV | typeof OPEN_INVALID;

export interface EspCrypto {
  /** `rfc4106(gcm(aes)) 128-bit key, 128-bit ICV`: for listings and traces, no key bytes. */
  readonly description: string;
  readonly aead: boolean;
  readonly ivLen: number;
  readonly icvLen: number;
  /** crypto_aead_blocksize(): 16 for CBC, 1 for stream and counter modes. */
  readonly blockSize: number;
  seal(buf: Uint8Array, esp: number, clen: number, seqHi: number): void;
  open(buf: Uint8Array, esp: number, clen: number, seqHi: number): OpenResult;
  /**
   * A many-packets-per-call engine for this transform, or null: rfc4106 on
   * node:crypto (gcm-batch.ts: one AES call per batch, GHASH in JS) and the
   * openssl-ffi AEADs with the call list (crypto-ffi.ts: one crossing per
   * batch).
   */
  batch(): EspBatchEngine | null;
  /** Which implementation runs it (crypto-ffi.ts or node:crypto); absent means node:crypto. */
  readonly backend?: EspCryptoBackend;
}

/**
 * Seals or opens many packets of one SA at once, with the same bytes as
 * `seal`/`open` one by one. Jobs with payloads longer than `maxLen` are
 * better done one at a time (the JS GHASH of gcm-batch.ts loses to node
 * beyond it); `open` returns one verdict per job, and a refused job is left
 * as it came.
 */
export interface EspBatchEngine {
  readonly maxLen: number;
  seal(jobs: readonly GcmJob[]): void;
  open(jobs: readonly GcmJob[]): boolean[];
}

/**
 * `openssl-ffi`: one reused OpenSSL context per SA through koffi
 * (crypto-ffi.ts), for rfc4106(gcm(aes)) and rfc7539esp(chacha20,poly1305);
 * `node`: node:crypto, one cipher object per packet. Both give the same bytes.
 */
export type EspCryptoBackend = 'openssl-ffi' | 'node';
/** What a caller may ask for: `auto` is openssl-ffi where it works, else node. */
export type EspCryptoBackendChoice = EspCryptoBackend | 'auto';

/**
 * The backend new SAs get: `requested`, else the NFX_CRYPTO environment
 * variable (`node`, `ffi`/`openssl-ffi`, `auto`), else auto. Asking for
 * openssl-ffi where it cannot work is a configuration error.
 */
export function espCryptoBackend(requested?: EspCryptoBackendChoice): EspCryptoBackend {
  const env = process.env['NFX_CRYPTO'];
  const choice = requested ?? (env === 'node' ? 'node' : env === 'ffi' || env === 'openssl-ffi' ? 'openssl-ffi' : 'auto');
  if (choice === 'node') return 'node';
  const why = ffiUnavailableReason();
  if (why === null) return 'openssl-ffi';
  if (choice === 'openssl-ffi') throw new EspConfigError(`the openssl-ffi crypto backend is unavailable: ${why}`);
  return 'node';
}

const AES_KEY_BYTES = new Set([16, 24, 32]);

function aesBits(keyLen: number, what: string): number {
  if (!AES_KEY_BYTES.has(keyLen)) throw new EspConfigError(`${what}: invalid key length ${keyLen * 8} bits`);
  return keyLen * 8;
}

/** Writes the RFC 4106 §5 / RFC 4309 §5 / RFC 7634 §2.1 AAD: SPI ‖ [ESN high] ‖ seq. */
function aadOf(buf: Uint8Array, esp: number, seqHi: number, scratch: Uint8Array): Uint8Array {
  if (seqHi < 0) return buf.subarray(esp, esp + 8);
  scratch.set(buf.subarray(esp, esp + 4), 0);
  writeU32(scratch, 4, seqHi);
  scratch.set(buf.subarray(esp + 4, esp + 8), 8);
  return scratch;
}

export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

export function readU32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

type AeadKind = 'gcm' | 'ccm' | 'chacha';

/** GCM, CCM and ChaCha20-Poly1305 in ESP: nonce = salt ‖ 8-byte explicit IV. */
class NodeAead implements EspCrypto {
  readonly backend = 'node' as const;
  readonly aead = true;
  readonly ivLen = 8;
  readonly blockSize = 1;
  private readonly nonce: Uint8Array;
  private readonly aad12 = new Uint8Array(12);
  constructor(
    readonly description: string,
    private readonly kind: AeadKind,
    private readonly cipher: string,
    private readonly key: Uint8Array,
    salt: Uint8Array,
    readonly icvLen: number,
  ) {
    this.nonce = new Uint8Array(salt.length + 8);
    this.nonce.set(salt, 0);
  }

  private batchEngine: GcmBatch | null = null;

  /** GCM only; built on first use (its GHASH tables take 64 KiB). */
  batch(): GcmBatch | null {
    if (this.kind !== 'gcm') return null;
    return (this.batchEngine ??= new GcmBatch(this.key, this.nonce.subarray(0, 4).slice(), this.icvLen));
  }

  private setNonce(buf: Uint8Array, esp: number): void {
    this.nonce.set(buf.subarray(esp + 8, esp + 16), this.nonce.length - 8);
  }

  seal(buf: Uint8Array, esp: number, clen: number, seqHi: number): void {
    this.setNonce(buf, esp);
    const p = esp + 16;
    const aad = aadOf(buf, esp, seqHi, this.aad12);
    const opts = { authTagLength: this.icvLen };
    if (this.kind === 'ccm') {
      const c = createCipheriv(this.cipher as CipherCCMTypes, this.key, this.nonce, opts);
      c.setAAD(aad, { plaintextLength: clen });
      buf.set(c.update(buf.subarray(p, p + clen)), p);
      c.final();
      buf.set(c.getAuthTag(), p + clen);
    } else {
      const c = createCipheriv(this.cipher as CipherGCMTypes, this.key, this.nonce, opts);
      c.setAAD(aad);
      buf.set(c.update(buf.subarray(p, p + clen)), p);
      c.final();
      buf.set(c.getAuthTag(), p + clen);
    }
  }

  open(buf: Uint8Array, esp: number, clen: number, seqHi: number): OpenResult {
    this.setNonce(buf, esp);
    const p = esp + 16;
    const aad = aadOf(buf, esp, seqHi, this.aad12);
    const tag = buf.subarray(p + clen, p + clen + this.icvLen);
    const opts = { authTagLength: this.icvLen };
    try {
      let out: Uint8Array;
      if (this.kind === 'ccm') {
        const d = createDecipheriv(this.cipher as CipherCCMTypes, this.key, this.nonce, opts);
        d.setAuthTag(tag);
        d.setAAD(aad, { plaintextLength: clen });
        out = d.update(buf.subarray(p, p + clen));
        d.final();
      } else {
        const d = createDecipheriv(this.cipher as CipherGCMTypes, this.key, this.nonce, opts);
        d.setAuthTag(tag);
        d.setAAD(aad);
        out = d.update(buf.subarray(p, p + clen));
        d.final();
      }
      buf.set(out, p);
      return OPEN_OK;
    } catch {
      return OPEN_BAD_ICV;
    }
  }
}

/**
 * RFC 4543 ENCR_NULL_AUTH_AES_GMAC: nothing is encrypted; the AAD is
 * SPI ‖ [ESN high] ‖ seq ‖ IV ‖ payload (RFC 4543 §3.3, §5), and the ICV is
 * the GCM tag over it with an empty plaintext.
 */
class Gmac implements EspCrypto {
  readonly aead = true;
  readonly ivLen = 8;
  readonly blockSize = 1;
  readonly icvLen = 16;
  private readonly nonce = new Uint8Array(12);
  private scratch = new Uint8Array(2048);
  constructor(
    readonly description: string,
    private readonly cipher: CipherGCMTypes,
    private readonly key: Uint8Array,
    salt: Uint8Array,
  ) {
    this.nonce.set(salt, 0);
  }

  batch(): null {
    return null;
  }

  private aad(buf: Uint8Array, esp: number, clen: number, seqHi: number): Uint8Array {
    const end = esp + 16 + clen;
    if (seqHi < 0) return buf.subarray(esp, end);
    const n = end - esp + 4;
    if (this.scratch.length < n) this.scratch = new Uint8Array(n * 2);
    const s = this.scratch;
    s.set(buf.subarray(esp, esp + 4), 0);
    writeU32(s, 4, seqHi);
    s.set(buf.subarray(esp + 4, end), 8);
    return s.subarray(0, n);
  }

  seal(buf: Uint8Array, esp: number, clen: number, seqHi: number): void {
    this.nonce.set(buf.subarray(esp + 8, esp + 16), 4);
    const c = createCipheriv(this.cipher, this.key, this.nonce);
    c.setAAD(this.aad(buf, esp, clen, seqHi));
    c.final();
    buf.set(c.getAuthTag(), esp + 16 + clen);
  }

  open(buf: Uint8Array, esp: number, clen: number, seqHi: number): OpenResult {
    this.nonce.set(buf.subarray(esp + 8, esp + 16), 4);
    const t = esp + 16 + clen;
    try {
      const d = createDecipheriv(this.cipher, this.key, this.nonce);
      d.setAuthTag(buf.subarray(t, t + 16));
      d.setAAD(this.aad(buf, esp, clen, seqHi));
      d.final();
      return OPEN_OK;
    } catch {
      return OPEN_BAD_ICV;
    }
  }
}

type EncKind = 'cbc' | 'ctr' | 'null';
type AuthKind = 'hmac' | 'block' | 'null';

/**
 * authenc(auth, enc) and authencesn(auth, enc): encrypt-then-MAC
 * (RFC 4303 §3.3.2). The ICV covers SPI ‖ seq ‖ IV ‖ ciphertext, with the ESN
 * high half appended after the ciphertext when ESN is on (§2.2.1, §3.3.2.1);
 * on input the ICV is checked before anything is decrypted (§3.4.4.1).
 */
class AuthEnc implements EspCrypto {
  readonly aead = false;
  private readonly ctrIv = new Uint8Array(16);
  private readonly hi = new Uint8Array(4);
  private readonly tag = new Uint8Array(64);
  constructor(
    readonly description: string,
    private readonly enc: EncKind,
    private readonly encCipher: string,
    private readonly encKey: Uint8Array,
    ctrNonce: Uint8Array,
    readonly ivLen: number,
    readonly blockSize: number,
    private readonly auth: AuthKind,
    private readonly hash: string,
    private readonly authKey: Uint8Array,
    private readonly blockMac: BlockMac | null,
    readonly icvLen: number,
  ) {
    // RFC 3686 §4: counter block = nonce ‖ IV ‖ 32-bit block counter starting at 1.
    this.ctrIv.set(ctrNonce, 0);
    this.ctrIv[15] = 1;
  }

  batch(): null {
    return null;
  }

  private crypt(buf: Uint8Array, esp: number, clen: number, decrypt: boolean): void {
    if (this.enc === 'null' || clen === 0) return;
    const p = esp + 8 + this.ivLen;
    let iv: Uint8Array;
    if (this.enc === 'ctr') {
      this.ctrIv.set(buf.subarray(esp + 8, esp + 16), 4);
      iv = this.ctrIv;
    } else {
      iv = buf.subarray(esp + 8, esp + 8 + this.ivLen);
    }
    const c = decrypt ? createDecipheriv(this.encCipher, this.encKey, iv) : createCipheriv(this.encCipher, this.encKey, iv);
    c.setAutoPadding(false);
    buf.set(c.update(buf.subarray(p, p + clen)), p);
  }

  /** The full-length ICV over [esp, end) ‖ [ESN high] into this.tag. */
  private icv(buf: Uint8Array, esp: number, end: number, seqHi: number): void {
    if (seqHi >= 0) writeU32(this.hi, 0, seqHi);
    if (this.auth === 'hmac') {
      const h = createHmac(this.hash, this.authKey);
      h.update(buf.subarray(esp, end));
      if (seqHi >= 0) h.update(this.hi);
      this.tag.set(h.digest(), 0);
    } else if (this.auth === 'block') {
      const parts = seqHi >= 0 ? [buf.subarray(esp, end), this.hi] : [buf.subarray(esp, end)];
      this.blockMac!.mac(parts, this.tag, 0);
    }
  }

  seal(buf: Uint8Array, esp: number, clen: number, seqHi: number): void {
    this.crypt(buf, esp, clen, false);
    if (this.icvLen === 0) return;
    const end = esp + 8 + this.ivLen + clen;
    this.icv(buf, esp, end, seqHi);
    buf.set(this.tag.subarray(0, this.icvLen), end);
  }

  open(buf: Uint8Array, esp: number, clen: number, seqHi: number): OpenResult {
    const end = esp + 8 + this.ivLen + clen;
    if (this.icvLen > 0) {
      this.icv(buf, esp, end, seqHi);
      if (!timingSafeEqual(this.tag.subarray(0, this.icvLen), buf.subarray(end, end + this.icvLen))) return OPEN_BAD_ICV;
    }
    // crypto/cbc.c refuses a length that is not a whole number of blocks (-EINVAL).
    if (clen % this.blockSize !== 0) return OPEN_INVALID;
    this.crypt(buf, esp, clen, true);
    return OPEN_OK;
  }
}

/** Linux's ESP algorithm table (net/xfrm/xfrm_algo.c): names, aliases, ICV sizes. */
const AEAD_NAMES: Record<string, { kind: AeadKind | 'gmac'; salt: number; icvBits: readonly number[] }> = {
  'rfc4106(gcm(aes))': { kind: 'gcm', salt: 4, icvBits: [64, 96, 128] },
  'rfc4309(ccm(aes))': { kind: 'ccm', salt: 3, icvBits: [64, 96, 128] },
  'rfc4543(gcm(aes))': { kind: 'gmac', salt: 4, icvBits: [128] },
  'rfc7539esp(chacha20,poly1305)': { kind: 'chacha', salt: 4, icvBits: [128] },
};

const ENC_NAMES: Record<string, EncKind> = {
  'cbc(aes)': 'cbc',
  aes: 'cbc',
  'rfc3686(ctr(aes))': 'ctr',
  cipher_null: 'null',
  'ecb(cipher_null)': 'null',
};

/** icv_fullbits and the default icv_truncbits plain `auth` uses (hmac(sha256) is 96 for Linux's pre-RFC 4868 interop). */
const AUTH_NAMES: Record<string, { kind: AuthKind; hash: string; fullBits: number; defaultBits: number }> = {
  'hmac(md5)': { kind: 'hmac', hash: 'md5', fullBits: 128, defaultBits: 96 },
  md5: { kind: 'hmac', hash: 'md5', fullBits: 128, defaultBits: 96 },
  'hmac(sha1)': { kind: 'hmac', hash: 'sha1', fullBits: 160, defaultBits: 96 },
  sha1: { kind: 'hmac', hash: 'sha1', fullBits: 160, defaultBits: 96 },
  'hmac(sha256)': { kind: 'hmac', hash: 'sha256', fullBits: 256, defaultBits: 96 },
  sha256: { kind: 'hmac', hash: 'sha256', fullBits: 256, defaultBits: 96 },
  'hmac(sha384)': { kind: 'hmac', hash: 'sha384', fullBits: 384, defaultBits: 192 },
  sha384: { kind: 'hmac', hash: 'sha384', fullBits: 384, defaultBits: 192 },
  'hmac(sha512)': { kind: 'hmac', hash: 'sha512', fullBits: 512, defaultBits: 256 },
  sha512: { kind: 'hmac', hash: 'sha512', fullBits: 512, defaultBits: 256 },
  'xcbc(aes)': { kind: 'block', hash: 'xcbc', fullBits: 128, defaultBits: 96 },
  'cmac(aes)': { kind: 'block', hash: 'cmac', fullBits: 128, defaultBits: 96 },
  digest_null: { kind: 'null', hash: '', fullBits: 0, defaultBits: 0 },
};

export const ESP_AEAD_ALGORITHMS = Object.keys(AEAD_NAMES);
export const ESP_ENC_ALGORITHMS = Object.keys(ENC_NAMES);
export const ESP_AUTH_ALGORITHMS = Object.keys(AUTH_NAMES);

/** Builds the SA's transform from its `aead`, or `enc` + `auth`, clauses. */
export function createEspCrypto(spec: { aead?: AeadSpec; enc?: EncSpec; auth?: AuthSpec; cryptoBackend?: EspCryptoBackendChoice }): EspCrypto {
  if (spec.aead) {
    if (spec.enc || spec.auth) throw new EspConfigError('an AEAD SA takes neither enc nor auth');
    return createAead(spec.aead, spec.cryptoBackend);
  }
  // esp_init_state(): "ESP: AEAD or CRYPT must be provided".
  if (!spec.enc) throw new EspConfigError('ESP: AEAD or CRYPT must be provided');
  return createAuthEnc(spec.enc, spec.auth);
}

function createAead(a: AeadSpec, backend: EspCryptoBackendChoice | undefined): EspCrypto {
  const info = AEAD_NAMES[a.name];
  if (!info) throw new EspConfigError(`unknown AEAD algorithm "${a.name}"`);
  if (!info.icvBits.includes(a.icvBits)) throw new EspConfigError(`${a.name}: ICV length ${a.icvBits} bits not supported (${info.icvBits.join(', ')})`);
  if (a.key.length <= info.salt) throw new EspConfigError(`${a.name}: key too short`);
  const key = a.key.slice(0, a.key.length - info.salt);
  const salt = a.key.slice(a.key.length - info.salt);
  if (info.kind === 'chacha') {
    if (key.length !== 32) throw new EspConfigError(`${a.name}: invalid key length ${key.length * 8} bits`);
    const desc = `${a.name} 256-bit key, 128-bit ICV`;
    const ffi = espCryptoBackend(backend) === 'openssl-ffi' ? createFfiAead('chacha', desc, key, salt, 16) : null;
    return ffi ?? new NodeAead(desc, 'chacha', 'chacha20-poly1305', key, salt, 16);
  }
  const bits = aesBits(key.length, a.name);
  const desc = `${a.name} ${bits}-bit key, ${a.icvBits}-bit ICV`;
  if (info.kind === 'gcm' && espCryptoBackend(backend) === 'openssl-ffi') {
    const ffi = createFfiAead('gcm', desc, key, salt, a.icvBits / 8);
    if (ffi) return ffi;
  }
  if (info.kind === 'gmac') return new Gmac(desc, `aes-${bits}-gcm` as CipherGCMTypes, key, salt);
  return new NodeAead(desc, info.kind, `aes-${bits}-${info.kind}`, key, salt, a.icvBits / 8);
}

function createAuthEnc(e: EncSpec, a: AuthSpec | undefined): EspCrypto {
  const enc = ENC_NAMES[e.name];
  if (!enc) throw new EspConfigError(`unknown encryption algorithm "${e.name}"`);
  let encCipher = '';
  let encKey = e.key;
  let nonce = new Uint8Array(0);
  let ivLen = 0;
  let blockSize = 1;
  let encDesc = e.name;
  if (enc === 'cbc') {
    const bits = aesBits(e.key.length, e.name);
    encCipher = `aes-${bits}-cbc`;
    ivLen = 16;
    blockSize = 16;
    encDesc = `${e.name} ${bits}-bit key`;
  } else if (enc === 'ctr') {
    encKey = e.key.slice(0, e.key.length - 4);
    nonce = e.key.slice(e.key.length - 4);
    const bits = aesBits(encKey.length, e.name);
    encCipher = `aes-${bits}-ctr`;
    ivLen = 8;
    encDesc = `${e.name} ${bits}-bit key`;
  } else if (e.key.length !== 0) {
    throw new EspConfigError(`${e.name}: takes an empty key`);
  }
  const authName = a?.name ?? 'digest_null';
  const auth = AUTH_NAMES[authName];
  if (!auth) throw new EspConfigError(`unknown authentication algorithm "${authName}"`);
  const truncBits = a?.truncBits ?? auth.defaultBits;
  // xfrm_user.c verify_auth_trunc(): the truncated length cannot exceed the full length.
  if (truncBits > auth.fullBits || truncBits % 8 !== 0) throw new EspConfigError(`${authName}: invalid truncation length ${truncBits}`);
  let blockMac: BlockMac | null = null;
  if (auth.kind === 'block') {
    if (a!.key.length !== 16) throw new EspConfigError(`${authName}: invalid key length ${a!.key.length * 8} bits`);
    blockMac = auth.hash === 'xcbc' ? xcbcMac(a!.key) : cmacMac(a!.key);
  }
  const desc = `${encDesc}, ${authName} ${truncBits}-bit ICV`;
  return new AuthEnc(desc, enc, encCipher, encKey, nonce, ivLen, blockSize, auth.kind, auth.hash, a?.key ?? new Uint8Array(0), blockMac, truncBits / 8);
}
