/**
 * The FTP NAT helper (net/netfilter/nf_nat_ftp.c) and the payload mangler it
 * uses (__nf_nat_mangle_tcp_packet, mangle_contents in nf_nat_helper.c).
 *
 * When the ftp conntrack helper finds a PORT/EPRT command or a 227/229 reply
 * on a NATed control connection, the address and port in the text are those
 * of the host behind the NAT. nf_nat_ftp replaces them with the address the
 * other side sees (the inverse of the other direction's tuple) and a port
 * for which an expectation could be registered, trying the announced port
 * and upwards. The data connection then follows the master's NAT back to the
 * announced address and port (nf_nat_follow_master, in core.ts). The text
 * usually changes length, so the TCP sequence numbers of the rest of the
 * connection are corrected (../conntrack/seqadj.ts).
 */
import type { Packet } from '../../packet/packet.js';
import type { Conn } from '../conntrack/types.js';
import { IP_CT_IS_REPLY } from '../conntrack/types.js';
import { ctSeqadjSet } from '../conntrack/seqadj.js';
import { finish, internetChecksum, onesSum, pseudoSum4, pseudoSum6 } from '../../packet/checksum.js';

const NF_DROP = 0;
const NF_ACCEPT = 1;
/** -EBUSY from nf_ct_expect_related(): another master's expectation clashes. */
export const EBUSY = -16;

/** enum nf_ct_ftp_type (include/linux/netfilter/nf_conntrack_ftp.h). */
export const NF_CT_FTP_PORT = 0;
export const NF_CT_FTP_PASV = 1;
export const NF_CT_FTP_EPRT = 2;
export const NF_CT_FTP_EPSV = 3;

/** What nf_nat_ftp needs of the expectation it registers (a subset of helpers.ts's Expectation). */
export interface FtpExpectation {
  dstPort: number;
  /** exp->saved_proto: the port the data connection is DNATed back to. */
  natFollowPort: number;
  /** Which of the master's tuples nf_nat_follow_master reads (the kernel's !exp->dir). */
  natFollowTuple: number;
}

/** %pI6: eight groups of four lower-case hex digits, uncompressed (lib/vsprintf.c ip6_string). */
function pI6(a: Uint8Array): string {
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((a[i]! << 8) | a[i + 1]!).toString(16).padStart(4, '0'));
  return g.join(':');
}

/** nf_nat_ftp_fmt_cmd(): the replacement text for the matched part. */
export function ftpFormat(type: number, family: number, addr: Uint8Array, port: number): string {
  switch (type) {
    case NF_CT_FTP_PORT:
    case NF_CT_FTP_PASV:
      return `${addr[0]},${addr[1]},${addr[2]},${addr[3]},${port >> 8},${port & 0xff}`;
    case NF_CT_FTP_EPRT:
      return family === 2 ? `|1|${addr[0]}.${addr[1]}.${addr[2]}.${addr[3]}|${port}|` : `|2|${pI6(addr)}|${port}|`;
    case NF_CT_FTP_EPSV:
      return `|||${port}|`;
  }
  return '';
}

/**
 * __nf_nat_mangle_tcp_packet(): replaces `matchLen` bytes at `matchOff`
 * (counted from the start of the TCP payload) by `rep`, moving the rest of
 * the payload, fixing the IP length (and the IPv4 header checksum, as
 * ip_send_check does) and the TCP checksum (computed anew: the kernel turns
 * the packet into CHECKSUM_PARTIAL, so the wire carries a full checksum).
 * When the length changed and `adjust` is set, records the sequence offset
 * at this segment's sequence number. False when the packet would exceed
 * 65535 bytes (enlarge_skb) or the match lies outside the payload.
 *
 * No MTU check here, as in the kernel: a segment grown past the path MTU is
 * fragmented, or refused with ICMP "fragmentation needed" when DF is set, by
 * the output path after POSTROUTING (ip_finish_output → ip_fragment).
 */
