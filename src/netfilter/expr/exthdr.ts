/**
 * exthdr (nft_exthdr.c): IPv6 extension headers (ipv6_find_hdr), TCP options
 * (load, set with checksum fix-up — an MSS may only be lowered — and reset to
 * NOPs), IPv4 options and SCTP chunks. `present` (NFT_EXTHDR_F_PRESENT) stores
 * 1/0 instead of breaking.
 */
import type { ExthdrExpr } from '../bytecode.js';
import { NFT_EXTHDR_OP_IPV6, NFT_EXTHDR_OP_TCPOPT, NFT_EXTHDR_OP_IPV4, NFT_EXTHDR_OP_SCTP, NFT_EXTHDR_F_PRESENT } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { fail, storeBytes, storeU32 } from './types.js';
import { regByteOffset } from '../vm.js';
import type { Vm } from '../vm.js';
import type { Packet } from '../../packet/packet.js';
import { ERRNO } from '../errors.js';

/** Next-header values ipv6_find_hdr walks through (ipv6_ext_hdr(), plus mobility). */
const IPV6_EXT = new Set([0, 43, 44, 51, 60, 135]);
const TCPOPT_MSS = 2;

/** Offset of the extension header `target` in an IPv6 packet, -1 when absent (ipv6_find_hdr). */
export function ipv6FindHdr(pkt: Packet, target: number): number {
  const n = pkt.networkHeader;
  const b = pkt.buffer;
  if (n < 0 || n + 40 > pkt.tail || (b[n]! >> 4) !== 6) return -1;
  let next = b[n + 6]!;
  let off = n + 40;
  for (let guard = 0; guard < 64; guard++) {
    if (next === target) return off;
    if (!IPV6_EXT.has(next) || off + 8 > pkt.tail) return -1;
    let hlen: number;
    if (next === 44) {
      // A non-first fragment carries no further headers we could trust.
      const fragOff = ((b[off + 2]! << 8) | b[off + 3]!) & 0xfff8;
      if (fragOff !== 0) return -1;
      hlen = 8;
    } else if (next === 51) hlen = (b[off + 1]! + 2) << 2;
    else hlen = (b[off + 1]! + 1) << 3;
    next = b[off]!;
    off += hlen;
  }
  return -1;
}

/** Offset (absolute) of TCP option `type` and its length, or -1 (nft_tcp_header_pointer + option walk). */
function tcpFindOpt(pkt: Packet, type: number): [number, number] {
  const t = pkt.transportHeader;
  const b = pkt.buffer;
  if (pkt.l4proto !== 6 || t < 0 || t + 20 > pkt.tail) return [-1, 0];
  const hl = (b[t + 12]! >> 4) * 4;
  if (hl < 20 || t + hl > pkt.tail) return [-1, 0];
  for (let i = 20; i < hl - 1;) {
    const kind = b[t + i]!;
    // optlen(): EOL and NOP are one byte; a zero length would loop forever, so it counts as one.
    const optl = kind <= 1 || b[t + i + 1] === 0 ? 1 : b[t + i + 1]!;
    if (kind === type) {
      if (i + optl > hl) return [-1, 0];
      return [t + i, optl];
    }
    i += optl;
  }
  return [-1, 0];
}

/** ipv4_find_option: only RR, SSRR, LSRR and RA are searchable. */
function ipv4FindOpt(pkt: Packet, type: number): [number, number] {
  const n = pkt.networkHeader;
  const b = pkt.buffer;
  if (n < 0 || n + 20 > pkt.tail || pkt.protocol !== 0x0800) return [-1, 0];
  const ihl = (b[n]! & 0xf) * 4;
  if (ihl <= 20 || n + ihl > pkt.tail) return [-1, 0];
  if (type !== 7 && type !== 137 && type !== 131 && type !== 148) return [-1, 0];
  for (let i = 20; i < ihl;) {
    const kind = b[n + i]!;
    if (kind === 0) break;
    if (kind === 1) { i++; continue; }
    const l = b[n + i + 1]!;
    if (l < 2 || i + l > ihl) return [-1, 0];
    if (kind === type) return [n + i, l];
    i += l;
  }
  return [-1, 0];
}

/** SCTP chunk `type` after the 12-byte common header. */
function sctpFindChunk(pkt: Packet, type: number): [number, number] {
  const t = pkt.transportHeader;
  const b = pkt.buffer;
  if (pkt.l4proto !== 132 || t < 0) return [-1, 0];
  for (let i = t + 12; i + 4 <= pkt.tail;) {
    const len = (b[i + 2]! << 8) | b[i + 3]!;
    if (b[i] === type) return [i, len];
    if (len < 4) break;
    i += (len + 3) & ~3;
  }
  return [-1, 0];
}

export interface ExthdrP { op: number; type: number; offset: number; len: number; present: boolean; reg: number; mode: 'load' | 'write' | 'reset' }

