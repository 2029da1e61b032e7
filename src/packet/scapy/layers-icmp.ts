/** ICMP (and ICMPerror, quoted in ICMP errors), IGMP v1/v2 and IGMPv3 — scapy's names and defaults. */
import { emitIcmp } from '../build/icmp.js';
import { emitIgmp, emitIgmpMessage, igmpv3GroupRecord, igmpv3QueryBody, igmpv3ReportBody } from '../build/igmp.js';
import { concat } from '../build/fields.js';
import { addr } from './addresses.js';
import { F, list, num, numOrNull, subs, type FieldSpec, type LayerDef } from './model.js';
import { ICMP_CODES, ICMP_TYPES, IGMP_TYPES, IGMPV3_RTYPES, IGMPV3_TYPES } from './names.js';

const icmpFields: FieldSpec[] = [
  F.int('type', 8, 8, ICMP_TYPES),
  { name: 'code', type: { kind: 'int', bits: 8, enumBy: { field: 'type', tables: ICMP_CODES } }, default: 0 },
  F.int('chksum', 16, null), F.int('id', 16, 0), F.int('seq', 16, 0),
  // scapy stamps the current time of day into unset timestamps; nfx uses 0 so builds are reproducible.
  F.int('ts_ori', 32, 0), F.int('ts_rx', 32, 0), F.int('ts_tx', 32, 0),
  F.ip4('gw', '0.0.0.0'), F.int('ptr', 8, 0), F.int('reserved', 8, 0), F.int('length', 8, 0), F.ip4('addr_mask', '0.0.0.0'),
  F.int('nexthopmtu', 16, 0), F.int('unused', 32, 0),
];
const emitIcmpLayer: LayerDef['emit'] = (l, p) => emitIcmp({
  type: num(l, 'type'), code: num(l, 'code'), chksum: numOrNull(l, 'chksum'), id: num(l, 'id'), seq: num(l, 'seq'),
  ts_ori: num(l, 'ts_ori'), ts_rx: num(l, 'ts_rx'), ts_tx: num(l, 'ts_tx'), gw: addr(l, 'gw', '0.0.0.0'), ptr: num(l, 'ptr'),
  reserved: num(l, 'reserved'), length: num(l, 'length'), addr_mask: addr(l, 'addr_mask', '0.0.0.0'), nexthopmtu: num(l, 'nexthopmtu'),
  unused: num(l, 'unused'),
}, p);

export const ICMP: LayerDef = { name: 'ICMP', classes: ['ICMP'], fields: icmpFields, emit: emitIcmpLayer };
export const ICMPerror: LayerDef = { name: 'ICMPerror', classes: ['ICMPerror', 'ICMP'], fields: icmpFields, emit: emitIcmpLayer };

export const IGMP: LayerDef = {
  name: 'IGMP', classes: ['IGMP'],
  fields: [F.int('type', 8, 0x11, IGMP_TYPES), F.int('mrcode', 8, 20), F.int('chksum', 16, null), F.ip4('gaddr', '0.0.0.0')],
  emit: (l, p) => emitIgmp({ type: num(l, 'type'), mrcode: num(l, 'mrcode'), chksum: numOrNull(l, 'chksum'), gaddr: addr(l, 'gaddr', '0.0.0.0') }, p),
};

/** IGMPv3 is the 4-byte common header; the query (IGMPv3mq) or report (IGMPv3mr) follows as its payload. */
export const IGMPv3: LayerDef = {
  name: 'IGMPv3', classes: ['IGMPv3', 'IGMP'],
  fields: [F.int('type', 8, 0x11, IGMPV3_TYPES), F.int('mrcode', 8, 20), F.int('chksum', 16, null)],
  emit: (l, p) => emitIgmpMessage({ type: num(l, 'type'), mrcode: num(l, 'mrcode'), chksum: numOrNull(l, 'chksum') }, p),
};

export const IGMPv3mq: LayerDef = {
  name: 'IGMPv3mq', classes: ['IGMPv3mq'],
  fields: [F.ip4('gaddr', '0.0.0.0'), F.int('resv', 4, 0), F.int('s', 1, 0), F.int('qrv', 3, 0), F.int('qqic', 8, 0), F.int('numsrc', 16, null), F.ip4list('srcaddrs')],
  emit: (l, p) => {
    const b = igmpv3QueryBody({
      gaddr: addr(l, 'gaddr', '0.0.0.0'), resv: num(l, 'resv'), s: num(l, 's'), qrv: num(l, 'qrv'), qqic: num(l, 'qqic'),
      numsrc: numOrNull(l, 'numsrc'), srcaddrs: list(l, 'srcaddrs'),
    });
    return concat([b, p]);
  },
};

export const IGMPv3gr: LayerDef = {
  name: 'IGMPv3gr', classes: ['IGMPv3gr'], inner: true,
  fields: [F.int('rtype', 8, 1, IGMPV3_RTYPES), F.int('auxdlen', 8, 0), F.int('numsrc', 16, null), F.ip4('maddr', '0.0.0.0'), F.ip4list('srcaddrs')],
  emit: (l) => igmpv3GroupRecord({
    rtype: num(l, 'rtype'), auxdlen: num(l, 'auxdlen'), numsrc: numOrNull(l, 'numsrc'), maddr: addr(l, 'maddr', '0.0.0.0'), srcaddrs: list(l, 'srcaddrs'),
  }),
};

export const IGMPv3mr: LayerDef = {
  name: 'IGMPv3mr', classes: ['IGMPv3mr'],
  fields: [F.int('res2', 16, 0), F.int('numgrp', 16, null), F.sub('records', ['IGMPv3gr'])],
  emit: (l, p) => concat([igmpv3ReportBody({
    res2: num(l, 'res2'), numgrp: numOrNull(l, 'numgrp'), records: subs(l, 'records').map((r) => r.def.emit(r, new Uint8Array(0))),
  }), p]),
};
