/**
 * The dissector's transport half: TCP, UDP (and ESP in UDP on 4500),
 * UDP-Lite, SCTP, DCCP, ICMP and ICMPv6 (with the quoted packet of an error,
 * neighbour discovery and MLD), IGMP, ESP, AH and GRE. Field names and units
 * are Wireshark's; see dissect.ts for the conventions.
 */
import type { DissectState } from './dissect.js';
import { dissectEtherType, dissectIpProto } from './dissect.js';
import {
  ETH_P_IP, ETH_P_IPV6, IPPROTO_AH, IPPROTO_DCCP, IPPROTO_ESP, IPPROTO_GRE, IPPROTO_ICMP, IPPROTO_ICMPV6,
  IPPROTO_IGMP, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE, UDP_ENCAP_PORT,
} from './wire/constants.js';
import { TcpView, TCPOPT_MSS, TCPOPT_TIMESTAMP, TCPOPT_WINDOW } from './wire/tcp.js';
import { classifyUdpEncap, UdpLiteView, UdpView, UDP_ENCAP_ESP, UDP_ENCAP_IKE, UDP_ENCAP_KEEPALIVE } from './wire/udp.js';
import { SctpView } from './wire/sctp.js';
import { DccpView } from './wire/dccp.js';
import { IcmpView, ICMP_DEST_UNREACH, ICMP_ECHO, ICMP_ECHOREPLY, ICMP_FRAG_NEEDED, ICMP_PARAMETERPROB, ICMP_REDIRECT, ICMP_TIMESTAMP, ICMP_TIMESTAMPREPLY } from './wire/icmp.js';
import {
  Icmpv6View, ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, ICMPV6_MGM_QUERY, ICMPV6_MGM_REDUCTION, ICMPV6_MGM_REPORT,
  ICMPV6_MLD2_REPORT, ICMPV6_PARAMPROB, ICMPV6_PKT_TOOBIG, Mld2ReportView, MldView, ND_OPT_MTU, ND_OPT_PREFIX_INFO,
  ND_OPT_SOURCE_LL_ADDR, ND_OPT_TARGET_LL_ADDR, NDISC_NEIGHBOUR_ADVERTISEMENT, NDISC_NEIGHBOUR_SOLICITATION,
  NDISC_REDIRECT, NDISC_ROUTER_ADVERTISEMENT, NDISC_ROUTER_SOLICITATION, NdpView,
} from './wire/icmpv6.js';
import { IgmpView } from './wire/igmp.js';
import { AhView, EspView } from './wire/ipsec.js';
import { GreView } from './wire/gre.js';
import { formatIPv4, formatIPv6, u32 } from './wire/bytes.js';

export function dissectTransport(st: DissectState, proto: number, off: number, end: number, ipOff: number, family: 4 | 6): void {
  switch (proto) {
    case IPPROTO_TCP: return dissectTcp(st, off, end);
    case IPPROTO_UDP: return dissectUdp(st, off, end);
    case IPPROTO_UDPLITE: return dissectUdpLite(st, off, end);
    case IPPROTO_SCTP: return dissectSctp(st, off, end);
    case IPPROTO_DCCP: return dissectDccp(st, off, end);
    case IPPROTO_ICMP: return dissectIcmp(st, off, end);
    case IPPROTO_ICMPV6: return dissectIcmpv6(st, off, end);
    case IPPROTO_IGMP: return dissectIgmp(st, off, end);
    case IPPROTO_ESP: return dissectEsp(st, off, end);
    case IPPROTO_AH: return dissectAh(st, off, end, ipOff, family);
    case IPPROTO_GRE: return dissectGre(st, off, end);
    default:
      return;
  }
}

