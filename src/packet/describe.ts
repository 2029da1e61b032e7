/**
 * A tcpdump-style one-line summary of a dissected frame, in the words
 * `tcpdump -n` uses (print-ip.c, print-tcp.c, print-icmp.c, print-icmp6.c,
 * print-arp.c, print-esp.c, print-igmp.c, print-gre.c, print-isakmp.c of
 * tcpdump 4.99), without the link header as tcpdump prints without `-e`.
 * Sequence numbers are absolute (tcpdump keeps per-stream state to make them
 * relative; one packet alone has none).
 */
import type { Dissection, FieldValue, Layer } from './dissect.js';

const TRANSPORT_WITH_PORTS = new Set(['tcp', 'udp', 'sctp', 'dccp']);
const LINK_LAYERS = new Set(['eth', 'vlan', 'ieee8021ad', 'sll']);
const IPV6_EXT = new Set(['ipv6.hopopts', 'ipv6.routing', 'ipv6.fraghdr', 'ipv6.dstopts']);

export function describe(d: Dissection): string {
  let i = 0;
  while (i < d.layers.length && LINK_LAYERS.has(d.layers[i]!.name)) i++;
  let text: string;
  const first = d.layers[i];
  if (!first) {
    const type = d.fields['eth.type'] ?? d.fields['sll.etype'];
    text = type !== undefined ? `ethertype 0x${hex4(type)}, length ${d.length}` : `length ${d.length}`;
  } else {
    text = network(d.layers, i);
  }
  if (d.malformed !== undefined) text += ` [|${d.malformed}]`;
  return text;
}

function num(l: Layer, name: string): number {
  const v = l.fields[name];
  return typeof v === 'number' ? v : 0;
}

function str(l: Layer, name: string): string {
  const v = l.fields[name];
  return v === undefined ? '?' : String(v);
}

function hex4(v: FieldValue): string {
  return Number(v).toString(16).padStart(4, '0');
}

function hex8(v: number): string {
  return '0x' + v.toString(16).padStart(8, '0');
}

/** Describes the network layer at `i` (IPv4, IPv6, ARP) and everything above it. */
function network(layers: Layer[], i: number): string {
  const l = layers[i]!;
  if (l.name === 'arp') return arp(l);
  if (l.name !== 'ip' && l.name !== 'ipv6') return l.name;
  const v6 = l.name === 'ipv6';
  const src = str(l, v6 ? 'ipv6.src' : 'ip.src');
  const dst = str(l, v6 ? 'ipv6.dst' : 'ip.dst');
  const head = v6 ? 'IP6 ' : 'IP ';
  const payloadLength = v6 ? l.length - 40 : l.length - num(l, 'ip.hdr_len');
  const next = layers[i + 1];
  if (!v6 && num(l, 'ip.frag_offset') !== 0) {
    // print-ip.c: a non-first fragment has no transport header to show.
    return `${head}${src} > ${dst}: ip-proto-${num(l, 'ip.proto')}`;
  }
  let out = head;
  if (!next || !TRANSPORT_WITH_PORTS.has(next.name)) out += `${src} > ${dst}: `;
  return out + upper(layers, i + 1, src, dst, payloadLength, v6 ? num(l, 'ipv6.nxt') : num(l, 'ip.proto'));
}

