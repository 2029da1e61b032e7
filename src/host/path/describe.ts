/**
 * Small helpers of the walk: texts for `why`, the deterministic generator,
 * packet surgery (a reassembled datagram replacing its first fragment).
 */
import { Packet } from '../../packet/packet.js';
import type { Host } from '../types.js';
import type { RouteResult } from '../fib.js';
import { formatAddr } from '../inet.js';
import { verdictName } from '../../netfilter/bytecode-text.js';
import { NFT_GOTO, NFT_JUMP } from '../../netfilter/bytecode.js';
import type { PacketOutcome } from './types.js';
import { be16 } from './build.js';

/** IP_CT_* names as `ct state`/conntrack -L say them. */
export const CTINFO_NAME: Record<number, string> = {
  [-1]: 'invalid', 0: 'established', 1: 'related', 2: 'new', 3: 'established reply', 4: 'related reply', 7: 'untracked',
};

/** The addresses and ports NAT may rewrite, as text (to say what changed). */
export function natView(pkt: Packet): string {
  const b = pkt.buffer, n = pkt.networkHeader;
  const v6 = pkt.protocol === 0x86dd;
  const src = formatAddr(v6 ? b.subarray(n + 8, n + 24) : b.subarray(n + 12, n + 16));
  const dst = formatAddr(v6 ? b.subarray(n + 24, n + 40) : b.subarray(n + 16, n + 20));
  const t = pkt.transportHeader;
  if ((pkt.l4proto === 6 || pkt.l4proto === 17) && t >= 0 && t + 4 <= pkt.tail) {
    return `${src}:${be16(b, t)} > ${dst}:${be16(b, t + 2)}`;
  }
  return `${src} > ${dst}`;
}

/** Takes over another Packet's bytes and offsets (a reassembled datagram replaces its first fragment). */
export function adoptPacket(dst: Packet, src: Packet): void {
  dst.buffer = src.buffer; dst.head = src.head; dst.tail = src.tail;
  dst.macHeader = src.macHeader; dst.networkHeader = src.networkHeader; dst.transportHeader = src.transportHeader;
  dst.innerNetworkHeader = src.innerNetworkHeader; dst.protocol = src.protocol; dst.l4proto = src.l4proto;
}

export function emptyOutcome(): PacketOutcome {
  return { fate: 'dropped', emitted: [], trace: [], steps: [] };
}

export function verdictText(v: { code: number; chain?: string }): string {
  const name = verdictName(v.code >= 0 ? v.code & 0xff : v.code);
  return (v.code === NFT_JUMP || v.code === NFT_GOTO) && v.chain ? `${name} ${v.chain}` : name;
}

/** Whether the IPv4 address at `a[o..]` is a broadcast address of the host (a `broadcast` route in table local). */
export function rtIsBroadcast(host: Host, a: Uint8Array, o = 0): boolean {
  for (const r of host.routes) {
    if (r.family === 4 && r.type === 'broadcast' && r.plen === 32 && r.dst.length === 4 &&
      r.dst[0] === a[o] && r.dst[1] === a[o + 1] && r.dst[2] === a[o + 2] && r.dst[3] === a[o + 3]) return true;
  }
  return false;
}

export function addrs(pkt: Packet, family: 4 | 6): { src: Uint8Array; dst: Uint8Array } {
  const b = pkt.buffer, n = pkt.networkHeader;
  return family === 4
    ? { src: b.slice(n + 12, n + 16), dst: b.slice(n + 16, n + 20) }
    : { src: b.slice(n + 8, n + 24), dst: b.slice(n + 24, n + 40) };
}

export function describeL3(pkt: Packet, family: 4 | 6): string {
  const { src, dst } = addrs(pkt, family);
  const p = pkt.l4proto;
  const name = p === 6 ? 'TCP' : p === 17 ? 'UDP' : p === 1 ? 'ICMP' : p === 58 ? 'ICMPv6' : `proto ${p}`;
  return `${formatAddr(src)} > ${formatAddr(dst)} ${name}`;
}

export function describeRoute(_host: Host, rt: RouteResult, showSrc = true): string {
  if (rt.errno !== undefined) return `${rt.type} (${rt.errno})`;
  const parts: string[] = [rt.type];
  if (rt.route) parts.push(`${formatAddr(rt.route.dst)}/${rt.route.plen}`);
  if (rt.gateway) parts.push(`via ${formatAddr(rt.gateway)}`);
  if (rt.dev) parts.push(`dev ${rt.dev.name}`);
  if (rt.table && rt.table !== 254) parts.push(`table ${rt.table === 255 ? 'local' : rt.table}`);
  if (rt.src && showSrc) parts.push(`src ${formatAddr(rt.src)}`);
  return parts.join(' ');
}