function dissectTcp(st: DissectState, off: number, end: number): void {
  const tcp = new TcpView(st.buf.subarray(0, end), off);
  st.begin('tcp', off, end);
  st.put('tcp.srcport', tcp.sourcePort);
  st.put('tcp.dstport', tcp.destinationPort);
  // Wireshark knows the segment length only for a whole, unquoted segment.
  if (st.quoted === 0 && !st.fragmented) st.put('tcp.len', Math.max(0, end - tcp.payloadOffset));
  if (st.quotingProto === IPPROTO_ICMP) {
    // In an ICMPv4 error's quote Wireshark does no sequence analysis and names the raw
    // number tcp.seq; for a redirect it stops there (it reads only the first 8 bytes).
    st.put('tcp.seq', tcp.sequence);
    if (st.quotingType === ICMP_REDIRECT) return;
  } else {
    // nfx does no stream analysis: tcp.seq is the raw number too (tshark's relative numbers off).
    st.put('tcp.seq', tcp.sequence);
    st.put('tcp.seq_raw', tcp.sequence);
  }
  st.put('tcp.ack_raw', tcp.acknowledgment);
  st.put('tcp.hdr_len', tcp.headerLength);
  st.put('tcp.flags', tcp.flags);
  st.put('tcp.window_size_value', tcp.window);
  st.put('tcp.checksum', tcp.checksum);
  st.put('tcp.urgent_pointer', tcp.urgentPointer);
  const b = st.buf;
  const layer = st.layers[st.layers.length - 1]!;
  if (tcp.headerLength > 20) layer.info = tcpdumpOptions(b, off + 20, off + tcp.headerLength);
  for (const c = tcp.options(); c.next(); ) {
    // Wireshark names an option's fields only when its length is the one the RFC fixes.
    if (c.kind === TCPOPT_MSS && c.length === 4) {
      st.put('tcp.options.mss_val', (b[c.dataOffset]! << 8) | b[c.dataOffset + 1]!);
    } else if (c.kind === TCPOPT_WINDOW && c.length === 3) {
      const shift = b[c.dataOffset]!;
      st.put('tcp.options.wscale.shift', shift);
      // RFC 7323 §2.3: shifts above 14 are used as 14.
      st.put('tcp.options.wscale.multiplier', 2 ** Math.min(shift, 14));
    } else if (c.kind === TCPOPT_TIMESTAMP && c.length === 10) {
      st.put('tcp.options.timestamp.tsval', u32(b, c.dataOffset));
      st.put('tcp.options.timestamp.tsecr', u32(b, c.dataOffset + 4));
    }
  }
}

/**
 * TCP options as tcpdump prints them (print-tcp.c): `mss 1460,sackOK,TS val 1
 * ecr 0,nop,wscale 7`, SACK blocks absolute, an unknown kind as `unknown-N`,
 * and `[len N]` where the length is not the one the kind implies. A bad
 * length ends the list with `[bad opt]`.
 */
function tcpdumpOptions(b: Uint8Array, start: number, end: number): string {
  const parts: string[] = [];
  let p = start;
  while (p < end) {
    const kind = b[p]!;
    if (kind === 0 || kind === 1) {
      parts.push(kind === 0 ? 'eol' : 'nop');
      p++;
      if (kind === 0) break;
      continue;
    }
    const len = p + 1 < end ? b[p + 1]! : 0;
    if (len < 2 || p + len > end) {
      parts.push('[bad opt]');
      break;
    }
    const d = p + 2;
    let s: string;
    let want = 2;
    switch (kind) {
      case TCPOPT_MSS: s = `mss ${len >= 4 ? (b[d]! << 8) | b[d + 1]! : '?'}`; want = 4; break;
      case TCPOPT_WINDOW: s = `wscale ${len >= 3 ? b[d] : '?'}`; want = 3; break;
      case 4: s = 'sackOK'; break;
      case 5: {
        const n = len - 2;
        if (n % 8 !== 0) s = 'sack invalid sack';
        else {
          s = `sack ${n / 8} `;
          for (let k = 0; k < n; k += 8) s += `{${u32(b, d + k)}:${u32(b, d + k + 4)}}`;
        }
        want = len;
        break;
      }
      case TCPOPT_TIMESTAMP: s = len >= 10 ? `TS val ${u32(b, d)} ecr ${u32(b, d + 4)}` : 'TS'; want = 10; break;
      default: s = `unknown-${kind}`; break;
    }
    if (len !== want) s += `[len ${len}]`;
    parts.push(s);
    p += len;
  }
  return parts.join(',');
}

