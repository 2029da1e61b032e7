/**
 * ESP's AEADs (rfc4106(gcm(aes)) and rfc7539esp(chacha20,poly1305)) on
 * OpenSSL 3 (node's own, else the system's libcrypto.so.3), through the
 * koffi FFI, one cipher context per SA.
 *
 * Why: node:crypto builds a new cipher object (key schedule, GHASH tables,
 * C++ wrapper) for every message; at 1400 bytes that costs ~15 µs against
 * ~1 µs of AES-GCM work. The kernel and `openssl speed` keep one context per
 * key and only reset the nonce per packet; so does this module.
 *
 * How: libcrypto's EVP layer adds its own per-call bookkeeping, so the
 * cipher's provider functions are called directly, through the provider
 * dispatch table of the implementation EVP_CIPHER_fetch() picks (the public
 * provider ABI of <openssl/core_dispatch.h>: OSSL_FUNC_CIPHER_NEWCTX,
 * _ENCRYPT_INIT, _UPDATE, _FINAL, _GET_CTX_PARAMS). Per packet:
 *   seal: init(nonce), update(AAD), update(payload, in place), final, get "tag"
 *   open: init(nonce, "tag" param), update(AAD), update(payload), final (verifies)
 * The tag parameter points straight at the packet's ICV, so neither
 * direction copies it. A koffi crossing costs ~70 ns + ~25 ns per argument
 * here, as much as the AES-GCM work on 1400 bytes for five calls; so on
 * Linux x86-64 a packet's calls are written into a call list (call-list.ts)
 * and run in ONE crossing, and a batch of FFI_BATCH_SLOTS packets too
 * (EspCrypto.batch(): espOutputBatch/espInputBatch). Elsewhere, or with
 * NFX_FFI_CALL_LIST=0, each call crosses on its own. Every pointer crosses
 * as a plain number (koffi converts a Buffer argument ~10 times slower): a
 * buffer's address is looked up once per ArrayBuffer.
 *
 * Safety: every call is bounds-checked against the buffer's current length
 * before any native code touches it (a detached buffer has length 0). On an
 * ICV failure the payload, already decrypted in place, is re-encrypted so a
 * dropped packet keeps its ciphertext exactly as the node:crypto path does.
 * A self-test against node:crypto runs before the first use; if koffi or
 * libcrypto is missing, or the self-test disagrees, nothing uses this module
 * and algorithms.ts stays on node:crypto.
 */
import { createRequire } from 'node:module';
import { createCipheriv } from 'node:crypto';
import type * as KoffiModule from 'koffi';
// A cycle with algorithms.ts, which is safe: neither module uses the other while it loads.
import { OPEN_BAD_ICV, OPEN_OK } from './algorithms.js';
import type { EspCrypto } from './algorithms.js';
import { loadCallList } from './call-list.js';
import type { CallListRunner } from './call-list.js';
import { FfiAead } from './ffi-aead.js';

export { FFI_BATCH_SLOTS, ffiUseCallList } from './ffi-aead.js';

type Koffi = typeof KoffiModule;

/** <openssl/core_dispatch.h>: OSSL_OP_CIPHER and the cipher function ids used here. */
const OSSL_OP_CIPHER = 2;
const OSSL_FUNC_CIPHER_NEWCTX = 1;
const OSSL_FUNC_CIPHER_ENCRYPT_INIT = 2;
const OSSL_FUNC_CIPHER_DECRYPT_INIT = 3;
const OSSL_FUNC_CIPHER_UPDATE = 4;
const OSSL_FUNC_CIPHER_FINAL = 5;
const OSSL_FUNC_CIPHER_FREECTX = 7;
const OSSL_FUNC_CIPHER_GET_CTX_PARAMS = 10;

type InitFn = (ctx: number, key: number, keylen: number, iv: number, ivlen: number, params: number) => number;
type UpdateFn = (ctx: number, out: number, outl: number, outsize: number, inp: number, inl: number) => number;
type FinalFn = (ctx: number, out: number, outl: number, outsize: number) => number;
type ParamsFn = (ctx: number, params: number) => number;

/** One provider implementation (AES-128/192/256-GCM or ChaCha20-Poly1305). */
export interface Impl {
  provctx: number;
  /** The same functions' addresses, for call lists. */
  einitAt: number;
  dinitAt: number;
  updateAt: number;
  finalAt: number;
  getParamsAt: number;
  newctx: (provctx: number) => unknown;
  freectx: (ctx: number) => void;
  einit: InitFn;
  dinit: InitFn;
  update: UpdateFn;
  final: FinalFn;
  getParams: ParamsFn;
}

