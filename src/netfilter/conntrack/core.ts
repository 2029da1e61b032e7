/**
 * nf_conntrack_in() and __nf_conntrack_confirm() (nf_conntrack_core.c): the
 * lookup or creation of a packet's entry, the per-protocol error checks and
 * state updates, ICMP errors related through the quoted tuple.
 */
import type { Packet } from '../../packet/packet.js';
import type { Conn, Tuple } from './types.js';
import {
  CT_INVALID, IPS_SEQ_ADJUST, IPS_CONFIRMED, IPS_DYING, IPS_EXPECTED, IPS_FIXED_TIMEOUT, IPS_SEEN_REPLY, IPS_ASSURED, IP_CT_ESTABLISHED,
  IP_CT_ESTABLISHED_REPLY, IP_CT_IS_REPLY, IP_CT_NEW, IP_CT_RELATED, IP_CT_UNTRACKED, newTuple,
} from './types.js';
import { ConntrackTable, ctSlotValue } from './table.js';
import { getTuple, invertTuple, newL4Info, parseL3L4, parsePacket } from './tuple.js';
import type { L4Info } from './tuple.js';
import { tcpError, tcpNew, tcpPacket, tcpReason, TCP_INVALID, TCP_KILL, TCP_REPEAT } from './proto-tcp.js';
import { IPPROTO_GRE, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE } from '../../packet/wire/constants.js';
import { verifyL4Checksum4, verifyL4Checksum6, CSUM_OFFSET_UDP } from '../../packet/wire/l4checksum.js';
import { internetChecksum } from '../../packet/checksum.js';
import { helperLog, helperNewConn, expectationFor, runHelper } from './helpers.js';
import { packetZone } from './keys.js';
import { ctSeqAdjust } from './seqadj.js';

const NF_DROP = 0;
const NF_ACCEPT = 1;
const NF_INET_PRE_ROUTING = 0;

/**
 * What nf_conntrack_in() decided. `verdict` NF_ACCEPT (1) or NF_DROP (0);
 * `ctinfo` IP_CT_* (0..4), IP_CT_UNTRACKED (7) or CT_INVALID (-1) — an
 * invalid packet continues without an entry and `ct state` reads invalid;
 * `reason` says why it is invalid or dropped ('' otherwise). The same object
 * is returned by every call on a table (the hot path allocates nothing).
 */
export interface CtResult {
  verdict: number;
  ctinfo: number;
  reason: string;
}

interface Scratch {
  res: CtResult;
  info: L4Info;
  inner: L4Info;
  t: Tuple;
  t2: Tuple;
  dir: number[];
  timeout: number[];
}

const scratch = new WeakMap<ConntrackTable, Scratch>();

/** The last table's scratch: one table serves a whole replay, so the WeakMap is rarely asked. */
let lastTable: ConntrackTable | undefined;
let lastScratch: Scratch | undefined;

function scratchOf(table: ConntrackTable): Scratch {
  if (table === lastTable) return lastScratch!;
  let s = scratch.get(table);
  if (s === undefined) {
    s = { res: { verdict: NF_ACCEPT, ctinfo: CT_INVALID, reason: '' }, info: newL4Info(), inner: newL4Info(), t: newTuple(), t2: newTuple(), dir: [0], timeout: [0] };
    scratch.set(table, s);
  }
  lastTable = table;
  lastScratch = s;
  return s;
}

function result(s: Scratch, verdict: number, ctinfo: number, reason: string): CtResult {
  s.res.verdict = verdict;
  s.res.ctinfo = ctinfo;
  s.res.reason = reason;
  return s.res;
}

/** nf_ct_refresh_acct(): new timeout (unless fixed) and the per-direction counters (layer-3 bytes). */
function refreshAcct(table: ConntrackTable, c: Conn, dir: number, bytes: number, timeoutMs: number): void {
  if (timeoutMs >= 0 && !(c.status & IPS_FIXED_TIMEOUT)) c.timeoutAt = table.now() + timeoutMs;
  c.packets[dir]!++;
  c.bytes[dir]! += bytes;
}

const ICMP_VALID_NEW = new Set([8, 13, 15, 17]);
const ICMPV6_VALID_NEW = new Set([128, 139]);
/** icmpv6 noct_valid_new: MLD and neighbour discovery are never tracked (nf_conntrack_proto_icmpv6.c). */
const ICMPV6_NOCT = new Set([130, 131, 132, 133, 134, 135, 136, 143]);

function isIcmpError(proto: number, type: number): boolean {
  if (proto === IPPROTO_ICMP) return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
  return type < 128;
}

