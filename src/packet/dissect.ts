/**
 * The dissector: walks every layer of a captured frame and returns its fields
 * under their Wireshark display-filter names (`ip.src`, `tcp.flags`, ...), so
 * `nfx packet --json` output can be compared with `tshark -T fields` and
 * filters read the way Wireshark users expect.
 *
 * Conventions (CLI.md, checked against tshark 4.0 by test/packet-differential):
 * - numbers are numbers, also where tshark prints hex (`ip.checksum`,
 *   `tcp.flags`, `esp.spi`); booleans are 0/1; addresses are text (IPv4
 *   dotted, IPv6 RFC 5952, MACs lower case with colons);
 * - units are tshark's: `ip.hdr_len` and `tcp.hdr_len` in bytes, but
 *   `ip.frag_offset` and `ipv6.fraghdr.offset` in 8-byte units, as on the wire;
 * - when a field occurs more than once (an ICMP error quoting the offending
 *   packet, a GRE or IP-in-IP tunnel, stacked VLAN tags) `fields` holds the
 *   first, outermost occurrence; every occurrence stays in `layers`;
 * - each packet is dissected alone, like tcpdump (tshark's reassembly is off
 *   in the comparison): a first fragment's transport header is decoded, a
 *   non-first fragment's payload is not; `tcp.len` is absent for a fragment;
 * - no stream analysis: `tcp.seq` is the raw number, like `tcp.seq_raw`
 *   (tshark with relative sequence numbers off);
 * - Wireshark's own quirks are kept so the two agree field for field: IPv6
 *   also sets the hidden `ip.version` (6); a TCP segment quoted by an ICMPv4
 *   error has `tcp.seq` but no `tcp.seq_raw`, and after a redirect only its
 *   ports and `tcp.seq`; an MLDv2 query's `icmpv6.mld.maximum_response_code`
 *   is the decoded delay; an IGMPv3 report's `igmp.maddr`/`igmp.num_src`
 *   describe its first group record.
 *
 * A truncated or malformed frame never throws: the fields decoded so far are
 * returned with `malformed` set to the reason.
 */
import { PacketParseError } from './errors.js';
import {
  ETH_P_8021AD, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, IPPROTO_DSTOPTS,
  IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, IPPROTO_IPIP,
  IPPROTO_IPV6, IPPROTO_ROUTING, LINKTYPE_ETHERNET,
  LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW,
} from './wire/constants.js';
import { EthernetView, isVlanEtherType, Sll2View, SllView, VlanTagView } from './wire/ethernet.js';
import { ArpView } from './wire/arp.js';
import { IPv4View } from './wire/ipv4.js';
import { IPv6ExtHeaderView, IPv6FragmentView, IPv6RoutingView, IPv6View, IPV6_SRCRT_TYPE_4, SegmentRoutingView } from './wire/ipv6.js';
import { formatMac } from './wire/bytes.js';
import { dissectTransport } from './dissect-transport.js';

export type FieldValue = number | string;

/** One protocol layer as found in the frame. */
export interface Layer {
  /** Wireshark's protocol name: `eth`, `vlan`, `ip`, `ipv6.fraghdr`, `tcp`, `udpencap`, ... */
  name: string;
  /** Offset of the header in the frame. */
  offset: number;
  /** Bytes from the header to the end of this protocol's data (clipped to the frame). */
  length: number;
  /** This layer's fields, Wireshark names. */
  fields: Record<string, FieldValue>;
  /** True inside an ICMP/ICMPv6 error's quoted packet. */
  quoted: boolean;
  /**
   * What the one-line printer needs beyond Wireshark's fields: TCP's option
   * list in tcpdump's words, an ND redirect's destination address.
   */
  info?: string;
}

export interface Dissection {
  linkType: number;
  /** frame.len: bytes in the frame as given. */
  length: number;
  /** Every field by Wireshark name; the first (outermost) occurrence when repeated. */
  fields: Record<string, FieldValue>;
  layers: Layer[];
  /** Set when the frame is truncated or a header is impossible: why decoding stopped. */
  malformed?: string;
}