/** What follows an IP header: extension headers, AH, then the transport. */
function upper(layers: Layer[], i: number, src: string, dst: string, length: number, proto: number): string {
  const l = layers[i];
  if (!l || l.quoted !== layers[i - 1]!.quoted) {
    if (proto === 59) return 'no next header';
    return ` ip-proto-${proto} ${length}`;
  }
  if (IPV6_EXT.has(l.name)) {
    const nxt = num(l, `${l.name}.nxt`);
    if (l.name === 'ipv6.fraghdr') {
      // print-frag6.c: "frag (offset|length)", offset in bytes.
      const s = `frag (${num(l, 'ipv6.fraghdr.offset') * 8}|${length - 8}) `;
      if (num(l, 'ipv6.fraghdr.offset') !== 0) return s.trimEnd();
      return s + upper(layers, i + 1, src, dst, length - 8, nxt);
    }
    const extLen = (num(l, `${l.name}.len`) + 1) * 8;
    let s: string;
    if (l.name === 'ipv6.hopopts') s = 'HBH ';
    else if (l.name === 'ipv6.dstopts') s = 'DSTOPT ';
    else s = `srcrt (len=${num(l, 'ipv6.routing.len')}, type=${num(l, 'ipv6.routing.type')}, segleft=${num(l, 'ipv6.routing.segleft')}) `;
    return s + upper(layers, i + 1, src, dst, length - extLen, nxt);
  }
  switch (l.name) {
    case 'tcp': return `${src}.${num(l, 'tcp.srcport')} > ${dst}.${num(l, 'tcp.dstport')}: ${tcp(l, length)}`;
    case 'udp': return `${src}.${num(l, 'udp.srcport')} > ${dst}.${num(l, 'udp.dstport')}: ${udp(layers, i)}`;
    case 'udplite': return ` ip-proto-136 ${length}`;
    case 'sctp': return `${src}.${num(l, 'sctp.srcport')} > ${dst}.${num(l, 'sctp.dstport')}: sctp${sctpChunk(l)}`;
    case 'dccp': return `${src}.${num(l, 'dccp.srcport')} > ${dst}.${num(l, 'dccp.dstport')}: ${dccp(l)}`;
    case 'icmp': return icmp(layers, i, length);
    case 'icmpv6': return icmpv6(layers, i, length);
    case 'igmp': return igmp(l, length);
    case 'esp': return esp(l, length);
    case 'ah': {
      const ahLen = (num(l, 'ah.length') + 2) * 4;
      const s = `AH(spi=${hex8(num(l, 'ah.spi'))},seq=0x${num(l, 'ah.sequence').toString(16)}): `;
      const next = layers[i + 1];
      const addrs = next && TRANSPORT_WITH_PORTS.has(next.name) ? '' : `${src} > ${dst}: `;
      return s + addrs + upper(layers, i + 1, src, dst, length - ahLen, num(l, 'ah.next_header'));
    }
    case 'gre': return gre(layers, i, length);
    case 'ip':
    case 'ipv6':
      return network(layers, i);
    default:
      return ` ip-proto-${proto} ${length}`;
  }
}

function arp(l: Layer): string {
  const op = num(l, 'arp.opcode');
  if (l.fields['arp.src.proto_ipv4'] === undefined) {
    return `ARP, Unknown Hardware (${num(l, 'arp.hw.type')}), Unknown Protocol (0x${hex4(num(l, 'arp.proto.type'))}) (len ${num(l, 'arp.hw.size')}/${num(l, 'arp.proto.size')}), length ${l.length}`;
  }
  const spa = str(l, 'arp.src.proto_ipv4');
  const tpa = str(l, 'arp.dst.proto_ipv4');
  if (op === 1) return `ARP, Request who-has ${tpa} tell ${spa}, length ${l.length}`;
  if (op === 2) return `ARP, Reply ${spa} is-at ${str(l, 'arp.src.hw_mac')}, length ${l.length}`;
  return `ARP, Unknown (${op}), length ${l.length}`;
}

/** print-tcp.c's flag letters, in its order. */
const TCP_FLAG_LETTERS: Array<[number, string]> = [
  [0x001, 'F'], [0x002, 'S'], [0x004, 'R'], [0x008, 'P'], [0x010, '.'], [0x020, 'U'], [0x040, 'E'], [0x080, 'W'], [0x100, 'e'],
];

function tcp(l: Layer, ipPayload: number): string {
  const flags = num(l, 'tcp.flags');
  let letters = '';
  for (const [bit, c] of TCP_FLAG_LETTERS) if (flags & bit) letters += c;
  const len = Math.max(0, ipPayload - num(l, 'tcp.hdr_len'));
  let s = `Flags [${letters || 'none'}]`;
  const seq = num(l, 'tcp.seq');
  if (len > 0 || flags & 0x007) {
    s += `, seq ${seq}`;
    if (len > 0) s += `:${(seq + len) >>> 0}`;
  }
  if (flags & 0x010) s += `, ack ${num(l, 'tcp.ack_raw')}`;
  s += `, win ${num(l, 'tcp.window_size_value')}`;
  if (flags & 0x020) s += `, urg ${num(l, 'tcp.urgent_pointer')}`;
  if (l.info !== undefined) s += `, options [${l.info}]`;
  return `${s}, length ${len}`;
}

