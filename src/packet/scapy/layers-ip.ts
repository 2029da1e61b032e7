/**
 * Network layers: IP (and IPerror, the quoted header in ICMP errors) with
 * its options, IPv6 (and IPerror6) with its extension headers and their
 * options — scapy's field names and defaults.
 */
import { concat } from '../build/fields.js';
import { emitIpv4, emitIpv4Option, routeOptionData, type Ipv4Repr } from '../build/ipv4.js';
import {
  emitIpv6, emitIpv6Fragment, emitIpv6OptionsHeader, emitIpv6Routing, emitIpv6SegmentRouting, type Ipv6OptionRepr,
} from '../build/ipv6.js';
import { ip4, ip6 } from '../build/fields.js';
import { addr, DEFAULT_IP, DEFAULT_IP6 } from './addresses.js';
import { bytesOf, F, list, num, numOrNull, subs, type FieldSpec, type LayerDef, type LayerInst } from './model.js';
import { IP_PROTOS, IPV6_NH } from './names.js';

const EMPTY = new Uint8Array(0);

// --- IPv4 options (RFC 791 §3.1), inner layers of IP.options ---------------

/** copy_flag, optclass, option: the type octet, with this option's defaults. */
const optHeader = (copy: number, cls: number, option: number): FieldSpec[] =>
  [F.int('copy_flag', 1, copy), F.int('optclass', 2, cls), F.int('option', 5, option)];
const optType = (l: LayerInst) => ({ copy_flag: num(l, 'copy_flag'), optclass: num(l, 'optclass'), option: num(l, 'option') });

function singleOption(name: string, option: number): LayerDef {
  return { name, classes: [name, 'IPOption'], inner: true, fields: optHeader(0, 0, option), emit: (l) => emitIpv4Option({ ...optType(l), single: true }) };
}
function routeOption(name: string, copy: number, option: number): LayerDef {
  return {
    name, classes: [name, 'IPOption_RR', 'IPOption'], inner: true,
    fields: [...optHeader(copy, 0, option), F.int('length', 8, null), F.int('pointer', 8, 4), F.ip4list('routers')],
    emit: (l) => emitIpv4Option({ ...optType(l), length: numOrNull(l, 'length'), data: routeOptionData(num(l, 'pointer'), list(l, 'routers')) }),
  };
}

export const IP_OPTIONS: LayerDef[] = [
  {
    name: 'IPOption', classes: ['IPOption'], inner: true,
    fields: [...optHeader(0, 0, 0), F.int('length', 8, null), F.bytes('value')],
    emit: (l) => emitIpv4Option({ ...optType(l), length: numOrNull(l, 'length'), data: bytesOf(l, 'value') }),
  },
  singleOption('IPOption_EOL', 0),
  singleOption('IPOption_NOP', 1),
  routeOption('IPOption_RR', 0, 7),
  routeOption('IPOption_LSRR', 1, 3),
  routeOption('IPOption_SSRR', 1, 9),
  {
    // RFC 2113 router alert.
    name: 'IPOption_Router_Alert', classes: ['IPOption_Router_Alert', 'IPOption'], inner: true,
    fields: [...optHeader(1, 0, 20), F.int('length', 8, 4), F.int('alert', 16, 0)],
    emit: (l) => emitIpv4Option({ ...optType(l), length: num(l, 'length'), data: Uint8Array.of(num(l, 'alert') >> 8, num(l, 'alert') & 0xff) }),
  },
  {
    // RFC 791 internet timestamp; the address is present unless flg = 0 (timestamps only).
    name: 'IPOption_Timestamp', classes: ['IPOption_Timestamp', 'IPOption'], inner: true,
    fields: [...optHeader(0, 2, 4), F.int('length', 8, null), F.int('pointer', 8, 9), F.int('oflw', 4, 0), F.int('flg', 4, 1),
      F.ip4('internet_address', '0.0.0.0'), F.int('timestamp', 32, 0)],
    emit: (l) => emitIpv4Option({
      ...optType(l), length: numOrNull(l, 'length'),
      data: concat([
        Uint8Array.of(num(l, 'pointer'), (num(l, 'oflw') << 4) | num(l, 'flg')),
        num(l, 'flg') !== 0 ? ip4(addr(l, 'internet_address', '0.0.0.0')) : EMPTY,
        u32(num(l, 'timestamp')),
      ]),
    }),
  },
];