/** The fields CLI.md promises in `nfx packet --json` (docs/cli.md). */
export const CLI_FIELDS: readonly string[] = [
  'frame.len',
  'eth.src', 'eth.dst', 'eth.type',
  'vlan.id',
  'arp.opcode',
  'ip.version', 'ip.hdr_len', 'ip.dsfield.dscp', 'ip.dsfield.ecn', 'ip.len', 'ip.id', 'ip.flags.df',
  'ip.frag_offset', 'ip.ttl', 'ip.proto', 'ip.checksum', 'ip.src', 'ip.dst',
  'ipv6.tclass', 'ipv6.flow', 'ipv6.plen', 'ipv6.nxt', 'ipv6.hlim', 'ipv6.src', 'ipv6.dst',
  'tcp.srcport', 'tcp.dstport', 'tcp.seq_raw', 'tcp.ack_raw', 'tcp.flags', 'tcp.window_size_value',
  'tcp.options.mss_val',
  'udp.srcport', 'udp.dstport', 'udp.length',
  'icmp.type', 'icmp.code',
  'icmpv6.type', 'icmpv6.code',
  'esp.spi', 'esp.sequence',
];

/** Link types `dissect` understands (pcap LINKTYPE_*). */
export const SUPPORTED_LINK_TYPES: readonly number[] = [
  LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2,
];

/** Tunnels and quoted packets nest; past this depth the rest is left undecoded. */
const MAX_DEPTH = 8;

/** The dissector's working state, handed to every protocol's decoder. */
export class DissectState {
  readonly fields: Record<string, FieldValue> = {};
  readonly layers: Layer[] = [];
  malformed: string | undefined;
  private cur: Layer | null = null;
  /** Depth of nesting (tunnels, quoted packets). */
  depth = 0;
  /** > 0 inside an ICMP error's quoted packet. */
  quoted = 0;
  /** Inside a quoted packet: the quoting protocol (IPPROTO_ICMP or IPPROTO_ICMPV6) and ICMP type. */
  quotingProto = 0;
  quotingType = 0;
  /** True while decoding the payload of a fragment (its length says nothing about the datagram). */
  fragmented = false;

  constructor(readonly buf: Uint8Array) {
    this.fields['frame.len'] = buf.length;
  }

  /** Starts a layer; its fields follow with `put`. */
  begin(name: string, offset: number, end: number): Layer {
    const layer: Layer = { name, offset, length: Math.max(0, end - offset), fields: {}, quoted: this.quoted > 0 };
    this.layers.push(layer);
    this.cur = layer;
    return layer;
  }

  put(name: string, value: FieldValue): void {
    this.cur!.fields[name] = value;
    if (this.fields[name] === undefined) this.fields[name] = value;
  }

  /** Records why decoding stopped (the first reason wins). */
  fail(reason: string): void {
    if (this.malformed === undefined) this.malformed = reason;
  }
}

/**
 * Dissects one frame of the given pcap link type. Never throws: a problem
 * ends the walk and is reported in `malformed`.
 */
export function dissect(bytes: Uint8Array, linkType: number): Dissection {
  const st = new DissectState(bytes);
  try {
    switch (linkType) {
      case LINKTYPE_ETHERNET:
        dissectEthernet(st, 0, bytes.length);
        break;
      case LINKTYPE_RAW:
        if (bytes.length < 1) throw new PacketParseError('raw: empty frame', 0);
        dissectEtherType(st, bytes[0]! >> 4 === 6 ? ETH_P_IPV6 : ETH_P_IP, 0, bytes.length);
        break;
      case LINKTYPE_IPV4:
        dissectEtherType(st, ETH_P_IP, 0, bytes.length);
        break;
      case LINKTYPE_IPV6:
        dissectEtherType(st, ETH_P_IPV6, 0, bytes.length);
        break;
      case LINKTYPE_LINUX_SLL:
        dissectSll(st, bytes.length);
        break;
      case LINKTYPE_LINUX_SLL2:
        dissectSll2(st, bytes.length);
        break;
      default:
        st.fail(`unsupported link type ${linkType}`);
    }
  } catch (e) {
    // The error that stopped the walk says more than an earlier soft complaint: it wins.
    st.malformed = e instanceof PacketParseError ? e.message : `internal error: ${e instanceof Error ? e.message : String(e)}`;
  }
  const d: Dissection = { linkType, length: bytes.length, fields: st.fields, layers: st.layers };
  if (st.malformed !== undefined) d.malformed = st.malformed;
  return d;
}

