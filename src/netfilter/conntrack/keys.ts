/**
 * `ct KEY [DIR]` loads and `ct KEY set` stores, as nft_ct.c evaluates them
 * (byte orders included: marks, status, expiration and counters in host
 * order, ports in network order), and connlimit's counting (nf_conncount.c).
 */
import type { Packet } from '../../packet/packet.js';
import type { Conn } from './types.js';
import {
  IPS_CONFIRMED, IPS_DYING, IP_CT_IS_REPLY, IP_CT_UNTRACKED, NF_CT_STATE_INVALID_BIT, NF_CT_STATE_UNTRACKED_BIT, nfCtStateBit,
} from './types.js';
import type { ConntrackTable } from './table.js';
import { connOf } from './table.js';
import { NFT_CT } from '../bytecode.js';

/** Register words are host-order Uint32Array cells; on a big-endian host the bytes differ. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function hostU32(regs: Uint8Array, off: number, v: number): void {
  v >>>= 0;
  if (LITTLE_ENDIAN) {
    regs[off] = v & 0xff; regs[off + 1] = (v >>> 8) & 0xff; regs[off + 2] = (v >>> 16) & 0xff; regs[off + 3] = v >>> 24;
  } else {
    regs[off] = v >>> 24; regs[off + 1] = (v >>> 16) & 0xff; regs[off + 2] = (v >>> 8) & 0xff; regs[off + 3] = v & 0xff;
  }
}

function hostU16(regs: Uint8Array, off: number, v: number): void {
  if (LITTLE_ENDIAN) { regs[off] = v & 0xff; regs[off + 1] = (v >>> 8) & 0xff; } else { regs[off] = (v >>> 8) & 0xff; regs[off + 1] = v & 0xff; }
}

function hostU64(regs: Uint8Array, off: number, v: number): void {
  const lo = v % 0x100000000;
  const hi = Math.floor(v / 0x100000000);
  if (LITTLE_ENDIAN) { hostU32(regs, off, lo); hostU32(regs, off + 4, hi); } else { hostU32(regs, off, hi); hostU32(regs, off + 4, lo); }
}

function readHostU32(regs: Uint8Array, off: number): number {
  return LITTLE_ENDIAN
    ? (regs[off]! | (regs[off + 1]! << 8) | (regs[off + 2]! << 16) | (regs[off + 3]! << 24)) >>> 0
    : ((regs[off]! << 24) | (regs[off + 1]! << 16) | (regs[off + 2]! << 8) | regs[off + 3]!) >>> 0;
}

function readHostU16(regs: Uint8Array, off: number): number {
  return LITTLE_ENDIAN ? regs[off]! | (regs[off + 1]! << 8) : (regs[off]! << 8) | regs[off + 1]!;
}

function counter(c: Conn, which: number[], dir: number | undefined): number {
  return dir === 0 || dir === 1 ? which[dir]! : which[0]! + which[1]!;
}

/** Zones assigned by `ct zone set` before conntrack saw the packet (nft_ct_set_zone_eval's template). */
const pktZones = new WeakMap<Packet, number>();
/** Whether `ct zone set` ever ran: until then the per-packet lookup is skipped. */
let zonesSet = false;

/** The zone `ct zone set` gave the packet, or undefined. conntrackIn() uses it when the caller passes none. */
export function packetZone(pkt: Packet): number | undefined {
  return zonesSet ? pktZones.get(pkt) : undefined;
}

/**
 * nft_ct_get_eval(). Writes at `regs[off..]`; false = NFT_BREAK (no entry,
 * or the key does not apply: no helper, an IPv6 entry for `ip saddr`).
 * `ct state` never breaks: invalid and untracked have their own bits.
 */