// --- IPv4 --------------------------------------------------------------------

const ipFields: FieldSpec[] = [
  F.int('version', 4, 4), F.int('ihl', 4, null), F.int('tos', 8, 0), F.int('len', 16, null), F.int('id', 16, 1),
  F.flags('flags', 3, 0, ['MF', 'DF', 'evil']), F.int('frag', 13, 0), F.int('ttl', 8, 64), F.int('proto', 8, 0, IP_PROTOS),
  F.int('chksum', 16, null), F.ip4('src', null), F.ip4('dst', null), F.sub('options', IP_OPTIONS.map((o) => o.name)),
];

/** The builder object for an IP/IPerror layer. */
export function ipv4Repr(l: LayerInst): Ipv4Repr {
  return {
    version: num(l, 'version'), ihl: numOrNull(l, 'ihl'), tos: num(l, 'tos'), len: numOrNull(l, 'len'), id: num(l, 'id'),
    flags: num(l, 'flags'), frag: num(l, 'frag'), ttl: num(l, 'ttl'), proto: num(l, 'proto'), chksum: numOrNull(l, 'chksum'),
    src: addr(l, 'src', DEFAULT_IP), dst: addr(l, 'dst', DEFAULT_IP),
    options: concat(subs(l, 'options').map((o) => o.def.emit(o, EMPTY))),
  };
}

export const IP: LayerDef = { name: 'IP', classes: ['IP'], l3: true, fields: ipFields, emit: (l, p) => emitIpv4(ipv4Repr(l), p) };
export const IPerror: LayerDef = { name: 'IPerror', classes: ['IPerror', 'IP'], l3: true, fields: ipFields, emit: (l, p) => emitIpv4(ipv4Repr(l), p) };

// --- IPv6 --------------------------------------------------------------------

const ip6Fields: FieldSpec[] = [
  F.int('version', 4, 6), F.int('tc', 8, 0), F.int('fl', 20, 0), F.int('plen', 16, null), F.int('nh', 8, 59, IPV6_NH),
  F.int('hlim', 8, 64), F.ip6('src', null), F.ip6('dst', null),
];
const emit6: LayerDef['emit'] = (l, p) => emitIpv6({
  version: num(l, 'version'), tc: num(l, 'tc'), fl: num(l, 'fl'), plen: numOrNull(l, 'plen'), nh: num(l, 'nh'), hlim: num(l, 'hlim'),
  src: addr(l, 'src', DEFAULT_IP6), dst: addr(l, 'dst', DEFAULT_IP6),
}, p);

export const IPv6: LayerDef = { name: 'IPv6', classes: ['IPv6'], l3: true, fields: ip6Fields, emit: emit6 };
export const IPerror6: LayerDef = { name: 'IPerror6', classes: ['IPerror6', 'IPv6'], l3: true, fields: ip6Fields, emit: emit6 };

// --- Hop-by-hop / destination options (RFC 8200 §4.2) -----------------------

function tlvOption(name: string, otype: number, fields: FieldSpec[], data: (l: LayerInst) => Uint8Array, optlen: number | null, align?: readonly [number, number]): LayerDef {
  return {
    name, classes: [name], inner: true,
    fields: [F.int('otype', 8, otype), ...(optlen === null ? [F.int('optlen', 8, null)] : [F.int('optlen', 8, optlen)]), ...fields],
    emit: (l) => {
      const o: Ipv6OptionRepr = { otype: num(l, 'otype'), optlen: numOrNull(l, 'optlen'), data: data(l) };
      if (align) o.align = align;
      return optionBytes(o);
    },
  };
}
const u16 = (v: number) => Uint8Array.of(v >> 8, v & 0xff);
const u32 = (v: number) => Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);