function dissectEthernet(st: DissectState, off: number, end: number): void {
  const eth = new EthernetView(st.buf, off);
  st.begin('eth', off, end);
  st.put('eth.dst', eth.destinationText);
  st.put('eth.src', eth.sourceText);
  const type = eth.etherType;
  // IEEE 802.3: values up to 1500 are a length (an LLC frame), not an ethertype.
  if (type <= 1500) {
    st.put('eth.len', type);
    return;
  }
  st.put('eth.type', type);
  dissectEtherType(st, type, eth.payloadOffset, end);
}

/** Continues at `off` with the protocol an ethertype names (also used after VLAN tags, SLL, GRE). */
export function dissectEtherType(st: DissectState, type: number, off: number, end: number): void {
  if (++st.depth > MAX_DEPTH) {
    st.depth--;
    return;
  }
  try {
    if (isVlanEtherType(type)) dissectVlan(st, type, off, end);
    else if (type === ETH_P_IP) dissectIPv4(st, off, end);
    else if (type === ETH_P_IPV6) dissectIPv6(st, off, end);
    else if (type === ETH_P_ARP) dissectArp(st, off, end);
    else if (type === 0x6558) dissectEthernet(st, off, end); // ETH_P_TEB: Ethernet over GRE
  } finally {
    st.depth--;
  }
}

function dissectVlan(st: DissectState, tpid: number, off: number, end: number): void {
  const tag = new VlanTagView(st.buf, off);
  // Wireshark decodes an 802.1ad S-tag as "ieee8021ad" and 802.1Q (and 0x9100) as "vlan".
  if (tpid === ETH_P_8021AD) {
    st.begin('ieee8021ad', off, end);
    st.put('ieee8021ad.priority', tag.pcp);
    st.put('ieee8021ad.dei', tag.dei);
    st.put('ieee8021ad.id', tag.vid);
  } else {
    st.begin('vlan', off, end);
    st.put('vlan.priority', tag.pcp);
    st.put('vlan.dei', tag.dei);
    st.put('vlan.id', tag.vid);
    st.put('vlan.etype', tag.etherType);
  }
  dissectEtherType(st, tag.etherType, tag.payloadOffset, end);
}

function dissectArp(st: DissectState, off: number, end: number): void {
  const arp = new ArpView(st.buf.subarray(0, end), off);
  st.begin('arp', off, end);
  st.put('arp.hw.type', arp.hardwareType);
  st.put('arp.proto.type', arp.protocolType);
  st.put('arp.hw.size', arp.hardwareSize);
  st.put('arp.proto.size', arp.protocolSize);
  st.put('arp.opcode', arp.opcode);
  if (arp.hardwareSize === 6) st.put('arp.src.hw_mac', arp.senderHardwareText());
  if (arp.protocolSize === 4 && arp.protocolType === ETH_P_IP) st.put('arp.src.proto_ipv4', arp.senderProtocolText());
  if (arp.hardwareSize === 6) st.put('arp.dst.hw_mac', arp.targetHardwareText());
  if (arp.protocolSize === 4 && arp.protocolType === ETH_P_IP) st.put('arp.dst.proto_ipv4', arp.targetProtocolText());
}

