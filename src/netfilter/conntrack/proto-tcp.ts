/**
 * The TCP tracker (net/netfilter/nf_conntrack_proto_tcp.c): the state table,
 * window tracking after van Rooij's "Real Stateful TCP Packet Filtering",
 * loose pickup of established connections, be_liberal, and the timeouts.
 */
import type { Conn, TcpSide, TcpState } from './types.js';
import {
  IPS_SEQ_ADJUST,
  IPS_ASSURED, IPS_FIXED_TIMEOUT, IPS_SEEN_REPLY,
  TCP_CONNTRACK_CLOSE, TCP_CONNTRACK_ESTABLISHED, TCP_CONNTRACK_FIN_WAIT, TCP_CONNTRACK_IGNORE, TCP_CONNTRACK_LAST_ACK,
  TCP_CONNTRACK_MAX, TCP_CONNTRACK_NONE, TCP_CONNTRACK_SYN_RECV, TCP_CONNTRACK_SYN_SENT, TCP_CONNTRACK_SYN_SENT2,
  TCP_CONNTRACK_TIME_WAIT,
} from './types.js';
import type { ConntrackTable } from './table.js';
import type { L4Info } from './tuple.js';
import { verifyL4Checksum4, verifyL4Checksum6, CSUM_OFFSET_TCP } from '../../packet/wire/l4checksum.js';
import { IPPROTO_TCP } from '../../packet/wire/constants.js';
import { ctSeqOffset } from './seqadj.js';

/** Indexes into the state table (enum tcp_bit_set). */
const TCP_SYN_SET = 0, TCP_SYNACK_SET = 1, TCP_FIN_SET = 2, TCP_ACK_SET = 3, TCP_RST_SET = 4, TCP_NONE_SET = 5;

/** ip_ct_tcp_state.flags (uapi nf_conntrack_tcp.h). */
export const IP_CT_TCP_FLAG_WINDOW_SCALE = 0x01;
export const IP_CT_TCP_FLAG_SACK_PERM = 0x02;
export const IP_CT_TCP_FLAG_CLOSE_INIT = 0x04;
export const IP_CT_TCP_FLAG_BE_LIBERAL = 0x08;
export const IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED = 0x10;
export const IP_CT_TCP_FLAG_MAXACK_SET = 0x20;
/** ct->proto.tcp.last_flags bit for simultaneous open (IP_CT_TCP_SIMULTANEOUS_OPEN). */
const IP_CT_TCP_SIMULTANEOUS_OPEN = 0x04;

const sNO = TCP_CONNTRACK_NONE, sSS = TCP_CONNTRACK_SYN_SENT, sSR = TCP_CONNTRACK_SYN_RECV, sES = TCP_CONNTRACK_ESTABLISHED;
const sFW = TCP_CONNTRACK_FIN_WAIT, sCW = 5, sLA = TCP_CONNTRACK_LAST_ACK, sTW = TCP_CONNTRACK_TIME_WAIT, sCL = TCP_CONNTRACK_CLOSE;
const sS2 = TCP_CONNTRACK_SYN_SENT2, sIV = TCP_CONNTRACK_MAX, sIG = TCP_CONNTRACK_IGNORE;
void sNO;

