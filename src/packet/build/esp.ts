/**
 * ESP (RFC 4303 §2): SPI and sequence number, then the opaque rest (IV,
 * ciphertext, padding, ICV as the SA produced them). No cryptography here.
 */
import { concat, packBits, toBytes } from './fields.js';

export const IPPROTO_ESP = 50;

export interface EspRepr {
  spi: number;
  seq: number;
  /** Everything after the sequence number, opaque. */
  data: string | Uint8Array | null;
}

export function emitEsp(r: EspRepr, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  return concat([packBits([[32, r.spi], [32, r.seq]]), r.data === null ? new Uint8Array(0) : toBytes(r.data), payload]);
}