function dissectSll(st: DissectState, end: number): void {
  const sll = new SllView(st.buf, 0);
  st.begin('sll', 0, end);
  st.put('sll.pkttype', sll.packetType);
  st.put('sll.hatype', sll.hatype);
  st.put('sll.halen', sll.addressLength);
  if (sll.hatype === 1 && sll.addressLength === 6) st.put('sll.src.eth', formatMac(st.buf, sll.addressOffset));
  sllPayload(st, sll.protocol, sll.payloadOffset, end);
}

function dissectSll2(st: DissectState, end: number): void {
  const sll = new Sll2View(st.buf, 0);
  st.begin('sll', 0, end);
  st.put('sll.etype', sll.protocol);
  st.put('sll.ifindex', sll.interfaceIndex);
  st.put('sll.hatype', sll.hatype);
  st.put('sll.pkttype', sll.packetType);
  st.put('sll.halen', sll.addressLength);
  if (sll.hatype === 1 && sll.addressLength === 6) st.put('sll.src.eth', formatMac(st.buf, sll.addressOffset));
  if (sll.protocol > 1500) dissectEtherType(st, sll.protocol, sll.payloadOffset, end);
}

/** SLL v1's protocol field: an ethertype, or below 1536 a Linux ETH_P_* pseudo-type (sll.ltype). */
function sllPayload(st: DissectState, proto: number, off: number, end: number): void {
  if (proto <= 1500) {
    st.put('sll.ltype', proto);
    return;
  }
  st.put('sll.etype', proto);
  dissectEtherType(st, proto, off, end);
}

function dissectIPv4(st: DissectState, off: number, end: number): void {
  const ip = new IPv4View(st.buf.subarray(0, end), off);
  const ipEnd = Math.min(off + ip.totalLength, end);
  st.begin('ip', off, ipEnd);
  st.put('ip.version', 4);
  st.put('ip.hdr_len', ip.headerLength);
  st.put('ip.dsfield', ip.tos);
  st.put('ip.dsfield.dscp', ip.dscp);
  st.put('ip.dsfield.ecn', ip.ecn);
  st.put('ip.len', ip.totalLength);
  st.put('ip.id', ip.identification);
  st.put('ip.flags', ip.flags);
  st.put('ip.flags.rb', (ip.flags >> 2) & 1);
  st.put('ip.flags.df', ip.dontFragment ? 1 : 0);
  st.put('ip.flags.mf', ip.moreFragments ? 1 : 0);
  st.put('ip.frag_offset', ip.fragmentOffset);
  st.put('ip.ttl', ip.ttl);
  st.put('ip.proto', ip.protocol);
  st.put('ip.checksum', ip.checksum);
  st.put('ip.src', ip.sourceText);
  st.put('ip.dst', ip.destinationText);
  // Walk the options once so an impossible option length is reported (the kernel's ip_options_compile()).
  for (const c = ip.options(); c.next(); );
  if (off + ip.totalLength > end && st.quoted === 0) {
    st.fail(`ip: total length ${ip.totalLength} exceeds the ${end - off} bytes present`);
  }
  if (ip.fragmentOffset !== 0) return; // a non-first fragment: no transport header
  const wasFragmented = st.fragmented;
  st.fragmented = ip.moreFragments;
  try {
    dissectIpProto(st, ip.protocol, ip.payloadOffset, ipEnd, off, 4);
  } finally {
    st.fragmented = wasFragmented;
  }
}

function dissectIPv6(st: DissectState, off: number, end: number): void {
  const ip6 = new IPv6View(st.buf.subarray(0, end), off);
  const ipEnd = ip6.payloadLength === 0 ? end : Math.min(off + 40 + ip6.payloadLength, end);
  st.begin('ipv6', off, ipEnd);
  st.put('ipv6.version', 6);
  // Wireshark also sets the hidden ip.version for IPv6, so `ip.version == 6` filters match.
  st.put('ip.version', 6);
  st.put('ipv6.tclass', ip6.trafficClass);
  st.put('ipv6.tclass.dscp', ip6.dscp);
  st.put('ipv6.tclass.ecn', ip6.ecn);
  st.put('ipv6.flow', ip6.flowLabel);
  st.put('ipv6.plen', ip6.payloadLength);
  st.put('ipv6.nxt', ip6.nextHeader);
  st.put('ipv6.hlim', ip6.hopLimit);
  st.put('ipv6.src', ip6.sourceText);
  st.put('ipv6.dst', ip6.destinationText);
  if (off + 40 + ip6.payloadLength > end && st.quoted === 0) {
    st.fail(`ipv6: payload length ${ip6.payloadLength} exceeds the ${end - off - 40} bytes present`);
  }
  dissectIpProto(st, ip6.nextHeader, ip6.payloadOffset, ipEnd, off, 6);
}