export function natMangleTcpPacket(
  pkt: Packet, c: Conn, ctinfo: number, l3off: number, l4off: number,
  matchOff: number, matchLen: number, rep: Uint8Array, adjust = true,
): boolean {
  let buf = pkt.buffer;
  const doff = (buf[l4off + 12]! >> 4) * 4;
  const dataoff = l4off + doff;
  const oldTail = pkt.tail;
  const at = dataoff + matchOff;
  if (matchOff < 0 || matchLen < 0 || at + matchLen > oldTail) return false;
  const delta = rep.length - matchLen;
  const l3len = oldTail - l3off;
  if (delta > 0 && l3len + delta > 65535) return false;
  if (delta > 0) {
    pkt.put(delta); // may move the bytes to a larger buffer; offsets stay valid
    buf = pkt.buffer;
  }
  // mangle_contents(): move what follows the match, then write the replacement.
  buf.copyWithin(at + rep.length, at + matchLen, oldTail);
  buf.set(rep, at);
  if (delta < 0) pkt.trim(pkt.length + delta);
  const newTail = pkt.tail;
  const tcpLen = newTail - l4off;
  if (c.family === 2) {
    const tot = newTail - l3off;
    buf[l3off + 2] = tot >> 8; buf[l3off + 3] = tot & 0xff;
    const ihl = (buf[l3off]! & 15) * 4;
    buf[l3off + 10] = 0; buf[l3off + 11] = 0;
    const hc = internetChecksum(buf, l3off, ihl);
    buf[l3off + 10] = hc >> 8; buf[l3off + 11] = hc & 0xff;
  } else {
    const pl = newTail - l3off - 40;
    buf[l3off + 4] = pl >> 8; buf[l3off + 5] = pl & 0xff;
  }
  buf[l4off + 16] = 0; buf[l4off + 17] = 0;
  const pseudo = c.family === 2 ? pseudoSum4(buf, l3off + 12, l3off + 16, 6, tcpLen) : pseudoSum6(buf, l3off + 8, l3off + 24, 6, tcpLen);
  const ck = finish(onesSum(buf, l4off, tcpLen, pseudo));
  buf[l4off + 16] = ck >> 8; buf[l4off + 17] = ck & 0xff;
  if (adjust && delta !== 0) {
    const seq = ((buf[l4off + 4]! << 24) | (buf[l4off + 5]! << 16) | (buf[l4off + 6]! << 8) | buf[l4off + 7]!) >>> 0;
    ctSeqadjSet(c, ctinfo, seq, delta);
  }
  return true;
}

const encoder = new TextEncoder();

/** What nf_nat_ftp reports besides its verdict (nf_ct_helper_log's message when it drops). */
export interface NatFtpResult {
  verdict: number;
  log: string;
}

/**
 * nf_nat_ftp(): registers the expectation under the NATed address with the
 * first free port from the announced one upwards (`expectRelated` is
 * nf_ct_expect_related: 0, EBUSY, or another error), then rewrites the
 * matched text. `matchOff`/`matchLen` locate the address text in the TCP
 * payload; `unexpect` withdraws the expectation when mangling fails.
 */
export function natFtp(
  pkt: Packet, c: Conn, ctinfo: number, type: number, l3off: number, l4off: number, matchOff: number, matchLen: number,
  exp: FtpExpectation, expectRelated: (port: number) => number, unexpect: () => void,
): NatFtpResult {
  const dir = ctinfo >= IP_CT_IS_REPLY ? 1 : 0;
  // The connection will come from wherever this packet goes: the address it is sent to, seen from the other side.
  const newaddr = c.tuple[dir ^ 1].dst;
  exp.natFollowPort = exp.dstPort;
  exp.natFollowTuple = dir;
  // Try to get the same port; if not, try the next ones (the u16 wraps to 0 and ends the search).
  let port = exp.natFollowPort;
  for (; port !== 0 && port <= 0xffff; port++) {
    const ret = expectRelated(port);
    if (ret === 0) break;
    if (ret !== EBUSY) { port = 0; break; }
  }
  if (port === 0 || port > 0xffff) return { verdict: NF_DROP, log: 'all ports in use' };
  const text = ftpFormat(type, c.family, newaddr, port);
  if (text === '' || !natMangleTcpPacket(pkt, c, ctinfo, l3off, l4off, matchOff, matchLen, encoder.encode(text))) {
    unexpect();
    return { verdict: NF_DROP, log: 'cannot mangle packet' };
  }
  return { verdict: NF_ACCEPT, log: '' };
}
