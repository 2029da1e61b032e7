/**
 * UDP encapsulation of ESP on port 4500 (RFC 3948): IKE packets carry a
 * four-zero-octet non-ESP marker (§2.2), NAT keepalives are a single 0xFF
 * octet (§2.3); anything else is ESP starting with a non-zero SPI.
 */
import { concat } from './fields.js';

export const NAT_T_PORT = 4500;

/** The non-ESP marker (RFC 3948 §2.2) followed by an IKE message. */
export function emitNonEspMarker(payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  return concat([new Uint8Array(4), payload]);
}

/** A NAT keepalive (RFC 3948 §2.3): one octet, 0xFF. */
export function emitNatKeepalive(payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  return concat([Uint8Array.of(0xff), payload]);
}
