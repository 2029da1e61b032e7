/**
 * The two AES block-cipher MACs IPsec uses, built on node's AES because node
 * exposes neither: AES-XCBC-MAC (RFC 3566, `xcbc(aes)`) and AES-CMAC
 * (RFC 4493, used as AES-CMAC-96 by RFC 4494, `cmac(aes)`).
 *
 * Both are a CBC-MAC whose last block is first XORed with a subkey. A CBC-MAC
 * over blocks M1..Mn with a zero IV is the last block of their CBC
 * encryption, so one `aes-128-cbc` pass over the message (with the last block
 * already adjusted) computes the tag: one cipher object per message instead
 * of one per block.
 */
import { createCipheriv } from 'node:crypto';

const ZERO_IV = new Uint8Array(16);

/** AES-128 of one block under `key` (ECB, no padding). */
export function aesBlock(key: Uint8Array, block: Uint8Array): Uint8Array {
  const c = createCipheriv('aes-128-ecb', key, null);
  c.setAutoPadding(false);
  return new Uint8Array(c.update(block));
}

/** A MAC over a list of byte ranges (so callers need not concatenate the ESP packet and the ESN suffix). */
export interface BlockMac {
  /** Writes the full 16-byte tag of the concatenation of `parts` into `out` at `off`. */
  mac(parts: readonly Uint8Array[], out: Uint8Array, off: number): void;
}

/**
 * The shared CBC-MAC core: `k1` is the CBC key, `full` the subkey XORed into a
 * complete last block, `partial` the subkey XORed into a padded (10*) one.
 */
function cbcMacWithSubkeys(k1: Uint8Array, full: Uint8Array, partial: Uint8Array): BlockMac {
  let scratch = new Uint8Array(256);
  return {
    mac(parts, out, off) {
      let len = 0;
      for (const p of parts) len += p.length;
      // The message padded to whole blocks; an empty message is one padded block (RFC 3566 §4, RFC 4493 §2.4 step 3).
      const complete = len > 0 && len % 16 === 0;
      const padded = complete ? len : (Math.floor(len / 16) + 1) * 16;
      if (scratch.length < padded) scratch = new Uint8Array(padded * 2);
      let at = 0;
      for (const p of parts) {
        scratch.set(p, at);
        at += p.length;
      }
      if (!complete) {
        scratch[len] = 0x80;
        scratch.fill(0, len + 1, padded);
      }
      const sub = complete ? full : partial;
      const last = padded - 16;
      for (let i = 0; i < 16; i++) scratch[last + i]! ^= sub[i]!;
      const c = createCipheriv('aes-128-cbc', k1, ZERO_IV);
      c.setAutoPadding(false);
      const ct = c.update(scratch.subarray(0, padded));
      out.set(ct.subarray(padded - 16, padded), off);
    },
  };
}

/** RFC 3566 §4: K1 = E(K, 0x01^16) is the CBC key, K2 = E(K, 0x02^16) and K3 = E(K, 0x03^16) the last-block subkeys. */
export function xcbcMac(key: Uint8Array): BlockMac {
  if (key.length !== 16) throw new RangeError('xcbc(aes) needs a 128-bit key');
  const k1 = aesBlock(key, new Uint8Array(16).fill(1));
  const k2 = aesBlock(key, new Uint8Array(16).fill(2));
  const k3 = aesBlock(key, new Uint8Array(16).fill(3));
  return cbcMacWithSubkeys(k1, k2, k3);
}

/** RFC 4493 §2.3: doubling in GF(2^128) with the constant Rb = 0x87. */
function dbl(b: Uint8Array): Uint8Array {
  const r = new Uint8Array(16);
  for (let i = 0; i < 15; i++) r[i] = ((b[i]! << 1) | (b[i + 1]! >>> 7)) & 0xff;
  r[15] = (b[15]! << 1) & 0xff;
  if (b[0]! & 0x80) r[15]! ^= 0x87;
  return r;
}

/** RFC 4493 §2.3: L = E(K, 0^128), K1 = dbl(L) for a complete last block, K2 = dbl(K1) for a padded one. */
export function cmacMac(key: Uint8Array): BlockMac {
  if (key.length !== 16) throw new RangeError('cmac(aes) needs a 128-bit key');
  const l = aesBlock(key, new Uint8Array(16));
  const k1 = dbl(l);
  const k2 = dbl(k1);
  return cbcMacWithSubkeys(key, k1, k2);
}
