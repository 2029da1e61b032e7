/**
 * Test helpers for conntrack and NAT: packets from scapy notation, checksum
 * verification with the packet views, and a two-hook router walk
 * (PREROUTING conntrack + dnat, POSTROUTING snat + confirm).
 */
import { Packet } from '../../packet/packet.js';
import { packetFromExpression } from '../../packet/scapy/index.js';
import { IPv4View } from '../../packet/wire/ipv4.js';
import { verifyL4Checksum4, verifyL4Checksum6 } from '../../packet/wire/l4checksum.js';
import { ipv6SkipExtHeaders } from '../../packet/wire/ipv6.js';
import type { IPv6Walk } from '../../packet/wire/ipv6.js';
import { internetChecksum } from '../../packet/checksum.js';
import type { NatRequest } from '../host-services.js';
import type { ConntrackTable } from './table.js';
import { conntrackConfirm, conntrackIn, conntrackRelease } from './core.js';
import { natNeedsChains, natPacket, natSetup } from '../nat/core.js';
import type { NatEnv } from '../nat/core.js';

/** An IP packet (no link layer) from scapy notation, network header set. */
export function ipPacket(expr: string, meta: Partial<Packet['meta']> = {}): Packet {
  const p = Packet.from(packetFromExpression(expr));
  p.networkHeader = p.head;
  p.protocol = p.data[0]! >> 4 === 4 ? 0x0800 : 0x86dd;
  Object.assign(p.meta, meta);
  return p;
}

const walk: IPv6Walk = { nexthdr: 0, offset: 0, fragOffset: 0 };

function l4ok(buf: Uint8Array, family: number, l3: number, l4: number, end: number, proto: number): string {
  const len = end - l4;
  const at = proto === 6 ? 16 : proto === 17 ? 6 : proto === 58 ? 2 : -1;
  if (proto === 1) return internetChecksum(buf, l4, len) === 0 ? '' : 'icmp checksum';
  if (at < 0) return '';
  if (proto === 17 && family === 2 && ((buf[l4 + 6]! << 8) | buf[l4 + 7]!) === 0) return '';
  const ok = family === 2 ? verifyL4Checksum4(buf, l3, l4, len, proto, at) : verifyL4Checksum6(buf, l3, l4, len, proto, at);
  return ok ? '' : `proto ${proto} checksum`;
}

/**
 * '' when every checksum of the packet verifies — IPv4 header, transport, and
 * for ICMP errors the quoted IP header too — else what is wrong.
 */
export function checksumProblems(p: Packet): string {
  const buf = p.buffer;
  const l3 = p.networkHeader;
  if (buf[l3]! >> 4 === 4) {
    const ip = new IPv4View(buf.subarray(0, p.tail), l3);
    if (!ip.verifyChecksum()) return 'ipv4 header checksum';
    const l4 = ip.payloadOffset;
    const end = ip.payloadEnd;
    const w = l4ok(buf, 2, l3, l4, end, ip.protocol);
    if (w !== '') return w;
    const t = buf[l4]!;
    if (ip.protocol === 1 && (t === 3 || t === 11)) {
      const inner = new IPv4View(buf.subarray(0, end), l4 + 8);
      if (!inner.verifyChecksum()) return 'quoted ipv4 header checksum';
    }
    return '';
  }
  const end = Math.min(l3 + 40 + ((buf[l3 + 4]! << 8) | buf[l3 + 5]!), p.tail);
  const l4 = ipv6SkipExtHeaders(buf, l3 + 40, buf[l3 + 6]!, walk, end);
  return l4ok(buf, 10, l3, l4, end, walk.nexthdr);
}

export interface RouterWalk {
  ctinfo: number;
  reason: string;
  verdict: number;
  /** The packet was addressed to the router after PREROUTING and dropped by its input policy. */
  local?: boolean;
}

/**
 * A forwarded packet's conntrack and NAT hooks: PREROUTING (conntrack, dnat
 * chain, NAT), POSTROUTING (snat chain, NAT, confirm). `dnat`/`snat` act as
 * a nat chain with one rule that matches every packet it sees.
 */
export function forward(
  table: ConntrackTable, pkt: Packet, family: 2 | 10,
  opts: { dnat?: NatRequest; snat?: NatRequest; env?: NatEnv; isLocal?: (pkt: Packet) => boolean } = {},
): RouterWalk {
  const env: NatEnv = opts.env ?? { masqueradeAddress: () => undefined, redirectAddress: () => undefined };
  const r = conntrackIn(table, pkt, family, 0);
  const out: RouterWalk = { ctinfo: r.ctinfo, reason: r.reason, verdict: r.verdict };
  if (r.verdict === 0) return out;
  if (opts.dnat !== undefined && natNeedsChains(table, pkt, 0)) {
    if (natSetup(table, pkt, opts.dnat, 0, env) === 0) return { ...out, verdict: 0 };
  }
  if (natPacket(table, pkt, 0) === 0) return { ...out, verdict: 0 };
  if (opts.isLocal?.(pkt)) {
    // Routed to the host and dropped by its input chain before confirmation: the new entry goes with it.
    conntrackRelease(table, pkt);
    return { ...out, verdict: 0, local: true };
  }
  if (opts.snat !== undefined && natNeedsChains(table, pkt, 4)) {
    if (natSetup(table, pkt, opts.snat, 4, env) === 0) return { ...out, verdict: 0 };
  }
  if (natPacket(table, pkt, 4) === 0) return { ...out, verdict: 0 };
  out.verdict = conntrackConfirm(table, pkt);
  return out;
}