/** Alignment requirements (RFC 2711 §2.1 router alert 2n, RFC 2675 jumbo 4n+2, RFC 6275 §6.3 HAO 8n+6). */
const ALIGN: Readonly<Record<string, readonly [number, number]>> = { RouterAlert: [2, 0], Jumbo: [4, 2], HAO: [8, 6] };

export const IP6_OPTIONS: LayerDef[] = [
  { name: 'Pad1', classes: ['Pad1'], inner: true, fields: [F.int('otype', 8, 0)], emit: (l) => Uint8Array.of(num(l, 'otype')) },
  tlvOption('PadN', 1, [F.bytes('optdata')], (l) => bytesOf(l, 'optdata'), null),
  tlvOption('HBHOptUnknown', 1, [F.bytes('optdata')], (l) => bytesOf(l, 'optdata'), null),
  tlvOption('RouterAlert', 5, [F.int('value', 16, null)], (l) => u16(num(l, 'value')), 2, ALIGN.RouterAlert),
  tlvOption('Jumbo', 0xc2, [F.int('jumboplen', 32, null)], (l) => u32(num(l, 'jumboplen')), 4, ALIGN.Jumbo),
  tlvOption('HAO', 0xc9, [F.ip6('hoa', '::')], (l) => ip6(addr(l, 'hoa', '::')), 16, ALIGN.HAO),
];

function optionBytes(o: Ipv6OptionRepr): Uint8Array {
  const data = o.data ?? EMPTY;
  return concat([Uint8Array.of(o.otype, (o.optlen ?? data.length) & 0xff), data]);
}

/** The option list as builder objects: each option's bytes, with its alignment for autopad. */
function optionReprs(l: LayerInst): Ipv6OptionRepr[] {
  return subs(l, 'options').map((o) => {
    const b = o.def.emit(o, EMPTY);
    // An already-encoded option: otype + the rest as data with an explicit length octet.
    const r: Ipv6OptionRepr = b.length === 1 ? { otype: b[0]!, single: true } : { otype: b[0]!, optlen: b[1]!, data: b.subarray(2) };
    const a = ALIGN[o.def.name];
    if (a) r.align = a;
    return r;
  });
}

const EXT = ['_IPv6ExtHdr'];
const optionsHeader = (name: string): LayerDef => ({
  name, classes: [name, ...EXT],
  fields: [F.int('nh', 8, 59, IPV6_NH), F.int('len', 8, null), F.int('autopad', 8, 1), F.sub('options', IP6_OPTIONS.map((o) => o.name))],
  emit: (l, p) => emitIpv6OptionsHeader({ nh: num(l, 'nh'), len: numOrNull(l, 'len'), autopad: num(l, 'autopad') !== 0, options: optionReprs(l) }, p),
});

export const IPv6ExtHdrHopByHop = optionsHeader('IPv6ExtHdrHopByHop');
export const IPv6ExtHdrDestOpt = optionsHeader('IPv6ExtHdrDestOpt');

export const IPv6ExtHdrRouting: LayerDef = {
  name: 'IPv6ExtHdrRouting', classes: ['IPv6ExtHdrRouting', ...EXT],
  fields: [F.int('nh', 8, 59, IPV6_NH), F.int('len', 8, null), F.int('type', 8, 0), F.int('segleft', 8, null), F.int('reserved', 32, 0), F.ip6list('addresses')],
  emit: (l, p) => emitIpv6Routing({
    nh: num(l, 'nh'), len: numOrNull(l, 'len'), type: num(l, 'type'), segleft: numOrNull(l, 'segleft'), reserved: num(l, 'reserved'), addresses: list(l, 'addresses'),
  }, p),
};

// --- Segment routing TLVs (RFC 8754 §2.1), inner layers of tlv_objects ------

