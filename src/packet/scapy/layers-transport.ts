/**
 * Transport layers: TCP, UDP (and their quoted forms TCPerror, UDPerror),
 * SCTP's common header, and — scapy has neither — UDP-Lite and DCCP, defined
 * by nfx in scapy's style (test/fixtures/scapy_build.py defines the same
 * classes for the differential test):
 *   UDPLite(sport=53, dport=53, cscov=None, chksum=None)   IP proto 136
 *     cscov None = the datagram length (full coverage, as Linux sends it).
 *   DCCP(sport=0, dport=0, dataofs=None, ccval=0, cscov=0, chksum=None,
 *        res=0, type=0, x=1, reserved=0, seq=0)             IP proto 33
 *     only the generic header (RFC 4340 §5.1); the rest is payload.
 */
import { emitDccp } from '../build/dccp.js';
import { emitSctp } from '../build/sctp.js';
import { emitTcp, TCP_FLAG_LETTERS } from '../build/tcp.js';
import type { TcpOptionRepr } from '../build/tcp.js';
import { emitUdp, emitUdpLite } from '../build/udp.js';
import { F, get, num, numOrNull, type FieldSpec, type LayerDef } from './model.js';
import { transportPseudo } from './pseudo.js';

const tcpFields: FieldSpec[] = [
  F.int('sport', 16, 20), F.int('dport', 16, 80), F.int('seq', 32, 0), F.int('ack', 32, 0), F.int('dataofs', 4, null),
  F.int('reserved', 3, 0), F.flags('flags', 9, 0x02, TCP_FLAG_LETTERS), F.int('window', 16, 8192), F.int('chksum', 16, null),
  F.int('urgptr', 16, 0), { name: 'options', type: { kind: 'tcpoptions' }, default: [] },
];
const emitTcpLayer: LayerDef['emit'] = (l, p) => emitTcp({
  sport: num(l, 'sport'), dport: num(l, 'dport'), seq: num(l, 'seq'), ack: num(l, 'ack'), dataofs: numOrNull(l, 'dataofs'),
  reserved: num(l, 'reserved'), flags: num(l, 'flags'), window: num(l, 'window'), chksum: numOrNull(l, 'chksum'), urgptr: num(l, 'urgptr'),
  options: get(l, 'options') as TcpOptionRepr[],
}, p, transportPseudo(l));

export const TCP: LayerDef = { name: 'TCP', classes: ['TCP'], fields: tcpFields, emit: emitTcpLayer };
export const TCPerror: LayerDef = { name: 'TCPerror', classes: ['TCPerror', 'TCP'], fields: tcpFields, emit: emitTcpLayer };

const udpFields: FieldSpec[] = [F.int('sport', 16, 53), F.int('dport', 16, 53), F.int('len', 16, null), F.int('chksum', 16, null)];
const emitUdpLayer: LayerDef['emit'] = (l, p) =>
  emitUdp({ sport: num(l, 'sport'), dport: num(l, 'dport'), len: numOrNull(l, 'len'), chksum: numOrNull(l, 'chksum') }, p, transportPseudo(l));

export const UDP: LayerDef = { name: 'UDP', classes: ['UDP'], fields: udpFields, emit: emitUdpLayer };
export const UDPerror: LayerDef = { name: 'UDPerror', classes: ['UDPerror', 'UDP'], fields: udpFields, emit: emitUdpLayer };

export const UDPLite: LayerDef = {
  name: 'UDPLite', classes: ['UDPLite'],
  fields: [F.int('sport', 16, 53), F.int('dport', 16, 53), F.int('cscov', 16, null), F.int('chksum', 16, null)],
  emit: (l, p) => emitUdpLite({ sport: num(l, 'sport'), dport: num(l, 'dport'), cscov: numOrNull(l, 'cscov'), chksum: numOrNull(l, 'chksum') }, p, transportPseudo(l)),
};

export const SCTP: LayerDef = {
  name: 'SCTP', classes: ['SCTP'],
  fields: [F.int('sport', 16, 0), F.int('dport', 16, 0), F.int('tag', 32, 0), F.int('chksum', 32, null)],
  emit: (l, p) => emitSctp({ sport: num(l, 'sport'), dport: num(l, 'dport'), tag: num(l, 'tag'), chksum: numOrNull(l, 'chksum') }, p),
};

export const DCCP: LayerDef = {
  name: 'DCCP', classes: ['DCCP'],
  fields: [
    F.int('sport', 16, 0), F.int('dport', 16, 0), F.int('dataofs', 8, null), F.int('ccval', 4, 0), F.int('cscov', 4, 0),
    F.int('chksum', 16, null), F.int('res', 3, 0), F.int('type', 4, 0), F.int('x', 1, 1), F.int('reserved', 8, 0), F.int('seq', 48, 0),
  ],
  emit: (l, p) => emitDccp({
    sport: num(l, 'sport'), dport: num(l, 'dport'), dataofs: numOrNull(l, 'dataofs'), ccval: num(l, 'ccval'), cscov: num(l, 'cscov'),
    chksum: numOrNull(l, 'chksum'), res: num(l, 'res'), type: num(l, 'type'), x: num(l, 'x'), reserved: num(l, 'reserved'), seq: num(l, 'seq'),
  }, p, transportPseudo(l)),
};
