/**
 * The algorithms the xfrm framework knows, after net/xfrm/xfrm_algo.c
 * (aead_list, aalg_list, ealg_list, calg_list): their canonical names, the
 * old compat names the kernel also accepts (`xfrm_*_get_byname(name, probe)`
 * matches either and stores the canonical one), ICV sizes, and which key
 * lengths the crypto API's setkey accepts (a wrong key length fails in
 * esp_init_state with "Kernel was unable to initialize cryptographic operations").
 * Only what nfx's ESP implements is listed, plus what `ip xfrm` users meet.
 */

export type AlgoKind = 'aead' | 'auth' | 'enc' | 'comp';

export interface AlgoDesc {
  kind: AlgoKind;
  name: string;
  compat?: string;
  /** auth: default truncation (icv_truncbits); aead: the one ICV size of this entry. */
  icvTruncBits: number;
  /** auth: the full digest size (icv_fullbits). */
  icvFullBits: number;
  /** Key lengths in bytes that setkey accepts; undefined = any. */
  keyBytes?: readonly number[];
}

const AES = [16, 24, 32];
const plus = (xs: readonly number[], n: number): number[] => xs.map((x) => x + n);

/** aead_list: one entry per allowed ICV size, as the kernel does (rfc4106 has three). */
const AEAD: AlgoDesc[] = [
  ...[64, 96, 128].map((icv) => ({ kind: 'aead' as const, name: 'rfc4106(gcm(aes))', icvTruncBits: icv, icvFullBits: 128, keyBytes: plus(AES, 4) })),
  ...[64, 96, 128].map((icv) => ({ kind: 'aead' as const, name: 'rfc4309(ccm(aes))', icvTruncBits: icv, icvFullBits: 128, keyBytes: plus(AES, 3) })),
  { kind: 'aead', name: 'rfc4543(gcm(aes))', icvTruncBits: 128, icvFullBits: 128, keyBytes: plus(AES, 4) },
  { kind: 'aead', name: 'rfc7539esp(chacha20,poly1305)', icvTruncBits: 128, icvFullBits: 128, keyBytes: [36] },
];

/** aalg_list. xcbc/cmac take an AES key; HMAC takes any length. */
const AUTH: AlgoDesc[] = [
  { kind: 'auth', name: 'digest_null', icvTruncBits: 0, icvFullBits: 0 },
  { kind: 'auth', name: 'hmac(md5)', compat: 'md5', icvTruncBits: 96, icvFullBits: 128 },
  { kind: 'auth', name: 'hmac(sha1)', compat: 'sha1', icvTruncBits: 96, icvFullBits: 160 },
  { kind: 'auth', name: 'hmac(sha256)', compat: 'sha256', icvTruncBits: 96, icvFullBits: 256 },
  { kind: 'auth', name: 'hmac(sha384)', icvTruncBits: 192, icvFullBits: 384 },
  { kind: 'auth', name: 'hmac(sha512)', icvTruncBits: 256, icvFullBits: 512 },
  { kind: 'auth', name: 'hmac(rmd160)', compat: 'rmd160', icvTruncBits: 96, icvFullBits: 160 },
  { kind: 'auth', name: 'xcbc(aes)', icvTruncBits: 96, icvFullBits: 128, keyBytes: AES },
  { kind: 'auth', name: 'cmac(aes)', icvTruncBits: 96, icvFullBits: 128, keyBytes: AES },
];

/** ealg_list. rfc3686 carries a 4-byte nonce after the AES key. */
const ENC: AlgoDesc[] = [
  { kind: 'enc', name: 'ecb(cipher_null)', compat: 'cipher_null', icvTruncBits: 0, icvFullBits: 0 }, // null_setkey() accepts any key
  { kind: 'enc', name: 'cbc(des3_ede)', compat: 'des3_ede', icvTruncBits: 0, icvFullBits: 0, keyBytes: [24] },
  { kind: 'enc', name: 'cbc(aes)', compat: 'aes', icvTruncBits: 0, icvFullBits: 0, keyBytes: AES },
  { kind: 'enc', name: 'rfc3686(ctr(aes))', compat: 'ctr(aes)', icvTruncBits: 0, icvFullBits: 0, keyBytes: plus(AES, 4) },
];

/** calg_list. */
const COMP: AlgoDesc[] = [
  { kind: 'comp', name: 'deflate', icvTruncBits: 0, icvFullBits: 0 },
  { kind: 'comp', name: 'lzs', icvTruncBits: 0, icvFullBits: 0 },
  { kind: 'comp', name: 'lzjh', icvTruncBits: 0, icvFullBits: 0 },
];

const TABLES: Record<AlgoKind, AlgoDesc[]> = { aead: AEAD, auth: AUTH, enc: ENC, comp: COMP };

/**
 * xfrm_{aalg,ealg,calg}_get_byname / xfrm_aead_get_byname: canonical or compat
 * name; for AEAD the ICV length must equal one of the entries.
 */
export function findAlgorithm(kind: AlgoKind, name: string, icvBits?: number): AlgoDesc | undefined {
  return TABLES[kind].find(
    (d) => (d.name === name || d.compat === name) && (kind !== 'aead' || d.icvTruncBits === icvBits),
  );
}

/** All canonical names of a kind (documentation and tests). */
export function algorithmNames(kind: AlgoKind): string[] {
  return [...new Set(TABLES[kind].map((d) => d.name))];
}

/** Would the crypto API accept a key of this many bytes? */
export function keyLengthOk(d: AlgoDesc, keyBytes: number): boolean {
  return d.keyBytes === undefined || d.keyBytes.includes(keyBytes);
}