/** A copy of `t` shaped like newTuple()'s (the copy constructor beats allocating and then set()). */
function cloneTuple(t: Tuple): Tuple {
  return { src: new Uint8Array(t.src), dst: new Uint8Array(t.dst), srcPort: t.srcPort, dstPort: t.dstPort };
}

function newConn(table: ConntrackTable, family: 2 | 10, proto: number, zone: number, t: Tuple, reply: Tuple): Conn {
  const c: Conn = {
    slot: 0, id: 0, family, proto, zone,
    tuple: [cloneTuple(t), cloneTuple(reply)],
    status: 0, timeoutAt: 0, mark: 0, secmark: 0, labels: new Uint8Array(16),
    packets: [0, 0], bytes: [0, 0], tcp: null, helper: '', master: -1, serial: 0, streamTs: 0, masqIndex: 0, natFollowPort: -1,
  };
  // ctnetlink ids are hashes of the entry's address in the kernel; any stable unique number serves.
  c.id = (Math.floor(table.random() * 0x7fffffff) ^ table.nextId++) >>> 0;
  c.serial = ++table.serial;
  return c;
}

/**
 * nf_conntrack_in(): at PREROUTING (-200) for received packets and OUTPUT for
 * local ones. A packet that already carries an entry (looped back, or
 * `notrack`) keeps it. Sets `pkt.meta.ctSlot`.
 */