function udp(layers: Layer[], i: number): string {
  const l = layers[i]!;
  const next = layers[i + 1];
  const ulen = num(l, 'udp.length');
  if (next?.name === 'udpencap') {
    // print-isakmp.c isakmp_rfc3948_print().
    const inner = layers[i + 2];
    if (inner?.name === 'esp') return `UDP-encap: ${esp(inner, inner.length)}`;
    if (inner?.name === 'isakmp') return 'NONESP-encap: isakmp';
    return 'isakmp-nat-keep-alive';
  }
  return `UDP, length ${ulen - 8}`;
}

function esp(l: Layer, length: number): string {
  return `ESP(spi=${hex8(num(l, 'esp.spi'))},seq=0x${num(l, 'esp.sequence').toString(16)}), length ${length}`;
}

const SCTP_CHUNKS = ['DATA', 'INIT', 'INIT ACK', 'SACK', 'HB REQ', 'HB ACK', 'ABORT', 'SHUTDOWN', 'SHUTDOWN ACK', 'OP ERR', 'COOKIE ECHO', 'COOKIE ACK', 'ECN ECHO', 'ECN CWR', 'SHUTDOWN COMPLETE'];

function sctpChunk(l: Layer): string {
  const t = l.fields['sctp.chunk_type'];
  if (typeof t !== 'number') return '';
  return ` (1) [${SCTP_CHUNKS[t] ?? `Unknown chunk type: ${t}`}]`;
}

const DCCP_TYPES = ['DCCP-Request', 'DCCP-Response', 'DCCP-Data', 'DCCP-Ack', 'DCCP-DataAck', 'DCCP-CloseReq', 'DCCP-Close', 'DCCP-Reset', 'DCCP-Sync', 'DCCP-SyncAck'];

function dccp(l: Layer): string {
  const t = num(l, 'dccp.type');
  return `DCCP (CCVal ${num(l, 'dccp.ccval')}, CsCov ${num(l, 'dccp.cscov')}) ${DCCP_TYPES[t] ?? `DCCP-Invalid-${t}`} (seq=${num(l, 'dccp.seq_raw')})`;
}

/** The quoted packet's IP header and transport layer after an ICMP error at `i`. */
function quoted(layers: Layer[], i: number): { ip: Layer | undefined; l4: Layer | undefined } {
  const ip = layers[i + 1]?.quoted ? layers[i + 1] : undefined;
  let l4: Layer | undefined;
  for (let j = i + 2; j < layers.length && layers[j]!.quoted; j++) {
    if (!IPV6_EXT.has(layers[j]!.name)) {
      l4 = layers[j];
      break;
    }
  }
  return { ip, l4 };
}

function dstPort(l4: Layer | undefined): number {
  if (!l4) return 0;
  return num(l4, `${l4.name === 'udplite' ? 'udp' : l4.name}.dstport`);
}

const UNREACH: Record<number, string> = {
  0: 'net %s unreachable', 1: 'host %s unreachable', 5: '%s unreachable - source route failed',
  6: 'net %s unreachable - unknown', 7: 'host %s unreachable - unknown', 8: '%s unreachable - source host isolated',
  9: 'net %s unreachable - admin prohibited', 10: 'host %s unreachable - admin prohibited',
  11: 'net %s unreachable - tos prohibited', 12: 'host %s unreachable - tos prohibited',
  13: 'host %s unreachable - admin prohibited filter', 14: 'host %s unreachable - host precedence violation',
  15: 'host %s unreachable - precedence cutoff',
};

const ICMP_SIMPLE: Record<number, string> = {
  4: 'source quench', 10: 'router solicitation', 15: 'information request', 16: 'information reply',
  17: 'address mask request',
};