function tcpCsumReplace(b: Uint8Array, t: number, oldW: number, newW: number): void {
  const hc = (b[t + 16]! << 8) | b[t + 17]!;
  let s = (~hc & 0xffff) + (~oldW & 0xffff) + newW;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  const c = ~s & 0xffff;
  b[t + 16] = c >> 8;
  b[t + 17] = c & 0xff;
}

function tcpWrite(p: ExthdrP, vm: Vm): void {
  const pkt = vm.pkt;
  const [at, optl] = tcpFindOpt(pkt, p.type);
  if (at < 0 || p.offset + p.len > optl) return;
  const b = pkt.buffer;
  const t = pkt.transportHeader;
  const dst = at + p.offset;
  if (p.len === 2) {
    const oldW = (b[dst]! << 8) | b[dst + 1]!;
    const newW = (vm.r8[p.reg]! << 8) | vm.r8[p.reg + 1]!;
    // nft_exthdr_tcp_set_eval: the MSS may only be clamped down.
    if (p.type === TCPOPT_MSS && oldW <= newW) return;
    b[dst] = newW >> 8; b[dst + 1] = newW & 0xff;
    // The checksum covers 16-bit words aligned to the TCP header start.
    if (((dst - t) & 1) === 0) tcpCsumReplace(b, t, oldW, newW);
    return;
  }
  if (p.len === 4) {
    for (let i = 0; i < 4; i += 2) {
      const oldW = (b[dst + i]! << 8) | b[dst + i + 1]!;
      const newW = (vm.r8[p.reg + i]! << 8) | vm.r8[p.reg + i + 1]!;
      b[dst + i] = newW >> 8; b[dst + i + 1] = newW & 0xff;
      tcpCsumReplace(b, t, oldW, newW);
    }
  }
}

function tcpReset(p: ExthdrP, vm: Vm): void {
  const pkt = vm.pkt;
  const [at, optl] = tcpFindOpt(pkt, p.type);
  if (at < 0) return;
  const b = pkt.buffer;
  const t = pkt.transportHeader;
  // nft_exthdr_tcp_strip_eval: overwrite with NOPs, fixing the checksum word by word.
  for (let i = 0; i < optl; i++) {
    const pos = at + i;
    const wordStart = t + ((pos - t) & ~1);
    const oldW = (b[wordStart]! << 8) | b[wordStart + 1]!;
    b[pos] = 1;
    const newW = (b[wordStart]! << 8) | b[wordStart + 1]!;
    tcpCsumReplace(b, t, oldW, newW);
  }
}

export const exthdrOps: ExprOps<ExthdrExpr, ExthdrP> = {
  type: 'exthdr',
  prepare(e) {
    if (e.op > NFT_EXTHDR_OP_SCTP) fail(ERRNO.EOPNOTSUPP);
    const present = (e.flags & NFT_EXTHDR_F_PRESENT) !== 0;
    if (e.flags & ~NFT_EXTHDR_F_PRESENT) fail(ERRNO.EINVAL);
    if (e.dreg !== undefined) {
      return { op: e.op, type: e.exthdrType, offset: e.offset, len: e.len, present, reg: regByteOffset(e.dreg, present ? 4 : e.len), mode: 'load' };
    }
    if (e.op !== NFT_EXTHDR_OP_TCPOPT) fail(ERRNO.EOPNOTSUPP);
    if (e.sreg !== undefined) {
      if (e.len !== 2 && e.len !== 4) fail(ERRNO.EOPNOTSUPP);
      return { op: e.op, type: e.exthdrType, offset: e.offset, len: e.len, present, reg: regByteOffset(e.sreg, e.len), mode: 'write' };
    }
    return { op: e.op, type: e.exthdrType, offset: 0, len: 0, present, reg: 0, mode: 'reset' };
  },
  eval(p, vm) {
    if (p.mode === 'write') { tcpWrite(p, vm); return; }
    if (p.mode === 'reset') { tcpReset(p, vm); return; }
    const pkt = vm.pkt;
    let at: number;
    let avail: number;
    switch (p.op) {
      case NFT_EXTHDR_OP_IPV6: at = ipv6FindHdr(pkt, p.type); avail = pkt.tail - at; break;
      case NFT_EXTHDR_OP_TCPOPT: [at, avail] = tcpFindOpt(pkt, p.type); break;
      case NFT_EXTHDR_OP_IPV4: [at, avail] = ipv4FindOpt(pkt, p.type); break;
      default: [at, avail] = sctpFindChunk(pkt, p.type); break;
    }
    if (p.present) { storeU32(vm, p.reg, at >= 0 ? 1 : 0); return; }
    if (at < 0 || p.offset + p.len > avail || at + p.offset + p.len > pkt.tail) { vm.code[0] = -2; return; }
    storeBytes(vm, p.reg, pkt.buffer, at + p.offset, p.len);
  },
};