export interface Native {
  koffi: Koffi;
  /** "OpenSSL 3.0.19 (node's own)" or "... (libcrypto.so.3)": for reports. */
  source: string;
  /** memmove(p, p, 0) returns p: the address of a typed array's data. */
  addrOf: (a: Uint8Array) => unknown;
  /** The same call the other way round: an external pointer from an address. */
  ptr: (addr: number) => unknown;
  errClear: () => void;
  /** Many calls per crossing (call-list.ts), or null where it cannot run. */
  runner: CallListRunner | null;
  impls: Map<string, Impl | null>;
  fetch: (name: string) => Impl | null;
}

let native: Native | null | undefined;
let unavailable: string | null = null;

function fail(reason: string): null {
  unavailable = reason;
  native = null;
  return null;
}

/** Loads koffi and libcrypto once; null (with the reason kept) when either is missing. */
function load(): Native | null {
  if (native !== undefined) return native;
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch {
    return fail('the koffi package is not installed');
  }
  // Which OpenSSL: node's own or the system's libcrypto 3. Node's binary
  // exports its bundled OpenSSL's API (or links the system's), so
  // dlopen(NULL) finds the very library node:crypto uses. The system's is
  // bound to itself (RTLD_DEEPBIND): without that, its internal calls to
  // public functions would land in node's copy, a second OpenSSL of perhaps
  // another version. Node's own comes first: one OpenSSL in the process,
  // and measured per packet here the system's (the one `openssl speed`
  // runs) is no faster (docs/esp-performance.md). NFX_FFI_LIBCRYPTO=node|system
  // picks one.
  const pick = process.env['NFX_FFI_LIBCRYPTO'];
  type Found = { crypto: KoffiModule.IKoffiLib; libc: KoffiModule.IKoffiLib; where: string } | null;
  const nodeOwn = (): Found => {
    try {
      const self = koffi.load(null);
      self.func('unsigned long OpenSSL_version_num()');
      self.func('void *EVP_CIPHER_fetch(void *libctx, const char *name, const char *props)');
      return { crypto: self, libc: self, where: "node's own" };
    } catch {
      return null;
    }
  };
  const system = (): Found => {
    for (const path of ['libcrypto.so.3', '/usr/lib/x86_64-linux-gnu/libcrypto.so.3', '/usr/lib64/libcrypto.so.3']) {
      try {
        return { crypto: koffi.load(path, { deep: true }), libc: koffi.load('libc.so.6'), where: path };
      } catch {
        // try the next name
      }
    }
    return null;
  };
  const found = pick === 'node' ? nodeOwn() : pick === 'system' ? system() : nodeOwn() ?? system();
  if (!found) return fail(pick ? `no OpenSSL 3 found as NFX_FFI_LIBCRYPTO=${pick} asks` : 'neither node nor the system provides OpenSSL 3 (libcrypto.so.3)');
  const { crypto, libc, where } = found;
  try {
    const version = crypto.func('unsigned long OpenSSL_version_num()')() as number;
    // 0xMNN00PP0L: the provider API exists from 3.0.
    if (typeof version !== 'number' || version < 0x30000000) return fail(`OpenSSL ${version.toString(16)} is older than 3.0`);
    const addrOf = libc.func('uintptr_t memmove(void *dst, void *src, size_t n)');
    const toPtr = libc.func('void *memmove(uintptr_t dst, uintptr_t src, size_t n)');
    const ptr = (addr: number): unknown => toPtr(addr, addr, 0);
    const cipherFetch = crypto.func('void *EVP_CIPHER_fetch(void *libctx, const char *name, const char *props)');
    const providerOf = crypto.func('void *EVP_CIPHER_get0_provider(void *cipher)');
    const provctxOf = crypto.func('uintptr_t OSSL_PROVIDER_get0_provider_ctx(void *prov)');
    const query = crypto.func('uintptr_t OSSL_PROVIDER_query_operation(void *prov, int op, _Out_ int *nocache)');
    const errClear = crypto.func('void ERR_clear_error()') as () => void;
    const u64 = (addr: number): number => Number(new DataView(koffi.view(ptr(addr), 8)).getBigUint64(0, true));
    const i32 = (addr: number): number => new DataView(koffi.view(ptr(addr), 4)).getInt32(0, true);
    // Prototypes are named types in koffi: declare each once.
    const protos = new Map<string, KoffiModule.IKoffiCType>();
    const fn = <T>(addr: number, sig: string): T => {
      let proto = protos.get(sig);
      if (!proto) protos.set(sig, (proto = koffi.proto(sig)));
      return koffi.decode(ptr(addr), proto) as T;
    };
    const text = crypto.func('const char *OpenSSL_version(int type)')(0) as string;
    const n: Native = {
      koffi,
      source: `${text.split(' ').slice(0, 2).join(' ')} (${where})`,
      addrOf: (a) => addrOf(a, a, 0),
      ptr,
      errClear,
      runner: loadCallList(koffi, libc),
      impls: new Map(),
      fetch(name: string): Impl | null {
        if (this.impls.has(name)) return this.impls.get(name)!;
        let impl: Impl | null = null;
        // The EVP_CIPHER is never freed: it holds the provider loaded for our contexts.
        const cipher = cipherFetch(null, name, null);
        if (cipher) {
          const prov = providerOf(cipher);
          const provctx = provctxOf(prov) as number;
          const algs = query(prov, OSSL_OP_CIPHER, [0]) as number;
          // OSSL_ALGORITHM { names, property_definition, implementation, description }: 32 bytes, NULL-terminated.
          for (let i = 0; algs && i < 1000; i++) {
            const e = algs + i * 32;
            const names = u64(e);
            if (!names) break;
            const list = String(koffi.decode(ptr(names), 'char', -1)).toLowerCase().split(':');
            if (!list.includes(name.toLowerCase())) continue;
            const table = u64(e + 16);
            // OSSL_DISPATCH { int function_id; void (*function)(void) }: 16 bytes, id 0 ends it.
            const f = new Map<number, number>();
            for (let j = 0; j < 64; j++) {
              const id = i32(table + j * 16);
              if (!id) break;
              f.set(id, u64(table + j * 16 + 8));
            }
            const need = [OSSL_FUNC_CIPHER_NEWCTX, OSSL_FUNC_CIPHER_FREECTX, OSSL_FUNC_CIPHER_ENCRYPT_INIT, OSSL_FUNC_CIPHER_DECRYPT_INIT,
              OSSL_FUNC_CIPHER_UPDATE, OSSL_FUNC_CIPHER_FINAL, OSSL_FUNC_CIPHER_GET_CTX_PARAMS];
            if (!need.every((id) => f.get(id))) break;
            // int returns only: a uintptr_t return costs far more in koffi than an int.
            const initSig = 'int nfx_esp_init(uintptr_t, uintptr_t, size_t, uintptr_t, size_t, uintptr_t)';
            impl = {
              provctx,
              einitAt: f.get(OSSL_FUNC_CIPHER_ENCRYPT_INIT)!,
              dinitAt: f.get(OSSL_FUNC_CIPHER_DECRYPT_INIT)!,
              updateAt: f.get(OSSL_FUNC_CIPHER_UPDATE)!,
              finalAt: f.get(OSSL_FUNC_CIPHER_FINAL)!,
              getParamsAt: f.get(OSSL_FUNC_CIPHER_GET_CTX_PARAMS)!,
              newctx: fn(f.get(OSSL_FUNC_CIPHER_NEWCTX)!, 'uintptr_t nfx_esp_newctx(uintptr_t)'),
              freectx: fn(f.get(OSSL_FUNC_CIPHER_FREECTX)!, 'void nfx_esp_freectx(uintptr_t)'),
              einit: fn(f.get(OSSL_FUNC_CIPHER_ENCRYPT_INIT)!, initSig),
              dinit: fn(f.get(OSSL_FUNC_CIPHER_DECRYPT_INIT)!, initSig),
              update: fn(f.get(OSSL_FUNC_CIPHER_UPDATE)!, 'int nfx_esp_update(uintptr_t, uintptr_t, uintptr_t, size_t, uintptr_t, size_t)'),
              final: fn(f.get(OSSL_FUNC_CIPHER_FINAL)!, 'int nfx_esp_final(uintptr_t, uintptr_t, uintptr_t, size_t)'),
              getParams: fn(f.get(OSSL_FUNC_CIPHER_GET_CTX_PARAMS)!, 'int nfx_esp_get_ctx_params(uintptr_t, uintptr_t)'),
            };
            break;
          }
        }
        errClear();
        this.impls.set(name, impl);
        return impl;
      },
    };
    native = n;
  } catch (err) {
    return fail(`libcrypto binding failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!selfTest(native)) return fail(unavailable ?? 'self-test against node:crypto failed');
  return native;
}

export type FfiAeadKind = 'gcm' | 'chacha';

/** Whether the call list runs on this machine (x86-64 Linux, executable mapping allowed). */
export function ffiCallListAvailable(): boolean {
  return load()?.runner != null;
}

const CIPHER_NAME: Record<FfiAeadKind, (keyLen: number) => string> = {
  gcm: (k) => `AES-${k * 8}-GCM`,
  chacha: () => 'ChaCha20-Poly1305',
};

/**
 * The FFI transform for `kind` with `key` (without the salt) and the 4-byte
 * `salt`, or null when the FFI backend is unavailable (see
 * `ffiUnavailableReason()`).
 */
export function createFfiAead(kind: FfiAeadKind, description: string, key: Uint8Array, salt: Uint8Array, icvLen: number): EspCrypto | null {
  const n = load();
  if (!n) return null;
  return build(n, kind, description, key, salt, icvLen);
}

function build(n: Native, kind: FfiAeadKind, description: string, key: Uint8Array, salt: Uint8Array, icvLen: number): EspCrypto | null {
  if (salt.length !== 4 || icvLen < 8 || icvLen > 16) return null;
  const impl = n.fetch(CIPHER_NAME[kind](key.length));
  if (!impl) return null;
  return new FfiAead(n, impl, description, key, salt, icvLen);
}

/** Which OpenSSL the FFI backend runs on, e.g. "OpenSSL 3.0.19 (node's own)", or null when unavailable. */
export function ffiOpenSsl(): string | null {
  return load()?.source ?? null;
}

/** Why the FFI backend cannot be used here (no koffi, no libcrypto 3, failed self-test), or null when it can. */
export function ffiUnavailableReason(): string | null {
  load();
  return native ? null : unavailable;
}

/**
 * Seals a few packets with both node:crypto and the FFI, opens them again,
 * and checks a tampered one is refused and left as it was.
 */
function selfTest(n: Native): boolean {
  const cases: [FfiAeadKind, string, number, number][] = [
    ['gcm', 'aes-128-gcm', 16, 16], ['gcm', 'aes-256-gcm', 32, 8], ['chacha', 'chacha20-poly1305', 32, 16],
  ];
  try {
    for (const [kind, node, keyLen, icv] of cases) {
      const key = new Uint8Array(keyLen).map((_, i) => i * 7 + 1);
      const salt = new Uint8Array([0xca, 0xfe, 0xba, 0xbe]);
      const aead = build(n, kind, 'self-test', key, salt, icv);
      if (!aead) {
        unavailable = `OpenSSL has no ${CIPHER_NAME[kind](keyLen)}`;
        return false;
      }
      for (const clen of [0, 1, 37, 300]) {
        const buf = new Uint8Array(16 + clen + icv).map((_, i) => (i * 13 + clen) & 0xff);
        const plain = buf.slice();
        aead.seal(buf, 0, clen, clen === 37 ? 5 : -1);
        const aad = clen === 37 ? Uint8Array.from([...plain.subarray(0, 4), 0, 0, 0, 5, ...plain.subarray(4, 8)]) : plain.subarray(0, 8);
        const c = createCipheriv(node as 'aes-128-gcm', key, Uint8Array.from([...salt, ...plain.subarray(8, 16)]), { authTagLength: icv });
        c.setAAD(aad);
        const ct = c.update(plain.subarray(16, 16 + clen));
        c.final();
        const want = Uint8Array.from([...plain.subarray(0, 16), ...ct, ...c.getAuthTag()]);
        if (Buffer.compare(want, buf) !== 0) {
          unavailable = `self-test: ${kind} output differs from node:crypto`;
          return false;
        }
        const bad = buf.slice();
        bad[bad.length - 1]! ^= 1;
        const sealed = bad.slice();
        if (aead.open(bad, 0, clen, clen === 37 ? 5 : -1) !== OPEN_BAD_ICV || Buffer.compare(bad, sealed) !== 0) {
          unavailable = `self-test: ${kind} accepted a bad ICV or changed its packet`;
          return false;
        }
        if (aead.open(buf, 0, clen, clen === 37 ? 5 : -1) !== OPEN_OK || Buffer.compare(buf.subarray(16, 16 + clen), plain.subarray(16, 16 + clen)) !== 0) {
          unavailable = `self-test: ${kind} could not open its own packet`;
          return false;
        }
      }
    }
    return true;
  } catch (err) {
    unavailable = `self-test threw: ${err instanceof Error ? err.message : String(err)}`;
    return false;
  }
}
