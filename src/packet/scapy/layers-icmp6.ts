/**
 * ICMPv6 layers (RFC 4443), neighbour discovery (RFC 4861) with its options,
 * and MLD v1/v2 (RFC 2710, RFC 3810) — scapy's class names, field names and
 * defaults. Every message's checksum uses the pseudo-header found below it.
 */
import { concat } from '../build/fields.js';
import {
  echoBody, emitIcmpv6, errorBody, llAddrOption, mld2QueryBody, mld2Record, mld2ReportBody, mldBody, mtuBody, mtuOption,
  naBody, nsBody, pointerBody, prefixInfoOption, raBody, redirectBody, rsBody,
} from '../build/icmpv6.js';
import { addr } from './addresses.js';
import { buildLayers } from './build.js';
import { bytesOf, F, get, list, num, numOrNull, subs, type FieldSpec, type LayerDef, type LayerInst } from './model.js';
import { ICMPV6_PARAMPROB_CODES, ICMPV6_TIMEEXCEED_CODES, ICMPV6_TYPES, ICMPV6_UNREACH_CODES, ND_RA_PRF } from './names.js';
import { ip6PseudoFrom } from './pseudo.js';

/** A message: the common header fields, its own fields, and how to write the body. */
function icmp6(
  name: string, type: number, fields: FieldSpec[], body: (l: LayerInst) => Uint8Array,
  codeEnum?: Readonly<Record<string, number>>, codeName = 'code',
): LayerDef {
  return {
    name, classes: [name, '_ICMPv6'],
    fields: [F.int('type', 8, type, ICMPV6_TYPES), F.int(codeName, 8, 0, codeEnum), F.int('cksum', 16, null), ...fields],
    emit: (l, p) => emitIcmpv6({ type: num(l, 'type'), code: num(l, codeName), cksum: numOrNull(l, 'cksum') }, body(l), p, ip6PseudoFrom(l.under)),
  };
}

const ip6 = (l: LayerInst, f: string) => addr(l, f, '::');
const echoFields = [F.int('id', 16, 0), F.int('seq', 16, 0), F.bytes('data')];
const echo = (l: LayerInst) => echoBody({ id: num(l, 'id'), seq: num(l, 'seq'), data: bytesOf(l, 'data') });
const errFields = [F.int('length', 8, 0), F.int('unused', 24, 0)];
const err = (l: LayerInst) => errorBody({ length: num(l, 'length'), unused: num(l, 'unused') });

