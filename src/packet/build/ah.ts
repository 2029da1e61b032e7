/** AH (RFC 4302 §2): next header, payload length, SPI, sequence number, ICV. */
import { concat, packBits, toBytes } from './fields.js';

export const IPPROTO_AH = 51;

export interface AhRepr {
  nh: number;
  /** AH length in 32-bit words minus 2 (RFC 4302 §2.2); null = computed from the ICV. */
  payloadlen: number | null;
  reserved: number;
  spi: number;
  seq: number;
  icv: string | Uint8Array;
  padding: string | Uint8Array;
}

export function emitAh(r: AhRepr, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const icv = toBytes(r.icv), pad = toBytes(r.padding);
  const plen = r.payloadlen ?? (12 + icv.length + pad.length) / 4 - 2;
  return concat([packBits([[8, r.nh], [8, plen], [16, r.reserved], [32, r.spi], [32, r.seq]]), icv, pad, payload]);
}