function dissectUdp(st: DissectState, off: number, end: number): void {
  const udp = new UdpView(st.buf.subarray(0, end), off);
  // The UDP length bounds the payload when it is plausible; else the IP payload does.
  const udpEnd = udp.length >= 8 && off + udp.length <= end ? off + udp.length : end;
  st.begin('udp', off, udpEnd);
  st.put('udp.srcport', udp.sourcePort);
  st.put('udp.dstport', udp.destinationPort);
  st.put('udp.length', udp.length);
  st.put('udp.checksum', udp.checksum);
  if (udp.sourcePort === UDP_ENCAP_PORT || udp.destinationPort === UDP_ENCAP_PORT) {
    const at = udp.payloadOffset;
    const kind = classifyUdpEncap(st.buf, at, udpEnd - at);
    if (udpEnd - at <= 0) return;
    st.begin('udpencap', at, udpEnd);
    if (kind === UDP_ENCAP_ESP) dissectEsp(st, at, udpEnd);
    else if (kind === UDP_ENCAP_IKE) st.begin('isakmp', at + 4, udpEnd);
    else if (kind !== UDP_ENCAP_KEEPALIVE) st.fail('udpencap: payload too short for ESP');
  }
}

function dissectUdpLite(st: DissectState, off: number, end: number): void {
  const udp = new UdpLiteView(st.buf.subarray(0, end), off, end - off);
  st.begin('udplite', off, end);
  st.put('udp.srcport', udp.sourcePort);
  st.put('udp.dstport', udp.destinationPort);
  st.put('udp.checksum_coverage', udp.checksumCoverage);
  // RFC 3828 §3.2: UDP-Lite's length is the IP payload length; Wireshark shows it as udp.length.
  st.put('udp.length', end - off);
  st.put('udp.checksum', udp.checksum);
}

function dissectSctp(st: DissectState, off: number, end: number): void {
  const sctp = new SctpView(st.buf.subarray(0, end), off);
  st.begin('sctp', off, end);
  st.put('sctp.srcport', sctp.sourcePort);
  st.put('sctp.dstport', sctp.destinationPort);
  st.put('sctp.verification_tag', sctp.verificationTag);
  st.put('sctp.checksum', sctp.checksum);
  if (sctp.firstChunkType(end) >= 0) {
    st.put('sctp.chunk_type', sctp.firstChunkType(end));
    st.put('sctp.chunk_length', sctp.firstChunkLength(end));
  }
}

function dissectDccp(st: DissectState, off: number, end: number): void {
  const dccp = new DccpView(st.buf.subarray(0, end), off);
  st.begin('dccp', off, end);
  st.put('dccp.srcport', dccp.sourcePort);
  st.put('dccp.dstport', dccp.destinationPort);
  st.put('dccp.data_offset', dccp.dataOffset);
  st.put('dccp.ccval', dccp.ccval);
  st.put('dccp.cscov', dccp.checksumCoverage);
  st.put('dccp.checksum', dccp.checksum);
  st.put('dccp.type', dccp.type);
  st.put('dccp.x', dccp.extendedSequence ? 1 : 0);
  st.put('dccp.seq_raw', dccp.sequence);
}

/** Decodes the packet an ICMP or ICMPv6 error quotes (RFC 792, RFC 4443 §2.4(c)). */
function dissectQuoted(st: DissectState, type: number, off: number, end: number, quotingProto: number, quotingType: number): void {
  if (off >= end) return;
  st.quoted++;
  st.quotingProto = quotingProto;
  st.quotingType = quotingType;
  try {
    dissectEtherType(st, type, off, end);
  } finally {
    st.quoted--;
    st.quotingProto = 0;
    st.quotingType = 0;
  }
}

