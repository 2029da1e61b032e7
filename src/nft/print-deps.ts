/**
 * Which matches of a delinearized rule are dependencies nft drops from its listing
 * (nftables netlink_delinearize.c payload_dependency_kill, payload.c icmp_dep), and how
 * overlapping ICMP fields resolve through the `icmp type` seen before them.
 */
import * as B from '../netfilter/bytecode.js';
import type { Family } from './ast.js';
import { bytesToBig } from './datatypes.js';
import type { LExpr, LStmt } from './delinearize.js';
import { PROTOCOLS } from './proto.js';

/**
 * The ICMP type each overlapping ICMP/ICMPv6 field belongs to (nftables proto.c `icmp_dep`:
 * PROTO_ICMP_ECHO, _ADDRESS, _MTU; PROTO_ICMP6_PPTR, _MTU, _ECHO, _MGMQ; RFC 792, RFC 4443).
 */
const ICMP_DEPS: Record<string, Record<string, readonly number[]>> = {
  icmp: { id: [0, 8], sequence: [0, 8], gateway: [5], mtu: [3] },
  icmpv6: { 'param-problem': [4], mtu: [2], id: [128, 129], sequence: [128, 129], 'max-delay': [130] },
};

/** Type 0 is nft's "no type seen" (th_dep.icmp.type), so echo-reply matches every template. */
export function icmpFieldAllowed(proto: string, field: string, type: number | undefined): boolean {
  const dep = ICMP_DEPS[proto]?.[field];
  return !dep || !type || dep.includes(type);
}

/** Is `field` one whose `icmp type` dependency nft drops from listings (not the echo pair)? */
export function icmpDepKillable(proto: string, field: string, type: number | undefined): boolean {
  const dep = ICMP_DEPS[proto]?.[field];
  return !!dep && type !== undefined && dep.includes(type) && !(proto === 'icmp' ? [0, 8] : [128, 129]).includes(type);
}

/** nft prints the ICMPv6 pointer field by its template name. */
export function fieldName(name: string): string { return name === 'param-problem' ? 'parameter-problem' : name; }

/** Is this match a dependency that a later statement implies (payload_dependency_kill)? */
export function isDependency(s: LStmt, family: Family): 'l4' | 'l3' | 'l2' | 'type' | undefined {
  if (s.k !== 'match' || s.op !== 'eq') return undefined;
  const l = s.left;
  if (l.k === 'meta' && l.key === 'l4proto' && s.right.k === 'value') return 'l4';
  if (l.k === 'meta' && (l.key === 'nfproto' || l.key === 'protocol')) return 'l3';
  if (l.k === 'meta' && l.key === 'iiftype') return 'l2';
  if (l.k === 'payload' && l.base === B.NFT_PAYLOAD_NETWORK_HEADER && l.len === 1 && ((family === 'ip' && l.offset === 9) || (family === 'ip6' && l.offset === 6)) && s.right.k === 'value') return 'l4';
  if (l.k === 'payload' && l.base === B.NFT_PAYLOAD_LL_HEADER && l.offset === 12 && l.len === 2) {
    // `ether type ip|ip6|arp` stands in for the network protocol; 8021q/8021ad for the VLAN tag.
    const v = s.right.k === 'value' ? Number(bytesToBig(s.right.bytes, 'big')) : 0;
    // payload_may_dependency_kill_ll: only 8021q is what a vlan field implies; 8021ad stays.
    return v === 0x8100 ? 'l2' : v === 0x88a8 ? undefined : 'l3';
  }
  if (l.k === 'payload' && l.base === B.NFT_PAYLOAD_LL_HEADER && (l.offset === 16 || l.offset === 20) && l.len === 2) {
    // A tag's type field: a network protocol there is a dependency, another tag never is.
    const v = s.right.k === 'value' ? Number(bytesToBig(s.right.bytes, 'big')) : 0;
    return v === 0x8100 || v === 0x88a8 ? undefined : 'l3';
  }
  if (l.k === 'payload' && l.base === B.NFT_PAYLOAD_TRANSPORT_HEADER && l.offset === 0 && l.len === 1) return 'type';
  return undefined;
}

export function uses(s: LStmt, kind: 'l4' | 'l3' | 'l2' | 'type' | 'l3net'): boolean {
  const bases: number[] = [];
  let v6ext = false;
  const walk = (e: LExpr | undefined): void => {
    if (!e) return;
    if (e.k === 'payload') bases.push(e.base);
    else if (e.k === 'binop') walk(e.left);
    else if (e.k === 'concat') e.parts.forEach(walk);
    else if (e.k === 'map') walk(e.key);
    else if (e.k === 'other' && e.src) walk(e.src);
    else if (e.k === 'exthdr' && e.e.op === B.NFT_EXTHDR_OP_IPV6) v6ext = true;
    // ct_meta_common_postprocess: `ct saddr`/`ct daddr` sit on the network base, so the
    // nfproto match in front of them is their dependency.
    else if (e.k === 'ct' && (e.key === 'saddr' || e.key === 'daddr')) bases.push(B.NFT_PAYLOAD_NETWORK_HEADER);
  };
  if (s.k === 'match') walk(s.left);
  else if (s.k === 'vmap') walk(s.key);
  else if (s.k === 'set') { walk(s.target); walk(s.value); }
  else if (s.k === 'stmt' && s.e.type === 'reject') return (kind === 'l3' && s.e.rejectType !== B.NFT_REJECT_ICMPX_UNREACH) || kind === 'l3net' || (kind === 'l4' && s.e.rejectType === B.NFT_REJECT_TCP_RST);
  else if (s.k === 'stmt' && s.e.type === 'dynset') walk(s.regs.get(-1) ?? s.regs.get(s.e.sregKey));
  else if (s.k === 'stmt') for (const r of s.regs.values()) if (r.k === 'map') walk(r);
  if ((kind === 'l3' || kind === 'l3net') && v6ext) return true;
  if (kind === 'l3net') return bases.includes(B.NFT_PAYLOAD_NETWORK_HEADER);
  if (kind === 'l4') return bases.includes(B.NFT_PAYLOAD_TRANSPORT_HEADER);
  if (kind === 'type') return s.k === 'match' && s.left.k === 'payload' && s.left.base === B.NFT_PAYLOAD_TRANSPORT_HEADER && s.left.offset >= 4;
  if (kind === 'l3') return bases.includes(B.NFT_PAYLOAD_NETWORK_HEADER) || bases.includes(B.NFT_PAYLOAD_TRANSPORT_HEADER);
  return bases.includes(B.NFT_PAYLOAD_LL_HEADER);
}


export function icmpTypeImplied(stmts: LStmt[], i: number, proto: string, type: number): boolean {
  const n = stmts.slice(i + 1).find((x) => x.k === 'match' && x.left.k === 'payload' && x.left.base === B.NFT_PAYLOAD_TRANSPORT_HEADER && x.left.offset >= 4);
  if (!n || n.k !== 'match' || n.left.k !== 'payload') return false;
  const bitOff = n.left.offset * 8;
  const f = Object.entries(PROTOCOLS[proto]!.fields).find(([name, x]) => x.offset === bitOff && icmpFieldAllowed(proto, name, type));
  return !!f && icmpDepKillable(proto, f[0], type);
}

export function usesIcmpTypeField(stmts: LStmt[], i: number): boolean {
  const n = stmts[i + 1];
  return !!n && n.k === 'match' && n.left.k === 'payload' && n.left.base === B.NFT_PAYLOAD_TRANSPORT_HEADER && n.left.offset >= 4;
}