function srhTlv(name: string, type: number | null, fields: FieldSpec[], body: (l: LayerInst) => Uint8Array, len: number | null): LayerDef {
  return {
    name, classes: [name, 'IPv6ExtHdrSegmentRoutingTLV'], inner: true,
    fields: [F.int('type', 8, type), F.int('len', 8, len), ...fields],
    emit: (l) => {
      const b = body(l);
      return concat([Uint8Array.of(num(l, 'type'), numOrNull(l, 'len') ?? b.length), b]);
    },
  };
}
const nodeTlv = (field: string) => [F.int('reserved', 8, 0), F.int('flags', 8, 0), F.ip6(field, '::1')];
const nodeBody = (field: string) => (l: LayerInst) => concat([Uint8Array.of(num(l, 'reserved'), num(l, 'flags')), ip6(addr(l, field, '::1'))]);

export const SRH_TLVS: LayerDef[] = [
  // The generic TLV's length is a plain field in scapy (default 0), not computed.
  srhTlv('IPv6ExtHdrSegmentRoutingTLV', null, [F.bytes('value')], (l) => bytesOf(l, 'value'), 0),
  srhTlv('IPv6ExtHdrSegmentRoutingTLVIngressNode', 1, nodeTlv('ingress_node'), nodeBody('ingress_node'), 18),
  srhTlv('IPv6ExtHdrSegmentRoutingTLVEgressNode', 2, nodeTlv('egress_node'), nodeBody('egress_node'), 18),
  srhTlv('IPv6ExtHdrSegmentRoutingTLVPad1', 0, [F.bytes('padding', Uint8Array.of(0))], (l) => bytesOf(l, 'padding'), null),
  srhTlv('IPv6ExtHdrSegmentRoutingTLVPadN', 4, [F.bytes('padding', Uint8Array.of(0))], (l) => bytesOf(l, 'padding'), null),
];

export const IPv6ExtHdrSegmentRouting: LayerDef = {
  name: 'IPv6ExtHdrSegmentRouting', classes: ['IPv6ExtHdrSegmentRouting', ...EXT],
  fields: [
    F.int('nh', 8, 59, IPV6_NH), F.int('len', 8, null), F.int('type', 8, 4), F.int('segleft', 8, null), F.int('lastentry', 8, null),
    F.int('unused1', 1, 0), F.int('protected', 1, 0), F.int('oam', 1, 0), F.int('alert', 1, 0), F.int('hmac', 1, 0), F.int('unused2', 3, 0),
    F.int('tag', 16, 0), F.ip6list('addresses', ['::1']), F.sub('tlv_objects', SRH_TLVS.map((t) => t.name)),
  ],
  emit: (l, p) => emitIpv6SegmentRouting({
    nh: num(l, 'nh'), len: numOrNull(l, 'len'), type: num(l, 'type'), segleft: numOrNull(l, 'segleft'), lastentry: numOrNull(l, 'lastentry'),
    unused1: num(l, 'unused1'), protected: num(l, 'protected'), oam: num(l, 'oam'), alert: num(l, 'alert'), hmac: num(l, 'hmac'),
    unused2: num(l, 'unused2'), tag: num(l, 'tag'), addresses: list(l, 'addresses'),
    tlvs: concat(subs(l, 'tlv_objects').map((t) => t.def.emit(t, EMPTY))),
  }, p),
};

export const IPv6ExtHdrFragment: LayerDef = {
  name: 'IPv6ExtHdrFragment', classes: ['IPv6ExtHdrFragment', ...EXT],
  fields: [F.int('nh', 8, 59, IPV6_NH), F.int('res1', 8, 0), F.int('offset', 13, 0), F.int('res2', 2, 0), F.int('m', 1, 0), F.int('id', 32, null)],
  emit: (l, p) => emitIpv6Fragment({ nh: num(l, 'nh'), res1: num(l, 'res1'), offset: num(l, 'offset'), res2: num(l, 'res2'), m: num(l, 'm'), id: num(l, 'id') }, p),
};
