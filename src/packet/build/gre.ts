/** GRE (RFC 2784, key and sequence number RFC 2890, RFC 1701 routing bits). Field names as scapy's GRE. */
import { internetChecksum } from '../checksum.js';
import { concat, packBits, put16 } from './fields.js';

export const IPPROTO_GRE = 47;

export interface GreRepr {
  chksum_present: number;
  routing_present: number;
  key_present: number;
  seqnum_present: number;
  strict_route_source: number;
  recursion_control: number;
  flags: number;
  version: number;
  /** EtherType of the payload. */
  proto: number;
  /** Present when chksum_present or routing_present; null = computed (only when chksum_present) else 0. */
  chksum: number | null;
  offset: number | null;
  key: number | null;
  sequence_number: number | null;
}

export function emitGre(r: GreRepr, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const f: Array<readonly [number, number]> = [
    [1, r.chksum_present], [1, r.routing_present], [1, r.key_present], [1, r.seqnum_present],
    [1, r.strict_route_source], [3, r.recursion_control], [5, r.flags], [3, r.version], [16, r.proto],
  ];
  const hasCk = r.chksum_present === 1 || r.routing_present === 1;
  if (hasCk) f.push([16, r.chksum ?? 0], [16, r.offset ?? 0]);
  if (r.key_present === 1) f.push([32, r.key ?? 0]);
  if (r.seqnum_present === 1) f.push([32, r.sequence_number ?? 0]);
  const pkt = concat([packBits(f), payload]);
  // RFC 2784 §2.5: the checksum covers the GRE header and the payload.
  if (r.chksum_present && r.chksum === null) put16(pkt, 4, internetChecksum(pkt));
  return pkt;
}