function dissectIcmp(st: DissectState, off: number, end: number): void {
  const icmp = new IcmpView(st.buf.subarray(0, end), off);
  st.begin('icmp', off, end);
  st.put('icmp.type', icmp.type);
  st.put('icmp.code', icmp.code);
  st.put('icmp.checksum', icmp.checksum);
  switch (icmp.type) {
    case ICMP_ECHO:
    case ICMP_ECHOREPLY:
    case ICMP_TIMESTAMP:
    case ICMP_TIMESTAMPREPLY:
      st.put('icmp.ident', icmp.identifier);
      st.put('icmp.seq', icmp.sequence);
      return;
    case ICMP_DEST_UNREACH:
      if (icmp.code === ICMP_FRAG_NEEDED) st.put('icmp.mtu', icmp.nextHopMtu);
      break;
    case ICMP_REDIRECT:
      st.put('icmp.redir_gw', icmp.gatewayText);
      break;
    case ICMP_PARAMETERPROB:
      st.put('icmp.pointer', icmp.pointer);
      break;
  }
  if (icmp.isError && st.quoted === 0) dissectQuoted(st, ETH_P_IP, icmp.payloadOffset, end, IPPROTO_ICMP, icmp.type);
}

function dissectIcmpv6(st: DissectState, off: number, end: number): void {
  const buf = st.buf.subarray(0, end);
  const icmp = new Icmpv6View(buf, off);
  st.begin('icmpv6', off, end);
  st.put('icmpv6.type', icmp.type);
  st.put('icmpv6.code', icmp.code);
  st.put('icmpv6.checksum', icmp.checksum);
  const type = icmp.type;
  if (type === ICMPV6_ECHO_REQUEST || type === ICMPV6_ECHO_REPLY) {
    st.put('icmpv6.echo.identifier', icmp.identifier);
    st.put('icmpv6.echo.sequence_number', icmp.sequence);
  } else if (icmp.isError) {
    if (type === ICMPV6_PKT_TOOBIG) st.put('icmpv6.mtu', icmp.mtu);
    if (type === ICMPV6_PARAMPROB) st.put('icmpv6.pointer', icmp.pointer);
    if (st.quoted === 0) dissectQuoted(st, ETH_P_IPV6, icmp.payloadOffset, end, IPPROTO_ICMPV6, type);
  } else if (type >= NDISC_ROUTER_SOLICITATION && type <= NDISC_REDIRECT) {
    dissectNdp(st, buf, off, end);
  } else if (type === ICMPV6_MGM_QUERY || type === ICMPV6_MGM_REPORT || type === ICMPV6_MGM_REDUCTION) {
    const mld = new MldView(buf, off);
    if (mld.isVersion2Query(end)) {
      // RFC 3810 §5.1.3: in MLDv2 the field is a code, a floating-point value from 32768 on;
      // Wireshark shows the delay it stands for.
      const code = mld.maxResponseDelay;
      st.put('icmpv6.mld.maximum_response_code', code < 0x8000 ? code : ((code & 0xfff) | 0x1000) << (((code >> 12) & 7) + 3));
      st.put('icmpv6.mld.multicast_address', mld.multicastAddressText);
      st.put('icmpv6.mld.flag.qrv', buf[off + 24]! & 7);
      st.put('icmpv6.mld.qqi', buf[off + 25]!);
      st.put('icmpv6.mld.nb_sources', mld.numberOfSources);
    } else {
      st.put('icmpv6.mld.maximum_response_delay', mld.maxResponseDelay);
      st.put('icmpv6.mld.multicast_address', mld.multicastAddressText);
    }
  } else if (type === ICMPV6_MLD2_REPORT) {
    st.put('icmpv6.mldr.nb_mcast_records', new Mld2ReportView(buf, off).numberOfRecords);
  }
}

