/**
 * payload (net/netfilter/nft_payload.c): load bytes at base + offset into a
 * register, or write a register into the packet with the checksum fix-ups the
 * kernel does (NFT_PAYLOAD_CSUM_INET at csum_offset, and with
 * NFT_PAYLOAD_L4CSUM_PSEUDOHDR the TCP/UDP checksum that covers the changed
 * pseudo-header field).
 */
import type { PayloadExpr } from '../bytecode.js';
import {
  NFT_PAYLOAD_CSUM_INET, NFT_PAYLOAD_L4CSUM_PSEUDOHDR, NFT_PAYLOAD_INNER_HEADER,
  NFT_PAYLOAD_CSUM_SCTP,
} from '../bytecode.js';
import type { ExprOps } from './types.js';
import { baseOffset, fail, storeBytes } from './types.js';
import { regByteOffset } from '../vm.js';
import type { Vm } from '../vm.js';
import { ERRNO } from '../errors.js';
import type { Packet } from '../../packet/packet.js';

export interface PayloadP {
  base: number;
  offset: number;
  len: number;
  /** Register byte offset (dreg for loads, sreg for writes). */
  reg: number;
  write: boolean;
  csumType: number;
  csumOffset: number;
  csumFlags: number;
}

/** One's-complement sum of bytes as 16-bit big-endian words, an odd last byte padded (csum_partial). */
function sum16(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  let i = 0;
  for (; i + 1 < len; i += 2) s += (b[off + i]! << 8) | b[off + i + 1]!;
  if (i < len) s += b[off + i]! << 8;
  return s;
}
function fold16(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}
/** RFC 1624 eqn. 3 on the 16-bit checksum at buf[at]: HC' = ~(~HC + ~m + m'). */
function csumUpdate(buf: Uint8Array, at: number, oldSum: number, newSum: number, mangledZero: boolean): void {
  const hc = (buf[at]! << 8) | buf[at + 1]!;
  let s = (~hc & 0xffff) + (~fold16(oldSum) & 0xffff) + fold16(newSum);
  let c = ~fold16(s) & 0xffff;
  // CSUM_MANGLED_0: a UDP checksum must not become 0 ("no checksum").
  if (mangledZero && c === 0) c = 0xffff;
  s = c;
  buf[at] = s >> 8;
  buf[at + 1] = s & 0xff;
}

/** nft_payload_l4csum_update: the transport checksum offset for TCP/UDP, -1 for none (UDP with checksum 0 over IPv4). */
function l4CsumOffset(pkt: Packet): number {
  if (pkt.transportHeader < 0) return -1;
  const t = pkt.transportHeader;
  if (pkt.l4proto === 6) return t + 16 + 2 <= pkt.tail ? t + 16 : -1;
  if (pkt.l4proto === 17 || pkt.l4proto === 136) {
    if (t + 8 > pkt.tail) return -1;
    if (pkt.buffer[t + 6] === 0 && pkt.buffer[t + 7] === 0 && pkt.protocol === 0x0800) return -1;
    return t + 6;
  }
  return -1;
}

function evalWrite(p: PayloadP, vm: Vm): void {
  const pkt = vm.pkt;
  const start = baseOffset(pkt, p.base);
  const at = start + p.offset;
  if (start < 0 || at + p.len > pkt.tail || at < 0) { vm.code[0] = -2; return; }
  const buf = pkt.buffer;
  const src = vm.r8;
  if (p.csumType === NFT_PAYLOAD_CSUM_INET || p.csumFlags & NFT_PAYLOAD_L4CSUM_PSEUDOHDR) {
    const oldSum = sum16(buf, at, p.len);
    const newSum = sum16(src, p.reg, p.len);
    if (p.csumType === NFT_PAYLOAD_CSUM_INET) {
      const c = start + p.csumOffset;
      if (c + 2 > pkt.tail) { vm.code[0] = -2; return; }
      csumUpdate(buf, c, oldSum, newSum, false);
    }
    if (p.csumFlags & NFT_PAYLOAD_L4CSUM_PSEUDOHDR) {
      const l4 = l4CsumOffset(pkt);
      if (l4 >= 0) csumUpdate(buf, l4, oldSum, newSum, pkt.l4proto === 17);
    }
  }
  for (let i = 0; i < p.len; i++) buf[at + i] = src[p.reg + i]!;
}

export const payloadOps: ExprOps<PayloadExpr, PayloadP> = {
  type: 'payload',
  prepare(e) {
    if (e.base > NFT_PAYLOAD_INNER_HEADER) fail(ERRNO.EOPNOTSUPP);
    if (e.len === 0 || e.len > 64 || e.offset > 255) fail(ERRNO.EINVAL);
    const write = e.sreg !== undefined && e.sreg !== 0;
    if (write && (e.csumType ?? 0) > NFT_PAYLOAD_CSUM_SCTP) fail(ERRNO.EOPNOTSUPP);
    return {
      base: e.base, offset: e.offset, len: e.len, write,
      reg: regByteOffset(write ? e.sreg! : e.dreg ?? 0, e.len),
      csumType: e.csumType ?? 0, csumOffset: e.csumOffset ?? 0, csumFlags: e.csumFlags ?? 0,
    };
  },
  eval(p, vm) {
    if (p.write) { evalWrite(p, vm); return; }
    const pkt = vm.pkt;
    const start = baseOffset(pkt, p.base);
    const at = start + p.offset;
    // skb_copy_bits() fails past the end: the rule breaks.
    if (start < 0 || at + p.len > pkt.tail) { vm.code[0] = -2; return; }
    storeBytes(vm, p.reg, pkt.buffer, at, p.len);
  },
};