/** tcp_conntracks[dir][index][state], columns sNO sSS sSR sES sFW sCW sLA sTW sCL sS2. */
const TCP_CONNTRACKS: number[][][] = [
  [ // ORIGINAL
    [sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2], // syn
    [sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR], // synack: a client's SYN/ACK is invalid except in a simultaneous open
    [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV], // fin
    [sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV], // ack
    [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL], // rst
    [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV], // none
  ],
  [ // REPLY
    [sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2],
    [sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR],
    [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV],
    [sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG],
    [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
    [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV],
  ],
];

/** tn->timeouts[state] in ms (also read by the flowtable's teardown fixup). */
export function tcpTimeout(table: ConntrackTable, state: number): number {
  return table.knobs().tcpTimeoutMs[state]!;
}

// RFC 1982-style serial comparisons, as the kernel's before()/after().
function before(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
function after(a: number, b: number): boolean {
  return ((b - a) | 0) < 0;
}

const FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, URG = 0x20;

/**
 * tcp_valid_flags: valid combinations of FIN/SYN/RST/ACK/URG (PSH, ECE, CWR
 * are always allowed), indexed by those five bits as the kernel's array is.
 */
const VALID_FLAGS = new Uint8Array(64);
for (const f of [SYN, SYN | URG, SYN | ACK, RST, RST | ACK, FIN | ACK, FIN | ACK | URG, ACK, ACK | URG]) VALID_FLAGS[f] = 1;

function indexOf(flags: number): number {
  if (flags & RST) return TCP_RST_SET;
  if (flags & SYN) return flags & ACK ? TCP_SYNACK_SET : TCP_SYN_SET;
  if (flags & FIN) return TCP_FIN_SET;
  if (flags & ACK) return TCP_ACK_SET;
  return TCP_NONE_SET;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/**
 * tcp_error(): what makes a segment invalid before any state is consulted —
 * short or malformed header, a bad checksum (only on PREROUTING, with
 * nf_conntrack_checksum=1: locally generated segments are trusted), an
 * impossible flag combination. Returns the kernel's log text, '' when fine.
 */
export function tcpError(table: ConntrackTable, buf: Uint8Array, info: L4Info, family: number, hook: number): string {
  const o = info.l4off;
  const len = info.l4end - o;
  if (len < 20) return 'nf_ct_tcp: short packet';
  const doff = (buf[o + 12]! >> 4) * 4;
  if (doff < 20 || len < doff) return 'nf_ct_tcp: truncated packet';
  if (hook === 0 && table.knobs().checksum) {
    const ok = family === 2
      ? verifyL4Checksum4(buf, info.l3off, o, len, IPPROTO_TCP, CSUM_OFFSET_TCP)
      : verifyL4Checksum6(buf, info.l3off, o, len, IPPROTO_TCP, CSUM_OFFSET_TCP);
    if (!ok) return 'nf_ct_tcp: bad TCP checksum';
  }
  const flags = buf[o + 13]! & ~(0x40 | 0x80 | PSH);
  if (VALID_FLAGS[flags] === 0) return 'nf_ct_tcp: invalid tcp flag combination';
  return '';
}

function newSide(): TcpSide {
  return { end: 0, maxend: 0, maxwin: 0, scale: 0, flags: 0, maxack: 0 };
}

export function newTcpState(): TcpState {
  return { state: TCP_CONNTRACK_NONE, seen: [newSide(), newSide()], lastDir: 0, lastIndex: TCP_NONE_SET, lastSeq: 0, lastAck: 0, lastEnd: 0, lastWin: 0, lastWscale: 0, lastFlags: 0, retrans: 0 };
}

/** segment_seq_plus_len(): the sequence number after this segment (SYN and FIN count one). */
function segEnd(buf: Uint8Array, info: L4Info): number {
  const o = info.l4off;
  const doff = (buf[o + 12]! >> 4) * 4;
  const fl = buf[o + 13]!;
  return (u32(buf, o + 4) + (info.l4end - o - doff) + (fl & SYN ? 1 : 0) + (fl & FIN ? 1 : 0)) >>> 0;
}

/** tcp_options(): window scale and SACK-permitted from a SYN. */
function tcpOptions(buf: Uint8Array, info: L4Info, side: TcpSide): void {
  const o = info.l4off;
  const end = o + (buf[o + 12]! >> 4) * 4;
  side.scale = 0;
  // Options are re-read on a reinitialised SYN; a liberal side stays liberal.
  side.flags &= IP_CT_TCP_FLAG_BE_LIBERAL;
  for (let p = o + 20, guard = 0; p < end && guard < 40; guard++) {
    const kind = buf[p]!;
    if (kind === 0) return;
    if (kind === 1) { p++; continue; }
    if (p + 1 >= end) return;
    const size = buf[p + 1]!;
    if (size < 2 || p + size > end) return;
    if (kind === 4 && size === 2) side.flags |= IP_CT_TCP_FLAG_SACK_PERM;
    else if (kind === 3 && size === 3) {
      // RFC 7323 §2.3: a shift above 14 is treated as 14.
      side.scale = Math.min(buf[p + 2]!, 14);
      side.flags |= IP_CT_TCP_FLAG_WINDOW_SCALE;
    }
    p += size;
  }
}

/** tcp_sack(): the highest right edge of the SACK blocks, or `ack`. */
function tcpSack(buf: Uint8Array, info: L4Info, ack: number): number {
  const o = info.l4off;
  const end = o + (buf[o + 12]! >> 4) * 4;
  let sack = ack;
  for (let p = o + 20, guard = 0; p < end && guard < 40; guard++) {
    const kind = buf[p]!;
    if (kind === 0) break;
    if (kind === 1) { p++; continue; }
    if (p + 1 >= end) break;
    const size = buf[p + 1]!;
    if (size < 2 || p + size > end) break;
    if (kind === 5 && size >= 10 && (size - 2) % 8 === 0) {
      for (let i = 2; i < size; i += 8) {
        const right = u32(buf, p + i + 4);
        if (after(right, sack)) sack = right;
      }
      break;
    }
    p += size;
  }
  return sack;
}

/** tcp_new(): sets up the tracker for the first segment; false = cannot start a connection with it. */
export function tcpNew(table: ConntrackTable, c: Conn, buf: Uint8Array, info: L4Info): boolean {
  const o = info.l4off;
  const newState = TCP_CONNTRACKS[0]![indexOf(buf[o + 13]!)]![TCP_CONNTRACK_NONE]!;
  if (newState >= TCP_CONNTRACK_MAX) return false;
  const st = newTcpState();
  const s0 = st.seen[0];
  s0.end = segEnd(buf, info);
  s0.maxwin = ((buf[o + 14]! << 8) | buf[o + 15]!) || 1;
  if (newState === TCP_CONNTRACK_SYN_SENT) {
    s0.maxend = s0.end;
    tcpOptions(buf, info, s0);
  } else {
    if (!table.knobs().tcpLoose) return false;
    // Picked up mid-stream: the history (and the window scale) is lost, so assume SACK and check windows liberally.
    s0.maxend = (s0.end + s0.maxwin) >>> 0;
    s0.flags = st.seen[1].flags = IP_CT_TCP_FLAG_SACK_PERM | IP_CT_TCP_FLAG_BE_LIBERAL;
  }
  c.tcp = st;
  return true;
}

/** tcp_in_window() verdicts (enum nf_ct_tcp_action). */
const WIN_IGNORE = 0, WIN_INVALID = 1, WIN_ACCEPT = 2;

/** ct->proto.tcp.last_flags bits beyond the per-side flags (nf_conntrack_tcp.h). */
const IP_CT_EXP_CHALLENGE_ACK = 0x40;

/** Why the last tcpInWindow() said invalid or ignored. */
let windowReason = '';

/** nf_tcp_log_invalid(): with be_liberal (per side or by sysctl) nothing is invalid or ignored. */
function logInvalid(table: ConntrackTable, sender: TcpSide, ret: number, why: string): number {
  if ((sender.flags & IP_CT_TCP_FLAG_BE_LIBERAL) || table.knobs().tcpBeLiberal) return WIN_ACCEPT;
  windowReason = 'nf_ct_tcp: ' + why;
  return ret;
}

/** tcp_init_sender(): a SYN (or SYN-ACK) sets up its side's window. */
function initSender(sender: TcpSide, receiver: TcpSide, buf: Uint8Array, info: L4Info, end: number, win: number): void {
  sender.end = sender.maxend = end;
  sender.maxwin = win || 1;
  tcpOptions(buf, info, sender);
  // RFC 7323 §1.3: scaling only when both sides offered it.
  if (!((sender.flags & IP_CT_TCP_FLAG_WINDOW_SCALE) && (receiver.flags & IP_CT_TCP_FLAG_WINDOW_SCALE))) sender.scale = receiver.scale = 0;
}

/** nf_ct_tcp_state_annotate(): remember a segment we let through without believing it. */
function annotate(st: TcpState, buf: Uint8Array, info: L4Info, dir: number, index: number): void {
  const o = info.l4off;
  st.lastIndex = index;
  st.lastDir = dir;
  st.lastSeq = u32(buf, o + 4);
  st.lastEnd = segEnd(buf, info);
  st.lastWin = (buf[o + 14]! << 8) | buf[o + 15]!;
}

/** nf_ct_tcp_state_syn_annotate(): the options of an ignored SYN, for a later resync. */
function synAnnotate(st: TcpState, buf: Uint8Array, info: L4Info): void {
  const tmp = newSide();
  tcpOptions(buf, info, tmp);
  st.lastFlags = 0;
  st.lastWscale = 0;
  if (tmp.flags & IP_CT_TCP_FLAG_WINDOW_SCALE) {
    st.lastFlags |= IP_CT_TCP_FLAG_WINDOW_SCALE;
    st.lastWscale = tmp.scale;
  }
  if (tmp.flags & IP_CT_TCP_FLAG_SACK_PERM) st.lastFlags |= IP_CT_TCP_FLAG_SACK_PERM;
}

/** nf_ct_tcp_state_reset(). */
function resetSide(s: TcpSide): void {
  s.end = s.maxend = s.maxwin = s.maxack = 0;
  s.scale = 0;
  s.flags &= IP_CT_TCP_FLAG_BE_LIBERAL;
}

/** nf_ct_tcp_state_resync(): believe the SYN we ignored, now that its answer came. */
function resync(st: TcpState, dir: number): void {
  const s = st.seen[st.lastDir]!;
  s.end = st.lastEnd;
  s.maxend = st.lastEnd;
  s.maxwin = st.lastWin || 1;
  s.scale = st.lastWscale;
  st.lastFlags &= ~IP_CT_EXP_CHALLENGE_ACK;
  s.flags = st.lastFlags & 0xff;
  resetSide(st.seen[dir]!);
}

/**
 * tcp_in_window() as in Linux 6.x: a segment beyond the receiver's window
 * or acknowledging unseen data is invalid (with a tolerance for senders
 * overshooting the window a little); an old retransmission or a very late
 * ACK is ignored — it belongs to the connection but changes nothing.
 */
function tcpInWindow(table: ConntrackTable, c: Conn, st: TcpState, dir: number, index: number, buf: Uint8Array, info: L4Info): number {
  const o = info.l4off;
  const flags = buf[o + 13]!;
  const sender = st.seen[dir]!;
  const receiver = st.seen[dir ^ 1]!;
  let seq = u32(buf, o + 4);
  let ack = u32(buf, o + 8);
  const winRaw = (buf[o + 14]! << 8) | buf[o + 15]!;
  let win = winRaw;
  let end = segEnd(buf, info);
  let sack = receiver.flags & IP_CT_TCP_FLAG_SACK_PERM ? tcpSack(buf, info, ack) : ack;
  if (c.status & IPS_SEQ_ADJUST) {
    // NAT sequence mangling (nf_ct_seq_offset): the tracker keeps each side in its unmangled
    // sequence space, so an ACK of the other direction's mangled data is mapped back.
    const receiverOffset = ctSeqOffset(c, dir ^ 1, (ack - 1) >>> 0);
    ack = (ack - receiverOffset) >>> 0;
    sack = (sack - receiverOffset) >>> 0;
  }

  if (sender.maxwin === 0) {
    if (flags & SYN) {
      // SYN-ACK in reply to a SYN, or a SYN from the reply direction in a simultaneous open.
      initSender(sender, receiver, buf, info, end, win);
      if (!(flags & ACK)) return WIN_ACCEPT;
    } else {
      // Mid-stream: the history is lost, use what the packet says.
      sender.end = end;
      const swin = (win << sender.scale) >>> 0;
      sender.maxwin = swin || 1;
      sender.maxend = (end + sender.maxwin) >>> 0;
      if (receiver.maxwin === 0) {
        receiver.end = receiver.maxend = sack;
      } else if (sack === ((receiver.end + 1) >>> 0)) {
        receiver.end = (receiver.end + 1) >>> 0; // likely the answer to a keepalive
      }
    }
  } else if ((flags & SYN) && after(end, sender.end) && (st.state === TCP_CONNTRACK_SYN_SENT || st.state === TCP_CONNTRACK_SYN_RECV)) {
    // RFC 9293 §3.4.1: a reinitialised TCP uses larger sequence numbers; start this side over.
    // (A SYN going backwards is checked like any segment: Linux 6.18 has no IP_CT_TCP_REINIT handling, as observed.)
    initSender(sender, receiver, buf, info, end, win);
    if (dir === 1 && !(flags & ACK)) return WIN_ACCEPT;
  }

  if (!(flags & ACK)) {
    ack = sack = receiver.end;
  } else if ((flags & (ACK | RST)) === (ACK | RST) && ack === 0) {
    // Broken stacks set ACK on RST with a zero ack.
    ack = sack = receiver.end;
  }
  // A RST answering a SYN carries seq 0.
  if ((flags & RST) && seq === 0 && st.state === TCP_CONNTRACK_SYN_SENT) seq = end = sender.end;

  const maxAckWin = sender.maxwin > 66000 ? sender.maxwin : 66000;
  if (!before(seq, (sender.maxend + 1) >>> 0)) {
    const overshot = (end - sender.maxend + 1) >>> 0;
    const ackOk = after(sack, (receiver.end - maxAckWin - 1) >>> 0);
    const inRecvWin = receiver.maxwin !== 0 && after(end, (sender.end - receiver.maxwin - 1) >>> 0);
    if (inRecvWin && ackOk && overshot <= receiver.maxwin && before(sack, (receiver.end + 1) >>> 0)) {
      // A sender a little beyond the window: remember its data so the ACK for it is not refused
      // later, but let the segment move nothing else (observed on Linux 6.18: the state stays).
      sender.end = end;
      sender.flags |= IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED;
      return logInvalid(table, sender, WIN_IGNORE, `${overshot} bytes more than expected`);
    }
    return logInvalid(table, sender, WIN_INVALID, `SEQ is over upper bound ${(sender.maxend + 1) >>> 0} (over the window of the receiver)`);
  }
  if (!before(sack, (receiver.end + 1) >>> 0)) {
    return logInvalid(table, sender, WIN_INVALID, `ACK is over upper bound ${(receiver.end + 1) >>> 0} (ACKed data not seen yet)`);
  }
  const inRecvWin = receiver.maxwin === 0 || after(end, (sender.end - receiver.maxwin - 1) >>> 0);
  if (!inRecvWin) return logInvalid(table, sender, WIN_IGNORE, 'SEQ is under lower bound (already ACKed data retransmitted)');
  if (!after(sack, (receiver.end - maxAckWin - 1) >>> 0)) return logInvalid(table, sender, WIN_IGNORE, 'ignored ACK under lower bound (possible overly delayed)');

  if (!(flags & SYN)) win = (win << sender.scale) >>> 0;
  const swin = (win + ((sack - ack) >>> 0)) >>> 0;
  if (sender.maxwin < swin) sender.maxwin = swin;
  if (after(end, sender.end)) {
    sender.end = end;
    sender.flags |= IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED;
  }
  if (flags & ACK) {
    if (!(sender.flags & IP_CT_TCP_FLAG_MAXACK_SET)) {
      sender.maxack = ack;
      sender.flags |= IP_CT_TCP_FLAG_MAXACK_SET;
    } else if (after(ack, sender.maxack)) {
      sender.maxack = ack;
    }
  }
  if (receiver.maxwin !== 0 && after(end, sender.maxend)) receiver.maxwin = (receiver.maxwin + ((end - sender.maxend) >>> 0)) >>> 0;
  if (after((sack + win) >>> 0, (receiver.maxend - 1) >>> 0)) {
    receiver.maxend = (sack + win) >>> 0;
    if (win === 0) receiver.maxend = (receiver.maxend + 1) >>> 0;
  }
  if (ack === receiver.end) receiver.flags &= ~IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED;
  if (index === TCP_ACK_SET) {
    if (st.lastDir === dir && st.lastSeq === seq && st.lastAck === ack && st.lastEnd === end && st.lastWin === winRaw) {
      st.retrans++;
    } else {
      st.lastDir = dir;
      st.lastSeq = seq;
      st.lastAck = ack;
      st.lastEnd = end;
      st.lastWin = winRaw;
      st.retrans = 0;
    }
  }
  return WIN_ACCEPT;
}

/** Outcomes of tcpPacket. */
export const TCP_OK = 0;
export const TCP_INVALID = 1;
/** The entry was closed and a SYN reopens the tuple: delete it and look up again (-NF_REPEAT). */
export const TCP_REPEAT = 2;
/** Accepted, but the entry must go now (a RST as the only reply). */
export const TCP_KILL = 3;

/** The invalid reason of the last TCP_INVALID. */
export let tcpReason = '';

/** tcp_can_early_drop(): the states of a connection on its way out. */
function closing(state: number): boolean {
  return state === TCP_CONNTRACK_FIN_WAIT || state === TCP_CONNTRACK_LAST_ACK || state === TCP_CONNTRACK_TIME_WAIT ||
    state === TCP_CONNTRACK_CLOSE || state === sCW;
}

/** nf_tcp_handle_invalid(): an invalid answer to our FIN/RST shortens an assured connection's timeout. */
function handleInvalid(table: ConntrackTable, c: Conn, st: TcpState, dir: number, index: number): void {
  if (!(c.status & IPS_ASSURED) || (c.status & IPS_FIXED_TIMEOUT)) return;
  if (st.lastDir !== dir && (st.lastIndex === TCP_FIN_SET || st.lastIndex === TCP_RST_SET)) {
    const expires = c.timeoutAt - table.now();
    if (expires < 120_000) return;
    const unack = table.knobs().tcpTimeoutUnackMs;
    if (expires > unack) c.timeoutAt = table.now() + unack;
  } else {
    st.lastIndex = index;
    st.lastDir = dir;
  }
}

/**
 * nf_conntrack_tcp_packet(): moves the state machine, checks the window and
 * returns the new timeout through `timeoutOut[0]` (ms; -1 = leave the timer
 * and the counters alone, as for ignored segments).
 */
export function tcpPacket(table: ConntrackTable, c: Conn, buf: Uint8Array, info: L4Info, dir: number, timeoutOut: number[]): number {
  const st = c.tcp!;
  const o = info.l4off;
  const flags = buf[o + 13]!;
  const index = indexOf(flags);
  let oldState = st.state;
  let newState = TCP_CONNTRACKS[dir]![index]![oldState]!;
  let skipWindow = false;

  switch (newState) {
    case TCP_CONNTRACK_SYN_SENT:
    case TCP_CONNTRACK_IGNORE: {
      if (newState === TCP_CONNTRACK_SYN_SENT) {
        if (oldState < TCP_CONNTRACK_TIME_WAIT) break;
        // RFC 1122 §4.2.2.13: a SYN may reopen a connection in TIME_WAIT; one we saw closed is deleted and looked up again.
        if (((st.seen[dir]!.flags | st.seen[dir ^ 1]!.flags) & IP_CT_TCP_FLAG_CLOSE_INIT) || (st.lastDir === dir && st.lastIndex === TCP_RST_SET)) {
          return TCP_REPEAT;
        }
      }
      if (index === TCP_SYNACK_SET && st.lastIndex === TCP_SYN_SET && st.lastDir !== dir && u32(buf, o + 8) === st.lastEnd) {
        // The SYN/ACK acknowledges a SYN we ignored: both ends are in sync, we were not; resync from that SYN.
        oldState = TCP_CONNTRACK_SYN_SENT;
        newState = TCP_CONNTRACK_SYN_RECV;
        resync(st, dir);
        break;
      }
      annotate(st, buf, info, dir, index);
      if (index === TCP_SYN_SET && dir === 0) {
        synAnnotate(st, buf, info);
        // A SYN in LAST_ACK may draw an RFC 5961 challenge ACK, not the ACK of our FIN.
        if (oldState === TCP_CONNTRACK_LAST_ACK) st.lastFlags |= IP_CT_EXP_CHALLENGE_ACK;
      }
      if (oldState === TCP_CONNTRACK_SYN_SENT && index === TCP_ACK_SET && dir === 1) st.lastAck = u32(buf, o + 8);
      // Ignored: passes with the connection, the state is unchanged.
      timeoutOut[0] = -1;
      return TCP_OK;
    }
    case TCP_CONNTRACK_MAX:
      tcpReason = 'nf_ct_tcp: invalid state';
      return TCP_INVALID;
    case TCP_CONNTRACK_TIME_WAIT:
      // RFC 5961 challenge ACK: must not be taken for the ACK of the last FIN.
      if (oldState === TCP_CONNTRACK_LAST_ACK && index === TCP_ACK_SET && st.lastDir !== dir && st.lastIndex === TCP_SYN_SET &&
        (st.lastFlags & IP_CT_EXP_CHALLENGE_ACK)) {
        st.lastFlags &= ~IP_CT_EXP_CHALLENGE_ACK;
        timeoutOut[0] = -1;
        return TCP_OK;
      }
      break;
    case TCP_CONNTRACK_SYN_SENT2:
      st.lastFlags |= IP_CT_TCP_SIMULTANEOUS_OPEN;
      break;
    case TCP_CONNTRACK_SYN_RECV:
      if (dir === 1 && index === TCP_ACK_SET && (st.lastFlags & IP_CT_TCP_SIMULTANEOUS_OPEN)) newState = TCP_CONNTRACK_ESTABLISHED;
      break;
    case TCP_CONNTRACK_CLOSE: {
      if (index !== TCP_RST_SET) break;
      // A closing connection's tuple may already be reused: no window checks for its RST.
      if (closing(st.state)) {
        skipWindow = true;
        break;
      }
      const other = st.seen[dir ^ 1]!;
      if ((other.flags & IP_CT_TCP_FLAG_MAXACK_SET) && st.lastIndex !== TCP_SYN_SET) {
        const seq = u32(buf, o + 4);
        if (before(seq, other.maxack) && !table.knobs().tcpIgnoreInvalidRst) {
          tcpReason = 'nf_ct_tcp: invalid rst';
          return TCP_INVALID;
        }
        // nf_conntrack_tcp_established(): ESTABLISHED and ASSURED.
        const established = st.state === TCP_CONNTRACK_ESTABLISHED && (c.status & IPS_ASSURED) !== 0;
        if (!established || seq === other.maxack) break;
        if (st.lastIndex === TCP_ACK_SET && st.lastDir === dir && seq === st.lastEnd) break;
        // The RST's sequence is not exact: keep the state so a challenge ACK can follow (RFC 5961 §3.2).
        newState = oldState;
      }
      if ((((c.status & IPS_SEEN_REPLY) && st.lastIndex === TCP_SYN_SET) || (!(c.status & IPS_ASSURED) && st.lastIndex === TCP_ACK_SET)) &&
        u32(buf, o + 8) === st.lastEnd) {
        // RST answering a SYN or ACK we let through while ignoring it: skip the window check.
        skipWindow = true;
      } else if (oldState === TCP_CONNTRACK_SYN_SENT && st.lastIndex === TCP_ACK_SET && st.lastDir === 1 && u32(buf, o + 4) === st.lastAck) {
        // RST answering a challenge ACK we let through (RFC 5961 §4 on a reused tuple).
        skipWindow = true;
      }
      break;
    }
    default:
      break;
  }

  if (!skipWindow) {
    const res = tcpInWindow(table, c, st, dir, index, buf, info);
    if (res === WIN_IGNORE) {
      timeoutOut[0] = -1;
      return TCP_OK;
    }
    if (res === WIN_INVALID) {
      handleInvalid(table, c, st, dir, index);
      tcpReason = windowReason;
      return TCP_INVALID;
    }
  }
  st.lastIndex = index;
  st.lastDir = dir;
  st.state = newState;
  if (oldState !== newState && newState === TCP_CONNTRACK_FIN_WAIT) st.seen[dir]!.flags |= IP_CT_TCP_FLAG_CLOSE_INIT;

  const k = table.knobs();
  const tNew = k.tcpTimeoutMs[newState]!;
  const tRetrans = k.tcpTimeoutMaxRetransMs;
  const tUnack = k.tcpTimeoutUnackMs;
  let timeout: number;
  if (st.retrans >= k.tcpMaxRetrans && tNew > tRetrans) timeout = tRetrans;
  else if (index === TCP_RST_SET) timeout = k.tcpTimeoutMs[TCP_CONNTRACK_CLOSE]!;
  else if (((st.seen[0].flags | st.seen[1].flags) & IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED) && tNew > tUnack) timeout = tUnack;
  else if (st.lastWin === 0 && tNew > tRetrans) timeout = tRetrans;
  else timeout = tNew;
  timeoutOut[0] = timeout;

  if (!(c.status & IPS_SEEN_REPLY)) {
    // A RST before any answer: the connection never existed; drop the entry at once.
    if (flags & RST) return TCP_KILL;
    // A retransmitted SYN does not renew the timer (port reuse would keep the entry, and its NAT, alive).
    if (index === TCP_SYN_SET && oldState === TCP_CONNTRACK_SYN_SENT) {
      timeoutOut[0] = -2;
      return TCP_OK;
    }
    // Picked up mid-stream and never answered: not the long established timeout.
    if (newState === TCP_CONNTRACK_ESTABLISHED && timeout > tUnack) timeoutOut[0] = tUnack;
  } else if (!(c.status & IPS_ASSURED) && (oldState === TCP_CONNTRACK_SYN_RECV || oldState === TCP_CONNTRACK_ESTABLISHED) && newState === TCP_CONNTRACK_ESTABLISHED) {
    // A valid ACK in ESTABLISHED after SYN_RECV, or a valid answer for a picked-up connection.
    c.status |= IPS_ASSURED;
  }
  return TCP_OK;
}

/** The state name conntrack -L prints. */
export { TCP_CONNTRACK_NAMES } from './types.js';