export const ICMP6_LAYERS: LayerDef[] = [
  icmp6('ICMPv6EchoRequest', 128, echoFields, echo),
  icmp6('ICMPv6EchoReply', 129, echoFields, echo),
  icmp6('ICMPv6DestUnreach', 1, errFields, err, ICMPV6_UNREACH_CODES),
  icmp6('ICMPv6PacketTooBig', 2, [F.int('mtu', 32, 1280)], (l) => mtuBody({ mtu: num(l, 'mtu') })),
  icmp6('ICMPv6TimeExceeded', 3, errFields, err, ICMPV6_TIMEEXCEED_CODES),
  icmp6('ICMPv6ParamProblem', 4, [F.int('ptr', 32, 6)], (l) => pointerBody({ ptr: num(l, 'ptr') }), ICMPV6_PARAMPROB_CODES),
  icmp6('ICMPv6ND_RS', 133, [F.int('res', 32, 0)], (l) => rsBody({ res: num(l, 'res') })),
  icmp6('ICMPv6ND_RA', 134, [
    F.int('chlim', 8, 0), F.int('M', 1, 0), F.int('O', 1, 0), F.int('H', 1, 0), F.int('prf', 2, 1, ND_RA_PRF), F.int('P', 1, 0),
    F.int('res', 2, 0), F.int('routerlifetime', 16, 1800), F.int('reachabletime', 32, 0), F.int('retranstimer', 32, 0),
  ], (l) => raBody({
    chlim: num(l, 'chlim'), M: num(l, 'M'), O: num(l, 'O'), H: num(l, 'H'), prf: num(l, 'prf'), P: num(l, 'P'), res: num(l, 'res'),
    routerlifetime: num(l, 'routerlifetime'), reachabletime: num(l, 'reachabletime'), retranstimer: num(l, 'retranstimer'),
  })),
  icmp6('ICMPv6ND_NS', 135, [F.int('res', 32, 0), F.ip6('tgt', '::')], (l) => nsBody({ res: num(l, 'res'), tgt: ip6(l, 'tgt') })),
  icmp6('ICMPv6ND_NA', 136, [F.int('R', 1, 1), F.int('S', 1, 0), F.int('O', 1, 1), F.int('res', 29, 0), F.ip6('tgt', '::')],
    (l) => naBody({ R: num(l, 'R'), S: num(l, 'S'), O: num(l, 'O'), res: num(l, 'res'), tgt: ip6(l, 'tgt') })),
  icmp6('ICMPv6ND_Redirect', 137, [F.int('res', 32, 0), F.ip6('tgt', '::'), F.ip6('dst', '::')],
    (l) => redirectBody({ res: num(l, 'res'), tgt: ip6(l, 'tgt'), dst: ip6(l, 'dst') })),
  icmp6('ICMPv6MLQuery', 130, [F.int('mrd', 16, 10000), F.int('reserved', 16, 0), F.ip6('mladdr', '::')], mld),
  icmp6('ICMPv6MLReport', 131, [F.int('mrd', 16, 0), F.int('reserved', 16, 0), F.ip6('mladdr', '::')], mld),
  icmp6('ICMPv6MLDone', 132, [F.int('mrd', 16, 0), F.int('reserved', 16, 0), F.ip6('mladdr', '::')], mld),
  icmp6('ICMPv6MLQuery2', 130, [
    F.int('mrd', 16, 10000), F.int('reserved', 16, 0), F.ip6('mladdr', '::'), F.int('Resv', 4, 0), F.int('S', 1, 0), F.int('QRV', 3, 0),
    F.int('QQIC', 8, 0), F.int('sources_number', 16, null), F.ip6list('sources'),
  ], (l) => mld2QueryBody({
    mrd: num(l, 'mrd'), reserved: num(l, 'reserved'), mladdr: ip6(l, 'mladdr'), Resv: num(l, 'Resv'), S: num(l, 'S'), QRV: num(l, 'QRV'),
    QQIC: num(l, 'QQIC'), sources_number: numOrNull(l, 'sources_number'), sources: list(l, 'sources'),
  })),
  icmp6('ICMPv6MLReport2', 143, [F.int('reserved', 16, 0), F.int('records_number', 16, null), F.sub('records', ['ICMPv6MLDMultAddrRec'])], (l) => {
    const recs = subs(l, 'records');
    return mld2ReportBody({ reserved: num(l, 'reserved'), records_number: numOrNull(l, 'records_number'), records: recs.map((r) => r.def.emit(r, new Uint8Array(0))), recordCount: recs.length });
  }, undefined, 'res'),
  {
    name: 'ICMPv6MLDMultAddrRec', classes: ['ICMPv6MLDMultAddrRec'], inner: true,
    fields: [F.int('rtype', 8, 4), F.int('auxdata_len', 8, null), F.int('sources_number', 16, null), F.ip6('dst', '::'), F.ip6list('sources'), F.bytes('auxdata')],
    emit: (l) => mld2Record({
      rtype: num(l, 'rtype'), auxdata_len: numOrNull(l, 'auxdata_len'), sources_number: numOrNull(l, 'sources_number'),
      dst: ip6(l, 'dst'), sources: list(l, 'sources'), auxdata: bytesOf(l, 'auxdata'),
    }),
  },
  // Neighbour discovery options follow their message as payload layers, as in scapy.
  ndOpt('ICMPv6NDOptSrcLLAddr', 1, [F.int('len', 8, 1), F.mac('lladdr', '00:00:00:00:00:00')],
    (l) => llAddrOption({ type: num(l, 'type'), len: num(l, 'len'), lladdr: addr(l, 'lladdr', '00:00:00:00:00:00') })),
  ndOpt('ICMPv6NDOptDstLLAddr', 2, [F.int('len', 8, 1), F.mac('lladdr', '00:00:00:00:00:00')],
    (l) => llAddrOption({ type: num(l, 'type'), len: num(l, 'len'), lladdr: addr(l, 'lladdr', '00:00:00:00:00:00') })),
  ndOpt('ICMPv6NDOptPrefixInfo', 3, [
    F.int('len', 8, 4), F.int('prefixlen', 8, 64), F.int('L', 1, 1), F.int('A', 1, 1), F.int('R', 1, 0), F.int('res1', 5, 0),
    F.int('validlifetime', 32, 0xffffffff), F.int('preferredlifetime', 32, 0xffffffff), F.int('res2', 32, 0), F.ip6('prefix', '::'),
  ], (l) => prefixInfoOption({
    type: num(l, 'type'), len: num(l, 'len'), prefixlen: num(l, 'prefixlen'), L: num(l, 'L'), A: num(l, 'A'), R: num(l, 'R'), res1: num(l, 'res1'),
    validlifetime: num(l, 'validlifetime'), preferredlifetime: num(l, 'preferredlifetime'), res2: num(l, 'res2'), prefix: ip6(l, 'prefix'),
  })),
  {
    // RFC 4861 §4.6.3: as much of the redirected packet as fits in whole 8-octet units
    // (scapy cuts it down to a multiple of 8); len counts the option in 8-octet units.
    name: 'ICMPv6NDOptRedirectedHdr', classes: ['ICMPv6NDOptRedirectedHdr'],
    fields: [F.int('type', 8, 4), F.int('len', 8, null), F.bytes('res', new Uint8Array(6)), { name: 'pkt', type: { kind: 'packet' }, default: [] }],
    emit: (l, p) => {
      const whole = buildLayers(get(l, 'pkt') as LayerInst[]);
      const pkt = whole.subarray(0, whole.length - (whole.length % 8));
      const len = numOrNull(l, 'len') ?? pkt.length / 8 + 1;
      const res = concat([bytesOf(l, 'res'), new Uint8Array(6)]).subarray(0, 6);
      return concat([Uint8Array.of(num(l, 'type'), len), res, pkt, p]);
    },
  },
  ndOpt('ICMPv6NDOptMTU', 5, [F.int('len', 8, 1), F.int('res', 16, 0), F.int('mtu', 32, 1280)],
    (l) => mtuOption({ type: num(l, 'type'), len: num(l, 'len'), res: num(l, 'res'), mtu: num(l, 'mtu') })),
];

function mld(l: LayerInst): Uint8Array {
  return mldBody({ mrd: num(l, 'mrd'), reserved: num(l, 'reserved'), mladdr: ip6(l, 'mladdr') });
}

function ndOpt(name: string, type: number, fields: FieldSpec[], body: (l: LayerInst) => Uint8Array): LayerDef {
  return { name, classes: [name], fields: [F.int('type', 8, type), ...fields], emit: (l, p) => concat([body(l), p]) };
}