function dissectNdp(st: DissectState, buf: Uint8Array, off: number, end: number): void {
  const nd = new NdpView(buf, off);
  switch (nd.type) {
    case NDISC_ROUTER_ADVERTISEMENT:
      st.put('icmpv6.nd.ra.cur_hop_limit', nd.curHopLimit);
      st.put('icmpv6.nd.ra.router_lifetime', nd.routerLifetime);
      st.put('icmpv6.nd.ra.reachable_time', nd.reachableTime);
      st.put('icmpv6.nd.ra.retrans_timer', nd.retransTimer);
      break;
    case NDISC_NEIGHBOUR_SOLICITATION:
      st.put('icmpv6.nd.ns.target_address', nd.targetText);
      break;
    case NDISC_NEIGHBOUR_ADVERTISEMENT:
      st.put('icmpv6.nd.na.flag.r', (nd.naFlags >> 2) & 1);
      st.put('icmpv6.nd.na.flag.s', (nd.naFlags >> 1) & 1);
      st.put('icmpv6.nd.na.flag.o', nd.naFlags & 1);
      st.put('icmpv6.nd.na.target_address', nd.targetText);
      break;
    case NDISC_REDIRECT:
      st.put('icmpv6.nd.rd.target_address', nd.targetText);
      st.layers[st.layers.length - 1]!.info = nd.destinationText;
      break;
    case NDISC_ROUTER_SOLICITATION:
      break;
  }
  for (const c = nd.options(end); c.next(); ) {
    st.put('icmpv6.opt.type', c.type);
    st.put('icmpv6.opt.length', c.length / 8);
    if ((c.type === ND_OPT_SOURCE_LL_ADDR || c.type === ND_OPT_TARGET_LL_ADDR) && c.length === 8) {
      st.put('icmpv6.opt.linkaddr', c.linkLayerText());
    } else if (c.type === ND_OPT_MTU && c.length === 8) {
      st.put('icmpv6.opt.mtu', u32(buf, c.offset + 4));
    } else if (c.type === ND_OPT_PREFIX_INFO && c.length === 32) {
      st.put('icmpv6.opt.prefix', formatIPv6(buf, c.offset + 16));
    }
  }
}

function dissectIgmp(st: DissectState, off: number, end: number): void {
  const igmp = new IgmpView(st.buf, off, end);
  st.begin('igmp', off, end);
  st.put('igmp.version', igmp.version);
  st.put('igmp.type', igmp.type);
  if (igmp.version >= 2 && igmp.type !== 0x22) st.put('igmp.max_resp', igmp.maxResponse);
  st.put('igmp.checksum', igmp.checksum);
  if (igmp.version === 3 && igmp.type === 0x22) {
    st.put('igmp.num_grp_recs', igmp.v3ReportNumberOfRecords);
    // RFC 3376 §4.2.4: the first group record: type, aux data len, number of sources, address.
    if (igmp.v3ReportNumberOfRecords > 0 && off + 16 <= end) {
      st.put('igmp.num_src', (st.buf[off + 10]! << 8) | st.buf[off + 11]!);
      st.put('igmp.maddr', formatIPv4(st.buf, off + 12));
    }
    return;
  }
  st.put('igmp.maddr', igmp.groupText);
  if (igmp.version === 3) {
    st.put('igmp.qrv', igmp.v3QueryQrv);
    st.put('igmp.qqic', igmp.v3QueryQqic);
    st.put('igmp.num_src', igmp.v3QueryNumberOfSources);
  }
}

function dissectEsp(st: DissectState, off: number, end: number): void {
  const esp = new EspView(st.buf.subarray(0, end), off);
  st.begin('esp', off, end);
  st.put('esp.spi', esp.spi);
  st.put('esp.sequence', esp.sequence);
}

function dissectAh(st: DissectState, off: number, end: number, ipOff: number, family: 4 | 6): void {
  const ah = new AhView(st.buf.subarray(0, end), off);
  st.begin('ah', off, end);
  st.put('ah.next_header', ah.nextHeader);
  st.put('ah.length', ah.payloadLength);
  st.put('ah.spi', ah.spi);
  st.put('ah.sequence', ah.sequence);
  dissectIpProto(st, ah.nextHeader, ah.payloadOffset, end, ipOff, family);
}

function dissectGre(st: DissectState, off: number, end: number): void {
  const gre = new GreView(st.buf.subarray(0, end), off);
  st.begin('gre', off, end);
  st.put('gre.flags_and_version', gre.flagsAndVersion);
  st.put('gre.proto', gre.protocol);
  if (gre.hasChecksum) st.put('gre.checksum', gre.checksum);
  if (gre.hasKey) st.put('gre.key', gre.key);
  if (gre.hasSequence) st.put('gre.sequence_number', gre.sequence);
  dissectEtherType(st, gre.protocol, gre.payloadOffset, end);
}