/**
 * Decodes what an IP protocol / next-header number names: IPv6 extension
 * headers (walked like the kernel's ipv6_skip_exthdr(), one layer each),
 * tunnels, and the transport protocols.
 */
export function dissectIpProto(st: DissectState, proto: number, off: number, end: number, ipOff: number, family: 4 | 6): void {
  if (++st.depth > MAX_DEPTH) {
    st.depth--;
    return;
  }
  try {
    if (family === 6 && (proto === IPPROTO_HOPOPTS || proto === IPPROTO_DSTOPTS || proto === IPPROTO_ROUTING)) {
      dissectIPv6Options(st, proto, off, end, ipOff);
    } else if (family === 6 && proto === IPPROTO_FRAGMENT) {
      const fh = new IPv6FragmentView(st.buf.subarray(0, end), off);
      st.begin('ipv6.fraghdr', off, end);
      st.put('ipv6.fraghdr.nxt', fh.nextHeader);
      st.put('ipv6.fraghdr.offset', fh.fragmentOffset);
      st.put('ipv6.fraghdr.more', fh.moreFragments ? 1 : 0);
      st.put('ipv6.fraghdr.ident', fh.identification);
      if (fh.fragmentOffset === 0) {
        const wasFragmented = st.fragmented;
        st.fragmented ||= fh.moreFragments;
        try {
          dissectIpProto(st, fh.nextHeader, fh.payloadOffset, end, ipOff, 6);
        } finally {
          st.fragmented = wasFragmented;
        }
      }
    } else if (proto === IPPROTO_IPIP) {
      dissectEtherType(st, ETH_P_IP, off, end);
    } else if (proto === IPPROTO_IPV6) {
      dissectEtherType(st, ETH_P_IPV6, off, end);
    } else {
      dissectTransport(st, proto, off, end, ipOff, family);
    }
  } finally {
    st.depth--;
  }
}

function dissectIPv6Options(st: DissectState, proto: number, off: number, end: number, ipOff: number): void {
  const buf = st.buf.subarray(0, end);
  if (proto === IPPROTO_ROUTING) {
    const rh = new IPv6RoutingView(buf, off);
    st.begin('ipv6.routing', off, end);
    st.put('ipv6.routing.nxt', rh.nextHeader);
    st.put('ipv6.routing.len', rh.lengthField);
    st.put('ipv6.routing.type', rh.routingType);
    st.put('ipv6.routing.segleft', rh.segmentsLeft);
    if (rh.routingType === IPV6_SRCRT_TYPE_4) {
      const srh = new SegmentRoutingView(buf, off);
      st.put('ipv6.routing.srh.last_entry', srh.lastEntry);
      st.put('ipv6.routing.srh.addr', srh.segmentText(0));
    }
    dissectIpProto(st, rh.nextHeader, rh.payloadOffset, end, ipOff, 6);
    return;
  }
  const h = new IPv6ExtHeaderView(buf, off);
  const name = proto === IPPROTO_HOPOPTS ? 'ipv6.hopopts' : 'ipv6.dstopts';
  st.begin(name, off, end);
  st.put(`${name}.nxt`, h.nextHeader);
  st.put(`${name}.len`, h.lengthField);
  st.put(`${name}.len_oct`, h.headerLength);
  for (const c = h.options(); c.next(); );
  dissectIpProto(st, h.nextHeader, h.payloadOffset, end, ipOff, 6);
}

