/**
 * IPsec headers (ESP header only, AH), GRE, the RFC 3948 UDP-encapsulation
 * markers and raw payload/padding — scapy's names and defaults.
 *
 * NON_ESP and NAT_KEEPALIVE take scapy.contrib.ikev2's names and fields;
 * unlike scapy (which binds them for dissection only), stacking them on UDP
 * sets both ports to 4500 (RFC 3948 §2), as ESP on UDP sets sport=4500 in scapy.
 */
import { emitAh } from '../build/ah.js';
import { emitEsp } from '../build/esp.js';
import { concat, packBits } from '../build/fields.js';
import { emitGre } from '../build/gre.js';
import { bytesOf, F, get, num, numOrNull, type LayerDef } from './model.js';
import { ETHER_TYPES, IP_PROTOS } from './names.js';

export const ESP: LayerDef = {
  name: 'ESP', classes: ['ESP'],
  fields: [F.int('spi', 32, 1), F.int('seq', 32, 0), F.bytes('data', null)],
  emit: (l, p) => emitEsp({ spi: num(l, 'spi'), seq: num(l, 'seq'), data: get(l, 'data') as Uint8Array | null }, p),
};

export const AH: LayerDef = {
  name: 'AH', classes: ['AH'],
  fields: [
    F.int('nh', 8, null, IP_PROTOS), F.int('payloadlen', 8, null), F.int('reserved', 16, null), F.int('spi', 32, 1), F.int('seq', 32, 0),
    F.bytes('icv', null), F.bytes('padding', null),
  ],
  // scapy writes None as 0 here: it fills neither nh nor payloadlen.
  emit: (l, p) => emitAh({
    nh: num(l, 'nh'), payloadlen: num(l, 'payloadlen'), reserved: num(l, 'reserved'), spi: num(l, 'spi'), seq: num(l, 'seq'),
    icv: bytesOf(l, 'icv'), padding: bytesOf(l, 'padding'),
  }, p),
};

export const GRE: LayerDef = {
  name: 'GRE', classes: ['GRE'],
  fields: [
    F.int('chksum_present', 1, 0), F.int('routing_present', 1, 0), F.int('key_present', 1, 0), F.int('seqnum_present', 1, 0),
    F.int('strict_route_source', 1, 0), F.int('recursion_control', 3, 0), F.int('flags', 5, 0), F.int('version', 3, 0),
    F.int('proto', 16, 0, ETHER_TYPES), F.int('chksum', 16, null), F.int('offset', 16, null), F.int('key', 32, null), F.int('sequence_number', 32, null),
  ],
  emit: (l, p) => emitGre({
    chksum_present: num(l, 'chksum_present'), routing_present: num(l, 'routing_present'), key_present: num(l, 'key_present'),
    seqnum_present: num(l, 'seqnum_present'), strict_route_source: num(l, 'strict_route_source'), recursion_control: num(l, 'recursion_control'),
    flags: num(l, 'flags'), version: num(l, 'version'), proto: num(l, 'proto'), chksum: numOrNull(l, 'chksum'), offset: numOrNull(l, 'offset'),
    key: numOrNull(l, 'key'), sequence_number: numOrNull(l, 'sequence_number'),
  }, p),
};

export const NON_ESP: LayerDef = {
  name: 'NON_ESP', classes: ['NON_ESP'],
  fields: [F.int('non_esp', 32, 0)],
  emit: (l, p) => concat([packBits([[32, num(l, 'non_esp')]]), p]),
};

export const NAT_KEEPALIVE: LayerDef = {
  name: 'NAT_KEEPALIVE', classes: ['NAT_KEEPALIVE'],
  fields: [F.int('nat_keepalive', 8, 0xff)],
  emit: (l, p) => concat([Uint8Array.of(num(l, 'nat_keepalive')), p]),
};

export const Raw: LayerDef = {
  name: 'Raw', classes: ['Raw'], positional: 'load',
  fields: [F.bytes('load')],
  emit: (l, p) => concat([bytesOf(l, 'load'), p]),
};

/** Trailing bytes outside every length and checksum (link padding); appended after the whole packet. */
export const Padding: LayerDef = {
  name: 'Padding', classes: ['Padding', 'Raw'], positional: 'load', padding: true,
  fields: [F.bytes('load')],
  emit: (_l, p) => p,
};
