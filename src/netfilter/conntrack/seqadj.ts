/**
 * TCP sequence adjustment (net/netfilter/nf_conntrack_seqadj.c). When a NAT
 * helper changes the length of a TCP payload (nf_nat_ftp rewriting a PORT
 * command), every later segment of that direction carries sequence numbers
 * shifted by the difference, and every segment of the other direction must
 * have its ACK (and SACK blocks) shifted back. Per direction the kernel keeps
 * one correction point (struct nf_ct_seqadj): segments starting after
 * `correctionPos` get `offsetAfter`, earlier ones (retransmissions of data
 * before the change) `offsetBefore`. Only one change inside the window is
 * handled; a second change after the first moves the correction point and
 * accumulates the offset.
 *
 * Sequence numbers here are unsigned 32-bit numbers; offsets are s32.
 */
import type { Conn, SeqAdjDir } from './types.js';
import { IPS_SEQ_ADJUST, IP_CT_IS_REPLY } from './types.js';
import { checksumReplace16 } from '../../packet/checksum.js';

export type { SeqAdjDir } from './types.js';

/** struct nf_conn_seqadj (the NF_CT_EXT_SEQADJ extension): [original, reply]. */
export type SeqAdj = [SeqAdjDir, SeqAdjDir];

/** The connection's seqadj extension, undefined when no helper ever changed a length. */
export function seqadjOf(c: Conn): SeqAdj | undefined {
  return c.seqadj;
}

function extOf(c: Conn): SeqAdj {
  return c.seqadj ??= [{ correctionPos: 0, offsetBefore: 0, offsetAfter: 0 }, { correctionPos: 0, offsetBefore: 0, offsetAfter: 0 }];
}

/** before()/after() of include/net/tcp.h: serial-number comparison (RFC 1982). */
function before(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
function after(a: number, b: number): boolean {
  return ((b - a) | 0) < 0;
}

function dirOf(ctinfo: number): number {
  return ctinfo >= IP_CT_IS_REPLY ? 1 : 0;
}

/** nf_ct_seqadj_init(): a fixed offset from the start (synproxy); no correction point. */
export function ctSeqadjInit(c: Conn, ctinfo: number, off: number): void {
  if (off === 0) return;
  c.status |= IPS_SEQ_ADJUST;
  const w = extOf(c)[dirOf(ctinfo)];
  w.offsetBefore = off | 0;
  w.offsetAfter = off | 0;
}

/**
 * nf_ct_seqadj_set(): the segment starting at `seq` changed length by `off`.
 * A new correction point is recorded when there is none yet (before ===
 * after) or when this segment lies beyond the current one; otherwise it is a
 * retransmission of the segment already corrected and nothing changes.
 */
export function ctSeqadjSet(c: Conn, ctinfo: number, seq: number, off: number): void {
  if (off === 0) return;
  c.status |= IPS_SEQ_ADJUST;
  const w = extOf(c)[dirOf(ctinfo)];
  if (w.offsetBefore === w.offsetAfter || before(w.correctionPos, seq >>> 0)) {
    w.correctionPos = seq >>> 0;
    w.offsetBefore = w.offsetAfter;
    w.offsetAfter = (w.offsetAfter + off) | 0;
  }
}

/** nf_ct_seq_offset(): the offset of direction `dir` at `seq` (what conntrack's window check undoes). */
export function ctSeqOffset(c: Conn, dir: number, seq: number): number {
  const s = c.seqadj;
  if (s === undefined) return 0;
  const w = s[dir]!;
  return after(seq >>> 0, w.correctionPos) ? w.offsetAfter : w.offsetBefore;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** Writes `v` at `o` and patches the TCP checksum at `csumOff` (inet_proto_csum_replace4). */
function replace32(b: Uint8Array, o: number, v: number, csumOff: number): void {
  let ck = (b[csumOff]! << 8) | b[csumOff + 1]!;
  ck = checksumReplace16(ck, (b[o]! << 8) | b[o + 1]!, v >>> 16);
  ck = checksumReplace16(ck, (b[o + 2]! << 8) | b[o + 3]!, v & 0xffff);
  b[o] = v >>> 24; b[o + 1] = (v >>> 16) & 0xff; b[o + 2] = (v >>> 8) & 0xff; b[o + 3] = v & 0xff;
  b[csumOff] = ck >> 8; b[csumOff + 1] = ck & 0xff;
}

/** The value an acknowledged sequence number of the other direction maps back to. */
function unadjust(v: number, w: SeqAdjDir): number {
  // The number is in the adjusted space: compare its unadjusted form with the correction point.
  const off = after((v - w.offsetBefore) >>> 0, w.correctionPos) ? w.offsetAfter : w.offsetBefore;
  return (v - off) >>> 0;
}

/** nf_ct_sack_adjust(): SACK blocks acknowledge the other direction's data, as the ACK does. */
function sackAdjust(b: Uint8Array, l4off: number, end: number, w: SeqAdjDir): boolean {
  const csum = l4off + 16;
  let p = l4off + 20;
  // Bounded by the option space (at most 40 bytes).
  while (p < end) {
    const kind = b[p]!;
    if (kind === 0) return true; // TCPOPT_EOL
    if (kind === 1) { p++; continue; } // TCPOPT_NOP
    // No partial options: a malformed option list fails the adjustment (the kernel drops the packet).
    if (p + 1 === end) return false;
    const size = b[p + 1]!;
    if (p + size > end || size < 2) return false;
    // TCPOPT_SACK with whole TCPOLEN_SACK_PERBLOCK (8-byte) blocks.
    if (kind === 5 && size >= 10 && (size - 2) % 8 === 0) {
      for (let q = p + 2; q < p + size; q += 8) {
        replace32(b, q, unadjust(u32(b, q), w), csum);
        replace32(b, q + 4, unadjust(u32(b, q + 4), w), csum);
      }
    }
    p += size;
  }
  return true;
}

/**
 * nf_ct_seq_adjust(): shifts the segment's sequence number by its own
 * direction's offset and its ACK (and SACK blocks) back by the other
 * direction's, patching the TCP checksum. `l4off` is the TCP header's offset
 * in `buf`, `l4end` the datagram's end. Returns false when the TCP header or
 * its options are malformed (the caller drops the packet).
 */
export function ctSeqAdjust(buf: Uint8Array, l4off: number, l4end: number, c: Conn, ctinfo: number): boolean {
  const s = c.seqadj;
  if (s === undefined) return true;
  if (l4off + 20 > l4end) return false;
  const dir = dirOf(ctinfo);
  const thisWay = s[dir]!;
  const otherWay = s[dir ^ 1]!;
  const seq = u32(buf, l4off + 4);
  const ack = u32(buf, l4off + 8);
  const seqoff = after(seq, thisWay.correctionPos) ? thisWay.offsetAfter : thisWay.offsetBefore;
  const csum = l4off + 16;
  replace32(buf, l4off + 4, (seq + seqoff) >>> 0, csum);
  // The ACK is rewritten even when the ACK flag is clear, as the kernel does.
  replace32(buf, l4off + 8, unadjust(ack, otherWay), csum);
  const doff = (buf[l4off + 12]! >> 4) * 4;
  if (l4off + doff > l4end) return false;
  return sackAdjust(buf, l4off, l4off + doff, otherWay);
}