function icmp(layers: Layer[], i: number, length: number): string {
  const l = layers[i]!;
  const type = num(l, 'icmp.type');
  const code = num(l, 'icmp.code');
  const q = quoted(layers, i);
  const qdst = q.ip ? str(q.ip, 'ip.dst') : '?';
  let s: string;
  switch (type) {
    case 0:
    case 8:
      s = `echo ${type === 8 ? 'request' : 'reply'}, id ${num(l, 'icmp.ident')}, seq ${num(l, 'icmp.seq')}`;
      break;
    case 3:
      if (code === 2) s = `${qdst} protocol ${q.ip ? num(q.ip, 'ip.proto') : 0} unreachable`;
      else if (code === 3) {
        const p = q.ip ? num(q.ip, 'ip.proto') : 0;
        const port = dstPort(q.l4);
        s = p === 6 ? `${qdst} tcp port ${port} unreachable` : p === 17 ? `${qdst} udp port ${port} unreachable` : `${qdst} protocol ${p} port ${port} unreachable`;
      } else if (code === 4) {
        const mtu = num(l, 'icmp.mtu');
        s = mtu ? `${qdst} unreachable - need to frag (mtu ${mtu})` : `${qdst} unreachable - need to frag`;
      } else if (UNREACH[code]) s = UNREACH[code]!.replace('%s', qdst);
      else s = `${qdst} unreachable - #${code}`;
      break;
    case 5: {
      const gw = str(l, 'icmp.redir_gw');
      const kinds = ['redirect %s to net %s', 'redirect %s to host %s', 'redirect-tos %s to net %s', 'redirect-tos %s to host %s'];
      s = (kinds[code] ?? `redirect-#${code} %s to %s`).replace('%s', qdst).replace('%s', gw);
      break;
    }
    case 11:
      s = code === 0 ? 'time exceeded in-transit' : code === 1 ? 'ip reassembly time exceeded' : `time exceeded-#${code}`;
      break;
    case 12:
      s = code ? `parameter problem - code ${code}` : `parameter problem - octet ${num(l, 'icmp.pointer')}`;
      break;
    case 13:
      s = `time stamp query id ${num(l, 'icmp.ident')} seq ${num(l, 'icmp.seq')}`;
      break;
    case 14:
      // tcpdump goes on with ": org …, recv …, xmit …" (the three stamps); we stop at the ids.
      s = `time stamp reply id ${num(l, 'icmp.ident')} seq ${num(l, 'icmp.seq')}`;
      break;
    default:
      s = ICMP_SIMPLE[type] ?? `type-#${type}`;
  }
  return `ICMP ${s}, length ${length}`;
}

const ICMP6_TYPES: Record<number, string> = {
  1: 'destination unreachable', 2: 'packet too big', 3: 'time exceeded in-transit', 4: 'parameter problem',
  128: 'echo request', 129: 'echo reply', 130: 'multicast listener query', 131: 'multicast listener report',
  132: 'multicast listener done', 133: 'router solicitation', 134: 'router advertisement',
  135: 'neighbor solicitation', 136: 'neighbor advertisement', 137: 'redirect', 143: 'multicast listener report v2',
};

const ICMP6_UNREACH = ['unreachable route', ' unreachable prohibited', 'beyond scope', 'unreachable address', 'unreachable port'];
const ICMP6_PARAMPROB = ['erroneous', 'next header', 'option', 'incomplete header chain'];

