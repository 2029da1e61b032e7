/**
 * Small builders for tests and benchmarks of the engine: hand-made IPv4/IPv6
 * packets with their header offsets set, rules from `nft --debug=netlink`
 * text, and one-call ruleset setup. Not used on the data path.
 */
import { Packet } from '../packet/packet.js';
import type { Rule, Expr } from './bytecode.js';
import { parseExprLine } from './bytecode-text.js';
import type { BatchOp } from './batch.js';

export interface L4Spec {
  proto?: number;
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  /** TCP flags byte. */
  flags?: number;
  ttl?: number;
  payload?: number;
  /** Raw TCP options (padded to 4 bytes). */
  tcpOptions?: number[];
}

function v4(a: string): number[] { return a.split('.').map(Number); }

/** An IPv4 packet (no link header) with network/transport offsets set, checksums correct. */
export function ipv4Packet(s: L4Spec = {}): Packet {
  const proto = s.proto ?? 6;
  const opts = s.tcpOptions ?? [];
  const optLen = (opts.length + 3) & ~3;
  const l4len = proto === 6 ? 20 + optLen : proto === 17 ? 8 : proto === 1 ? 8 : 0;
  const total = 20 + l4len + (s.payload ?? 0);
  const b = new Uint8Array(total);
  b[0] = 0x45; b[2] = total >> 8; b[3] = total & 0xff; b[8] = s.ttl ?? 64; b[9] = proto;
  b.set(v4(s.src ?? '10.0.0.1'), 12); b.set(v4(s.dst ?? '10.0.0.2'), 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const c = ~sum & 0xffff; b[10] = c >> 8; b[11] = c & 0xff;
  const t = 20;
  if (proto === 6 || proto === 17) {
    const sp = s.sport ?? 40000, dp = s.dport ?? 80;
    b[t] = sp >> 8; b[t + 1] = sp & 0xff; b[t + 2] = dp >> 8; b[t + 3] = dp & 0xff;
  }
  if (proto === 6) {
    b[t + 12] = ((20 + optLen) / 4) << 4; b[t + 13] = s.flags ?? 0x02;
    b.set(opts, t + 20);
    for (let i = opts.length; i < optLen; i++) b[t + 20 + i] = 1;
  }
  if (proto === 17) { b[t + 4] = (l4len + (s.payload ?? 0)) >> 8; b[t + 5] = (l4len + (s.payload ?? 0)) & 0xff; }
  if (proto === 6 || proto === 17) {
    const l4 = total - 20;
    let ps = ((b[12]! << 8) | b[13]!) + ((b[14]! << 8) | b[15]!) + ((b[16]! << 8) | b[17]!) + ((b[18]! << 8) | b[19]!) + proto + l4;
    for (let i = t; i < total; i += 2) ps += (b[i]! << 8) | (b[i + 1] ?? 0);
    while (ps > 0xffff) ps = (ps & 0xffff) + (ps >>> 16);
    const cc = ~ps & 0xffff;
    const at = proto === 6 ? t + 16 : t + 6;
    b[at] = cc >> 8; b[at + 1] = cc & 0xff;
  }
  const p = Packet.from(b);
  p.networkHeader = p.head;
  p.transportHeader = proto === 6 || proto === 17 || proto === 1 ? p.head + 20 : -1;
  p.protocol = 0x0800;
  p.l4proto = proto;
  return p;
}

/** An IPv6 packet with the given extension headers (next-header values, 8 bytes each) before the L4 header. */
export function ipv6Packet(s: L4Spec & { ext?: number[] } = {}): Packet {
  const proto = s.proto ?? 6;
  const ext = s.ext ?? [];
  const l4len = proto === 6 ? 20 : proto === 17 ? 8 : 8;
  const total = 40 + ext.length * 8 + l4len + (s.payload ?? 0);
  const b = new Uint8Array(total);
  b[0] = 0x60; const plen = total - 40; b[4] = plen >> 8; b[5] = plen & 0xff;
  b[6] = ext.length ? ext[0]! : proto; b[7] = s.ttl ?? 64;
  b[23] = 1; b[39] = 2; b[8] = 0x20; b[9] = 0x01; b[24] = 0x20; b[25] = 0x01;
  let off = 40;
  for (let i = 0; i < ext.length; i++) { b[off] = i + 1 < ext.length ? ext[i + 1]! : proto; b[off + 1] = 0; off += 8; }
  const sp = s.sport ?? 40000, dp = s.dport ?? 80;
  b[off] = sp >> 8; b[off + 1] = sp & 0xff; b[off + 2] = dp >> 8; b[off + 3] = dp & 0xff;
  if (proto === 6) { b[off + 12] = 0x50; b[off + 13] = s.flags ?? 0x02; }
  const p = Packet.from(b);
  p.networkHeader = p.head;
  p.transportHeader = p.head + off;
  p.protocol = 0x86dd;
  p.l4proto = proto;
  return p;
}

/** A rule from the `[ ... ]` lines nft --debug=netlink prints (blank lines and others ignored). */
export function ruleFromText(text: string, source?: string): Rule {
  const exprs: Expr[] = [];
  for (const line of text.split('\n')) if (/^\s*\[/.test(line)) exprs.push(parseExprLine(line));
  const r: Rule = { exprs };
  if (source !== undefined) r.source = source;
  return r;
}

/** The ops that create table `t` of `family` with a base chain (filter, hook, priority 0, policy). */
export function baseChainOps(family: number, table: string, chain: string, hooknum: number, policy = 1, priority = 0, devices?: string[]): BatchOp[] {
  return [
    { op: 'newtable', family, table },
    { op: 'newchain', family, table, chain, hook: devices ? { hooknum, priority, devices } : { hooknum, priority }, type: 'filter', policy },
  ];
}