export function conntrackIn(table: ConntrackTable, pkt: Packet, family: 2 | 10, hook: number, zoneArg?: number): CtResult {
  const s = scratchOf(table);
  if (pkt.meta.ctSlot >= 0) return result(s, NF_ACCEPT, pkt.meta.ctSlot & 7, '');
  const zone = zoneArg ?? packetZone(pkt) ?? 0;
  const info = s.info;
  const perr = parsePacket(pkt, family, info);
  if (perr !== '') {
    table.stats.invalid++;
    return result(s, NF_ACCEPT, CT_INVALID, 'nf_conntrack: ' + perr);
  }
  const buf = pkt.buffer;
  const proto = info.proto;
  const l3len = info.l4end - info.l3off;

  // l4proto->error(): checks that need no entry, and ICMP errors.
  if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) {
    if (info.l4off + 8 > info.l4end) return invalid(table, s, 'nf_ct_icmp: short packet');
    const type = buf[info.l4off]!;
    if (proto === IPPROTO_ICMPV6 && ICMPV6_NOCT.has(type)) {
      pkt.meta.ctSlot = IP_CT_UNTRACKED;
      return result(s, NF_ACCEPT, IP_CT_UNTRACKED, '');
    }
    if (hook === NF_INET_PRE_ROUTING && table.knobs().checksum) {
      const ok = proto === IPPROTO_ICMP
        ? internetChecksum(buf, info.l4off, info.l4end - info.l4off) === 0
        : verifyL4Checksum6(buf, info.l3off, info.l4off, info.l4end - info.l4off, IPPROTO_ICMPV6, 2);
      if (!ok) return invalid(table, s, proto === IPPROTO_ICMP ? 'nf_ct_icmp: bad hw icmp checksum' : 'nf_ct_icmpv6: ICMPv6 checksum failed');
    }
    if (isIcmpError(proto, type)) return icmpErrorMessage(table, s, pkt, family, zone);
  } else if (proto === IPPROTO_TCP) {
    const why = tcpError(table, buf, info, family, hook);
    if (why !== '') return invalid(table, s, why);
  } else if (proto === IPPROTO_UDP || proto === IPPROTO_UDPLITE) {
    const why = udpError(table, buf, info, family, hook);
    if (why !== '') return invalid(table, s, why);
  }

  const t = s.t;
  for (let attempt = 0; attempt < 2; attempt++) {
    // resolve_normal_ct(): the lookup reads the tuple straight from the packet; only a new entry needs it as a Tuple.
    let c = table.lookupPacket(zone, family, buf, info, s.dir);
    if (c === null) return invalid(table, s, 'nf_conntrack: cannot get the tuple');
    let dir = s.dir[0]!;
    if (c === undefined) {
      // init_conntrack()
      getTuple(buf, family, info, t);
      if (!invertTuple(proto, t, s.t2)) return invalid(table, s, 'nf_conntrack: cannot invert the tuple');
      const max = table.knobs().max;
      if (max > 0 && table.count >= max && !table.earlyDrop()) {
        table.stats.drop++;
        return result(s, NF_DROP, CT_INVALID, 'nf_conntrack: table full, dropping packet');
      }
      c = newConn(table, family, proto, zone, t, s.t2);
      if (proto === IPPROTO_TCP && !tcpNew(table, c, buf, info)) {
        return invalid(table, s, !table.knobs().tcpLoose && (buf[info.l4off + 13]! & 0x17) === 0x10
          ? 'nf_ct_tcp: invalid new (loose pickup disabled)' : 'nf_ct_tcp: invalid new');
      }
      const exp = expectationFor(table, c);
      if (exp !== undefined) {
        c.status |= IPS_EXPECTED;
        c.master = exp.master;
        c.mark = exp.mark;
        c.natFollowPort = exp.natFollowPort;
        c.natFollowTuple = exp.natFollowTuple;
      } else {
        helperNewConn(table, c);
      }
      table.allocSlot(c);
      dir = 0;
    }
    let ctinfo: number;
    if (dir === 1) ctinfo = IP_CT_ESTABLISHED_REPLY;
    else if (c.status & IPS_SEEN_REPLY) ctinfo = IP_CT_ESTABLISHED;
    else if (c.status & IPS_EXPECTED) ctinfo = IP_CT_RELATED;
    else ctinfo = IP_CT_NEW;

    // l4proto->packet()
    let timeout: number;
    if (proto === IPPROTO_TCP) {
      const r = tcpPacket(table, c, buf, info, dir, s.timeout);
      if (r === TCP_REPEAT) {
        table.remove(c);
        continue;
      }
      if (r === TCP_INVALID) {
        if (!(c.status & IPS_CONFIRMED)) table.remove(c);
        return invalid(table, s, tcpReason);
      }
      timeout = s.timeout[0]!;
      pkt.meta.ctSlot = ctSlotValue(c, ctinfo);
      // Ignored segments and retransmitted SYNs leave the timer and the counters alone.
      if (timeout >= 0) refreshAcct(table, c, dir, l3len, timeout);
      if (r === TCP_KILL) {
        table.kill(c);
        return result(s, NF_ACCEPT, ctinfo, '');
      }
    } else if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) {
      const type0 = c.tuple[0].dstPort >> 8;
      if (!(proto === IPPROTO_ICMP ? ICMP_VALID_NEW : ICMPV6_VALID_NEW).has(type0)) {
        if (!(c.status & IPS_CONFIRMED)) table.remove(c);
        return invalid(table, s, proto === IPPROTO_ICMP ? 'nf_ct_icmp: invalid new' : 'nf_ct_icmpv6: invalid new');
      }
      timeout = proto === IPPROTO_ICMP ? table.knobs().icmpTimeoutMs : table.knobs().icmpv6TimeoutMs;
      pkt.meta.ctSlot = ctSlotValue(c, ctinfo);
      refreshAcct(table, c, dir, l3len, timeout);
    } else if (proto === IPPROTO_UDP || proto === IPPROTO_UDPLITE) {
      const now = table.now();
      if (!(c.status & IPS_CONFIRMED) && c.streamTs === 0) c.streamTs = now + 2000;
      const unreplied = table.knobs().udpTimeoutMs;
      pkt.meta.ctSlot = ctSlotValue(c, ctinfo);
      if (c.status & IPS_SEEN_REPLY) {
        // Traffic both ways: a stream once it is still active two seconds after it began (nf_conntrack_proto_udp.c).
        let extra = unreplied;
        let stream = false;
        if (now > c.streamTs) {
          extra = table.knobs().udpTimeoutStreamMs;
          stream = (c.status & IPS_ASSURED) === 0;
        }
        refreshAcct(table, c, dir, l3len, extra);
        if (stream) c.status |= IPS_ASSURED;
      } else {
        refreshAcct(table, c, dir, l3len, unreplied);
      }
    } else if (proto === IPPROTO_GRE) {
      // nf_conntrack_proto_gre: 30 s until a reply, then a 180 s stream and ASSURED (GRE v0 keys are 0, like generic).
      pkt.meta.ctSlot = ctSlotValue(c, ctinfo);
      if (c.status & IPS_SEEN_REPLY) {
        refreshAcct(table, c, dir, l3len, table.knobs().greTimeoutStreamMs);
        c.status |= IPS_ASSURED;
      } else {
        refreshAcct(table, c, dir, l3len, table.knobs().greTimeoutMs);
      }
    } else {
      timeout = table.knobs().genericTimeoutMs;
      pkt.meta.ctSlot = ctSlotValue(c, ctinfo);
      refreshAcct(table, c, dir, l3len, timeout);
    }
    if (ctinfo === IP_CT_ESTABLISHED_REPLY) c.status |= IPS_SEEN_REPLY;
    table.stats.found++;
    return result(s, NF_ACCEPT, ctinfo, '');
  }
  return invalid(table, s, 'nf_conntrack: repeated lookup');
}