export function ctLoad(table: ConntrackTable, pkt: Packet, key: number, dir: number | undefined, regs: Uint8Array, off: number): boolean {
  const v = pkt.meta.ctSlot;
  const ctinfo = v < 0 ? -1 : v & 7;
  const c = connOf(table, pkt);
  if (key === NFT_CT.STATE) {
    let bit: number;
    if (c !== undefined) bit = nfCtStateBit(ctinfo);
    else if (ctinfo === IP_CT_UNTRACKED) bit = NF_CT_STATE_UNTRACKED_BIT;
    else bit = NF_CT_STATE_INVALID_BIT;
    hostU32(regs, off, bit);
    return true;
  }
  if (c === undefined) return false;
  switch (key) {
    case NFT_CT.DIRECTION: regs[off] = ctinfo >= IP_CT_IS_REPLY ? 1 : 0; return true;
    case NFT_CT.STATUS: hostU32(regs, off, c.status); return true;
    case NFT_CT.MARK: hostU32(regs, off, c.mark); return true;
    case NFT_CT.SECMARK: hostU32(regs, off, c.secmark); return true;
    case NFT_CT.EXPIRATION: {
      // nf_ct_expires() in milliseconds; an unconfirmed entry's timer has not started, it reads its full timeout.
      const left = Math.max(0, c.timeoutAt - table.now());
      hostU32(regs, off, Math.floor(left));
      return true;
    }
    case NFT_CT.HELPER: {
      if (c.helper === '') return false;
      regs.fill(0, off, off + 16);
      for (let i = 0; i < c.helper.length && i < 15; i++) regs[off + i] = c.helper.charCodeAt(i);
      return true;
    }
    case NFT_CT.LABELS: regs.set(c.labels, off); return true;
    case NFT_CT.PKTS: hostU64(regs, off, counter(c, c.packets, dir)); return true;
    case NFT_CT.BYTES: hostU64(regs, off, counter(c, c.bytes, dir)); return true;
    case NFT_CT.AVGPKT: {
      const p = counter(c, c.packets, dir);
      hostU64(regs, off, p === 0 ? 0 : Math.floor(counter(c, c.bytes, dir) / p));
      return true;
    }
    case NFT_CT.ZONE: hostU16(regs, off, c.zone); return true;
    case NFT_CT.ID: hostU32(regs, off, c.id); return true;
    default: break;
  }
  const t = c.tuple[dir === 1 ? 1 : 0];
  const alen = c.family === 2 ? 4 : 16;
  switch (key) {
    case NFT_CT.L3PROTOCOL: regs[off] = c.family; return true;
    case NFT_CT.PROTOCOL: regs[off] = c.proto; return true;
    case NFT_CT.SRC: regs.set(t.src.subarray(0, alen), off); return true;
    case NFT_CT.DST: regs.set(t.dst.subarray(0, alen), off); return true;
    case NFT_CT.PROTO_SRC: regs[off] = t.srcPort >> 8; regs[off + 1] = t.srcPort & 0xff; return true;
    case NFT_CT.PROTO_DST: regs[off] = t.dstPort >> 8; regs[off + 1] = t.dstPort & 0xff; return true;
    case NFT_CT.SRC_IP: if (c.family !== 2) return false; regs.set(t.src.subarray(0, 4), off); return true;
    case NFT_CT.DST_IP: if (c.family !== 2) return false; regs.set(t.dst.subarray(0, 4), off); return true;
    case NFT_CT.SRC_IP6: if (c.family !== 10) return false; regs.set(t.src, off); return true;
    case NFT_CT.DST_IP6: if (c.family !== 10) return false; regs.set(t.dst, off); return true;
    default: return false;
  }
}

/** nft_ct_set_eval() and the ct helper object: mark, secmark, labels, zone (before conntrack), helper (unconfirmed only). */
export function ctStore(table: ConntrackTable, pkt: Packet, key: number, _dir: number | undefined, regs: Uint8Array, off: number, _len: number): void {
  if (key === NFT_CT.ZONE) {
    // Only a packet conntrack has not seen yet gets a zone (it rides on a template).
    if (pkt.meta.ctSlot < 0) { pktZones.set(pkt, readHostU16(regs, off)); zonesSet = true; }
    return;
  }
  const c = connOf(table, pkt);
  if (c === undefined) return;
  switch (key) {
    case NFT_CT.MARK: c.mark = readHostU32(regs, off); return;
    case NFT_CT.SECMARK: c.secmark = readHostU32(regs, off); return;
    case NFT_CT.LABELS: c.labels.set(regs.subarray(off, off + 16)); return;
    case NFT_CT.HELPER: {
      if (c.status & IPS_CONFIRMED) return;
      let name = '';
      for (let i = 0; i < 16 && regs[off + i] !== 0; i++) name += String.fromCharCode(regs[off + i]!);
      c.helper = name;
      return;
    }
    default: return;
  }
}

/**
 * nf_conncount_add() for connlimit: the live connections in `list`, counting
 * the packet's own (added when new). -1 when the packet has no entry.
 */
export function connlimitCount(table: ConntrackTable, pkt: Packet, list: object): number {
  const c = connOf(table, pkt);
  if (c === undefined) return -1;
  let set = table.connlimitLists.get(list);
  if (set === undefined) {
    set = new Set<number>();
    table.connlimitLists.set(list, set);
  }
  const now = table.now();
  let n = 0;
  let seen = false;
  for (const slotId of [...set]) {
    const e = table.slots[slotId >> 8];
    // Each member is (slot << 8) | (id & 0xff) so a reused slot is not mistaken for the old entry.
    if (e == null || (e.id & 0xff) !== (slotId & 0xff) || e.timeoutAt <= now || (e.status & IPS_DYING)) {
      set.delete(slotId);
      continue;
    }
    if (e === c) seen = true;
    n++;
  }
  if (!seen) {
    set.add((c.slot << 8) | (c.id & 0xff));
    n++;
  }
  return n;
}