function icmpv6(layers: Layer[], i: number, length: number): string {
  const l = layers[i]!;
  const type = num(l, 'icmpv6.type');
  const code = num(l, 'icmpv6.code');
  let s = `ICMP6, ${ICMP6_TYPES[type] ?? `unknown icmp6 type (${type})`}`;
  const q = quoted(layers, i);
  const qdst = q.ip ? str(q.ip, 'ipv6.dst') : '?';
  switch (type) {
    case 1:
      s += `, ${ICMP6_UNREACH[code] ?? `unknown unreach code (${code})`}`;
      if (code === 0 || code === 1 || code === 3) s += ` ${qdst}`;
      else if (code === 2) s += ` ${qdst}, source address ${q.ip ? str(q.ip, 'ipv6.src') : '?'}`;
      else if (code === 4) {
        const port = dstPort(q.l4);
        s += q.l4?.name === 'tcp' ? `, ${qdst} tcp port ${port}` : q.l4?.name === 'udp' ? `, ${qdst} udp port ${port}` : `, ${qdst} protocol ${q.l4 ? 0 : 0} port ${port} unreachable`;
      }
      break;
    case 2:
      s += `, mtu ${num(l, 'icmpv6.mtu')}`;
      break;
    case 3:
      s += code === 0 ? ` for ${qdst}` : code === 1 ? ' (reassembly)' : `, unknown code (${code})`;
      break;
    case 4:
      s += ICMP6_PARAMPROB[code] !== undefined ? `, ${ICMP6_PARAMPROB[code]} - octet ${num(l, 'icmpv6.pointer')}` : `, code-#${code}`;
      break;
    case 128:
    case 129:
      s += `, id ${num(l, 'icmpv6.echo.identifier')}, seq ${num(l, 'icmpv6.echo.sequence_number')}`;
      break;
    case 130:
    case 131:
    case 132:
      if (l.fields['icmpv6.mld.maximum_response_code'] !== undefined) {
        const g = str(l, 'icmpv6.mld.multicast_address');
        s += ` v2${g !== '::' ? ` [gaddr ${g}]` : ''}`;
      } else {
        // print-icmp6.c mld6_print(), appended without a separator as tcpdump does.
        s += `max resp delay: ${num(l, 'icmpv6.mld.maximum_response_delay')} addr: ${str(l, 'icmpv6.mld.multicast_address')}`;
      }
      break;
    case 135:
      s += `, who has ${str(l, 'icmpv6.nd.ns.target_address')}`;
      break;
    case 136:
      s += `, tgt is ${str(l, 'icmpv6.nd.na.target_address')}`;
      break;
    case 137:
      s += `, ${l.info ?? '?'} to ${str(l, 'icmpv6.nd.rd.target_address')}`;
      break;
    case 143:
      s += `, ${num(l, 'icmpv6.mldr.nb_mcast_records')} group record(s)`;
      break;
  }
  return `${s}, length ${length}`;
}

function igmp(l: Layer, length: number): string {
  const type = num(l, 'igmp.type');
  const group = str(l, 'igmp.maddr');
  switch (type) {
    case 0x11: {
      if (length >= 12) {
        const mrc = num(l, 'igmp.max_resp');
        // RFC 3376 §4.1.1: codes from 128 on are floating point.
        const mrt = mrc < 128 ? mrc : ((mrc & 0x0f) | 0x10) << (((mrc & 0x70) >> 4) + 3);
        let s = 'igmp query v3';
        if (mrc !== 100) s += mrt < 600 ? ` [max resp time ${(mrt * 0.1).toFixed(1)}s]` : ` [max resp time ${Math.floor(mrt / 10)}s]`;
        if (group !== '0.0.0.0') {
          const n = num(l, 'igmp.num_src');
          s += ` [gaddr ${group}${n > 0 ? `, ${n} source(s)` : ''}]`;
        }
        return s;
      }
      const mr = num(l, 'igmp.max_resp');
      let s = 'igmp query';
      s += mr ? ` v2${mr !== 100 ? ` [max resp time ${mr}]` : ''}` : ' v1';
      if (group !== '0.0.0.0') s += ` [gaddr ${group}]`;
      if (length !== 8) s += ` [len ${length}]`;
      return s;
    }
    case 0x12: return `igmp v1 report ${group}`;
    case 0x16: return `igmp v2 report ${group}`;
    case 0x17: return `igmp leave ${group}`;
    case 0x22: return `igmp v3 report, ${num(l, 'igmp.num_grp_recs')} group record(s)`;
    default: return `igmp-${type}`;
  }
}

function gre(layers: Layer[], i: number, length: number): string {
  const l = layers[i]!;
  const fv = num(l, 'gre.flags_and_version');
  let s = `GREv${fv & 7}`;
  if (fv & 0x8000) s += ', off 0x0';
  if (l.fields['gre.key'] !== undefined) s += `, key=0x${num(l, 'gre.key').toString(16)}`;
  if (l.fields['gre.sequence_number'] !== undefined) s += `, seq ${num(l, 'gre.sequence_number')}`;
  s += `, length ${length}`;
  const inner = layers[i + 1];
  if (inner && (inner.name === 'ip' || inner.name === 'ipv6' || inner.name === 'eth')) {
    return `${s}: ${inner.name === 'eth' ? network(layers, i + 2) : network(layers, i + 1)}`;
  }
  return `${s}: gre-proto-0x${num(l, 'gre.proto').toString(16)}`;
}