function invalid(table: ConntrackTable, s: Scratch, reason: string): CtResult {
  table.stats.invalid++;
  return result(s, NF_ACCEPT, CT_INVALID, reason);
}

/**
 * udp_error() and udplite_error(): truncated datagrams, UDP-Lite coverage,
 * and bad checksums (PREROUTING only, nf_conntrack_checksum=1). Checked on
 * Linux 6.x (test/ct-kernel-udp-checksum.test.ts).
 */
function udpError(table: ConntrackTable, buf: Uint8Array, info: L4Info, family: number, hook: number): string {
  const o = info.l4off;
  // skb->len - dataoff: the IP payload, whatever the UDP length field says.
  const avail = info.l4end - o;
  const lite = info.proto === IPPROTO_UDPLITE;
  if (avail < 8) return lite ? 'nf_ct_udplite: short packet' : 'nf_ct_udp: short packet';
  const ulen = (buf[o + 4]! << 8) | buf[o + 5]!;
  const check = (buf[o + 6]! << 8) | buf[o + 7]!;
  let covered = avail;
  if (lite) {
    // RFC 3828 §3.1: the length field is the checksum coverage, 0 = all of it.
    if (ulen !== 0) {
      if (ulen < 8 || ulen > avail) return 'nf_ct_udplite: invalid checksum coverage';
      covered = ulen;
    }
    if (check === 0) return 'nf_ct_udplite: checksum missing';
  } else {
    if (ulen > avail || ulen < 8) return 'nf_ct_udp: truncated/malformed packet';
    // "Packet with no checksum" is fine for either family. RFC 8200 §8.1 forbids it over IPv6,
    // but that is the receiving socket's business (udp6 drops it), not conntrack's.
    if (check === 0) return '';
  }
  if (hook === NF_INET_PRE_ROUTING && table.knobs().checksum) {
    // nf_checksum() / nf_checksum_partial() sum the whole IP payload (bytes past the UDP length
    // too) under a pseudo-header of that length, and udplite_error() passes IPPROTO_UDP, not
    // IPPROTO_UDPLITE, for its pseudo-header: a UDP-Lite checksum made as RFC 3828 says fails.
    const ok = family === 2
      ? verifyL4Checksum4(buf, info.l3off, o, avail, IPPROTO_UDP, CSUM_OFFSET_UDP, covered)
      : verifyL4Checksum6(buf, info.l3off, o, avail, IPPROTO_UDP, CSUM_OFFSET_UDP, covered);
    if (!ok) return lite ? 'nf_ct_udplite: bad checksum' : 'nf_ct_udp: bad checksum';
  }
  return '';
}

/**
 * nf_conntrack_inet_error(): an ICMP error belongs to the connection of the
 * packet it quotes. The quoted tuple is inverted (the quoted packet travelled
 * the other way) and looked up; the error's ctinfo is RELATED, plus
 * IP_CT_IS_REPLY when it travels in the reply direction.
 */
function icmpErrorMessage(table: ConntrackTable, s: Scratch, pkt: Packet, family: 2 | 10, zone: number): CtResult {
  const buf = pkt.buffer;
  const outer = s.info;
  const inner = s.inner;
  const innerOff = outer.l4off + 8;
  const err = parseL3L4(buf, innerOff, outer.l4end, family, inner);
  if (err !== '') return invalid(table, s, 'nf_ct_icmp: failed to parse the quoted packet: ' + err);
  // The quoted packet may be cut short; its length field still claims the original size.
  inner.l4end = outer.l4end;
  if ((inner.proto === IPPROTO_ICMP || inner.proto === IPPROTO_ICMPV6) && inner.l4off < inner.l4end && isIcmpError(inner.proto, buf[inner.l4off]!)) {
    return invalid(table, s, 'nf_ct_icmp: error about an error');
  }
  const t = s.t;
  if (!getTuple(buf, family, inner, t)) return invalid(table, s, 'nf_ct_icmp: quoted packet too short');
  if (!invertTuple(inner.proto, t, s.t2)) return invalid(table, s, 'nf_ct_icmp: cannot invert the quoted tuple');
  const c = table.lookup(zone, family, inner.proto, s.t2, s.dir);
  if (c === undefined) return invalid(table, s, 'nf_ct_icmp: no connection for the quoted packet');
  const dir = s.dir[0]!;
  // The error must travel to the address its connection expects in that direction (nf_conntrack_inet_error()).
  const alen = family === 2 ? 4 : 16;
  const daddrOff = outer.l3off + (family === 2 ? 16 : 24);
  const want = c.tuple[dir]!.dst;
  for (let i = 0; i < alen; i++) {
    if (buf[daddrOff + i] !== want[i]) return invalid(table, s, 'nf_ct_icmp: outer daddr does not match the connection');
  }
  const ctinfo = IP_CT_RELATED + (dir === 1 ? IP_CT_IS_REPLY : 0);
  pkt.meta.ctSlot = ctSlotValue(c, ctinfo);
  return result(s, NF_ACCEPT, ctinfo, '');
}

/**
 * __nf_conntrack_confirm(): at the last hook (POSTROUTING, INPUT) a new entry
 * enters the hash and its timeout starts. Returns NF_DROP when a clashing
 * entry was confirmed meanwhile for the same tuples.
 */
/** Why the last conntrackConfirm() returned NF_DROP, for a person (`why`). */
let confirmDropWhy = '';
export function confirmDropReason(): string { return confirmDropWhy; }

export function conntrackConfirm(table: ConntrackTable, pkt: Packet): number {
  const v = pkt.meta.ctSlot;
  if (v < 8) return NF_ACCEPT;
  const c = table.slots[v >> 3];
  if (c == null) return NF_ACCEPT;
  // nf_confirm(): the helper, then the sequence adjustment a NAT helper's length change
  // requires (nf_ct_seq_adjust), then __nf_conntrack_confirm. A helper may drop the packet.
  if ((c.helper !== '' || (c.status & IPS_SEQ_ADJUST)) && (v & 7) !== IP_CT_RELATED + IP_CT_IS_REPLY) {
    if (c.helper !== '' && (v & 7) !== IP_CT_RELATED && runHelper(table, pkt, c, v & 7) === NF_DROP) {
      confirmDropWhy = `the ${c.helper} helper dropped it (${helperLog || 'no reason logged'})`;
      return NF_DROP;
    }
    if ((c.status & IPS_SEQ_ADJUST) && c.proto === IPPROTO_TCP) {
      const info = scratchOf(table).info;
      if (parsePacket(pkt, c.family, info) === '' && info.proto === IPPROTO_TCP && !ctSeqAdjust(pkt.buffer, info.l4off, info.l4end, c, v & 7)) {
        table.stats.drop++;
        confirmDropWhy = 'nf_ct_seq_adjust: the TCP options could not be adjusted (malformed SACK)';
        return NF_DROP;
      }
    }
  }
  if (c.status & IPS_DYING) {
    table.remove(c);
    return NF_ACCEPT;
  }
  if (c.status & IPS_CONFIRMED) return NF_ACCEPT;
  // Only the original direction's first packet confirms (the reply direction cannot be unconfirmed).
  if ((v & 7) >= IP_CT_IS_REPLY) return NF_ACCEPT;
  if (table.tupleTaken(c.zone, c.family, c.proto, c.tuple[0], c) || table.tupleTaken(c.zone, c.family, c.proto, c.tuple[1], c)) {
    table.stats.insertFailed++;
    table.remove(c);
    pkt.meta.ctSlot = -1;
    confirmDropWhy = 'confirmation clashed with an existing entry';
    return NF_DROP;
  }
  table.insert(c);
  table.stats.insert++;
  return NF_ACCEPT;
}

/** The packet died (dropped, consumed) before confirmation: its unconfirmed entry is freed (nf_conntrack_destroy). */
export function conntrackRelease(table: ConntrackTable, pkt: Packet): void {
  const v = pkt.meta.ctSlot;
  if (v < 8) return;
  const c = table.slots[v >> 3];
  if (c != null && (!(c.status & IPS_CONFIRMED) || (c.status & IPS_DYING))) table.remove(c);
}

/** `notrack` (nft_notrack.c): the packet gets the untracked template, unless it already has an entry. */
export function notrack(_table: ConntrackTable, pkt: Packet): void {
  if (pkt.meta.ctSlot >= 0) return;
  pkt.meta.ctSlot = IP_CT_UNTRACKED;
}


/**
 * nf_ct_attach(): a packet the host builds in answer to another (the TCP
 * reset of `reject`) shares its entry, as RELATED in the opposite direction,
 * so it skips the conntrack lookup and NAT rewrites it like the connection.
 */
export function conntrackAttach(table: ConntrackTable, nskb: Packet, skb: Packet): void {
  const v = skb.meta.ctSlot;
  if (v < 8 || table.slots[v >> 3] == null) return;
  const ctinfo = (v & 7) >= IP_CT_IS_REPLY ? IP_CT_RELATED : IP_CT_RELATED + IP_CT_IS_REPLY;
  nskb.meta.ctSlot = (v & ~7) | ctinfo;
}
