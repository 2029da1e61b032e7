/**
 * meta (nft_meta.c): packet metadata into a register, in the kernel's sizes
 * and byte orders (host order for marks and indexes, network order for
 * `protocol`, 16 zero-padded bytes for interface names). A key the packet lacks
 * (no input device, no socket, no layer-4 protocol) breaks the rule.
 */
import type { MetaExpr } from '../bytecode.js';
import { NFT_META } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { fail, pktLen, storeU32, storeU16, storeU8, storeBE16 } from './types.js';
import { regByteOffset } from '../vm.js';
import type { Vm } from '../vm.js';
import { ERRNO } from '../errors.js';

const M = NFT_META;
/** NFPROTO_BRIDGE. */
const NFPROTO_BRIDGE = 7;
/** IFNAMSIZ. */
const IFNAMSIZ = 16;

/** Register length per key (nft_meta_get_init). */
export function metaKeyLen(key: number): number {
  switch (key) {
    case M.PROTOCOL: case M.IIFTYPE: case M.OIFTYPE: case M.BRI_IIFPVID: case M.BRI_IIFVPROTO: return 2;
    case M.NFPROTO: case M.L4PROTO: case M.NFTRACE: case M.PKTTYPE: case M.SECPATH: case M.TIME_DAY: case M.BRI_BROUTE: return 1;
    case M.IIFNAME: case M.OIFNAME: case M.IIFKIND: case M.OIFKIND: case M.BRI_IIFNAME: case M.BRI_OIFNAME: case M.SDIFNAME: return IFNAMSIZ;
    case M.TIME_NS: return 8;
    default: return 4;
  }
}

export interface MetaP { key: number; reg: number; set: boolean }

/** The register words of interface names met so far: names are few, and a rule compares one per packet. */
const nameWords = new Map<string, Uint32Array>();
/** Bounds the cache (renamed or deleted devices leave their old names behind). */
const NAME_CACHE_MAX = 1024;
const NO_NAME = new Uint32Array(IFNAMSIZ / 4);

/**
 * `name` as the four host-order register words strncpy(…, IFNAMSIZ) leaves
 * (at most 15 bytes, zero-padded): the same array every time for a name, so
 * a load is four word copies. Read-only for callers (the JIT inlines it).
 */
export function ifnameWords(name: string | undefined): Uint32Array {
  if (!name) return NO_NAME;
  let w = nameWords.get(name);
  if (w === undefined) {
    w = new Uint32Array(IFNAMSIZ / 4);
    const b = new Uint8Array(w.buffer);
    for (let i = 0; i < name.length && i < IFNAMSIZ - 1; i++) b[i] = name.charCodeAt(i) & 0xff;
    if (nameWords.size >= NAME_CACHE_MAX) nameWords.clear();
    nameWords.set(name, w);
  }
  return w;
}

function storeName(vm: Vm, off: number, name: string | undefined): void {
  const w = ifnameWords(name);
  const regs = vm.regs;
  const at = off >> 2;
  regs[at] = w[0]!; regs[at + 1] = w[1]!; regs[at + 2] = w[2]!; regs[at + 3] = w[3]!;
}

const DAY_MS = 86_400_000;
const TWO_32 = 0x1_0000_0000;

/**
 * `meta time` (nft_meta_get_eval, NFT_META_TIME_NS): the packet's time in
 * nanoseconds since the epoch as a host-order u64, whole microseconds as the
 * clock gives them. Two words computed exactly in doubles (each partial
 * product stays below 2^53), so a rule on time allocates no BigInt.
 */
export function storeTimeNs(vm: Vm, off: number, ms: number): void {
  const us = Math.floor(ms * 1000);
  if (!(us >= 0 && us <= Number.MAX_SAFE_INTEGER)) {
    vm.view.setBigUint64(off, BigInt(us) * 1000n, true);
    return;
  }
  const hi = Math.floor(us / TWO_32);
  const lo = (us - hi * TWO_32) * 1000;
  const carry = Math.floor(lo / TWO_32);
  vm.regs[off >> 2] = lo - carry * TWO_32;
  // The u64 wraps, as BigUint64 does: the Uint32Array store keeps the high word mod 2^32.
  vm.regs[(off >> 2) + 1] = hi * 1000 + carry;
}

/** `meta day` (NFT_META_TIME_DAY): 0 = Sunday; 1970-01-01 was a Thursday. Out of Date's range, 0 as Date's NaN gives. */
export function weekdayUtc(ms: number): number {
  if (!(Math.abs(ms) <= 8.64e15)) return 0;
  // Date truncates the time value toward zero (TimeClip) before taking its day.
  return (((Math.floor(Math.trunc(ms) / DAY_MS) + 4) % 7) + 7) % 7;
}

function metaGet(p: MetaP, vm: Vm): void {
  const pkt = vm.pkt;
  const m = pkt.meta;
  const off = p.reg;
  const host = vm.env.host;
  switch (p.key) {
    case M.LEN: storeU32(vm, off, pktLen(pkt)); return;
    case M.PROTOCOL: storeBE16(vm, off, pkt.protocol); return;
    case M.NFPROTO: storeU8(vm, off, vm.env.pf); return;
    case M.L4PROTO:
      if (pkt.l4proto < 0) break;
      storeU8(vm, off, pkt.l4proto); return;
    case M.PRIORITY: storeU32(vm, off, m.priority); return;
    case M.MARK: storeU32(vm, off, m.mark); return;
    case M.IIF: if (!m.iif) break; storeU32(vm, off, m.iif); return;
    case M.OIF: if (!m.oif) break; storeU32(vm, off, m.oif); return;
    case M.IIFNAME: case M.IIFKIND: case M.IIFTYPE: case M.IIFGROUP:
    case M.OIFNAME: case M.OIFKIND: case M.OIFTYPE: case M.OIFGROUP: {
      const input = p.key === M.IIFNAME || p.key === M.IIFKIND || p.key === M.IIFTYPE || p.key === M.IIFGROUP;
      const idx = input ? m.iif : m.oif;
      const dev = idx ? host.device(idx) : undefined;
      if (!dev) break;
      if (p.key === M.IIFNAME || p.key === M.OIFNAME) storeName(vm, off, dev.name);
      else if (p.key === M.IIFKIND || p.key === M.OIFKIND) storeName(vm, off, dev.kind);
      else if (p.key === M.IIFTYPE || p.key === M.OIFTYPE) storeU16(vm, off, dev.type);
      else storeU32(vm, off, dev.group);
      return;
    }
    case M.SKUID: case M.SKGID: {
      const s = host.socket(pkt, vm.env.pf);
      if (!s) break;
      storeU32(vm, off, p.key === M.SKUID ? s.uid : s.gid);
      return;
    }
    case M.NFTRACE: storeU8(vm, off, m.nftrace ? 1 : 0); return;
    case M.PKTTYPE: storeU8(vm, off, m.pktType); return;
    case M.CPU: storeU32(vm, off, vm.env.cpu); return;
    case M.PRANDOM: storeU32(vm, off, vm.env.random()); return;
    case M.SECPATH: storeU8(vm, off, m.secpath && m.secpath.length ? 1 : 0); return;
    case M.TIME_NS: storeTimeNs(vm, off, vm.env.clock.nowMs()); return;
    case M.TIME_DAY: storeU8(vm, off, weekdayUtc(vm.env.clock.nowMs())); return;
    case M.TIME_HOUR: storeU32(vm, off, Math.floor((((vm.env.clock.nowMs() % DAY_MS) + DAY_MS) % DAY_MS) / 1000)); return;
    case M.SDIF: storeU32(vm, off, 0); return;
    case M.SDIFNAME: storeName(vm, off, undefined); return;
    // nft_meta_get_eval: skb->secmark, always present.
    case M.SECMARK: storeU32(vm, off, m.secmark >>> 0); return;
    case M.RTCLASSID: case M.CGROUP: {
      const v = host.metaExtra(pkt, p.key);
      if (v === undefined) break;
      storeU32(vm, off, v);
      return;
    }
    case M.BRI_IIFNAME: case M.BRI_OIFNAME: {
      // nft_meta_bridge_get_eval(): the name of the bridge the in/out device is a port of, "" when none.
      const idx = p.key === M.BRI_IIFNAME ? m.iif : m.oif;
      const dev = idx ? host.device(idx) : undefined;
      storeName(vm, off, dev?.master !== undefined ? host.device(dev.master)?.name : undefined);
      return;
    }
    case M.BRI_IIFPVID: case M.BRI_IIFVPROTO: {
      // nft_meta_bridge_get_eval(): only on a port of a bridge with vlan_filtering; the port's PVID
      // (br_vlan_get_pvid_rcu, 0 for none) in host order, the bridge's vlan_protocol in network order.
      const v = m.iif ? host.bridgePortVlan(m.iif) : undefined;
      if (v === undefined) break;
      if (p.key === M.BRI_IIFPVID) storeU16(vm, off, v.pvid);
      else storeBE16(vm, off, v.proto);
      return;
    }
    default: break;
  }
  vm.code[0] = -2;
}

function metaSet(p: MetaP, vm: Vm): void {
  const m = vm.pkt.meta;
  const v = vm.regs[p.reg >> 2]!;
  switch (p.key) {
    case M.MARK: m.mark = v; break;
    case M.PRIORITY: m.priority = v; break;
    case M.PKTTYPE: m.pktType = v & 0xff; break;
    case M.NFTRACE: m.nftrace = (v & 1) !== 0; break;
    case M.SECMARK: m.secmark = v; break;
    default: break;
  }
}

export const metaOps: ExprOps<MetaExpr, MetaP> = {
  type: 'meta',
  prepare(e, b) {
    const bridgeOnly = e.key === M.BRI_IIFNAME || e.key === M.BRI_OIFNAME || e.key === M.BRI_IIFPVID ||
      e.key === M.BRI_IIFVPROTO || e.key === M.BRI_BROUTE;
    // nft_meta_bridge is a separate module registered for NFPROTO_BRIDGE only.
    if (bridgeOnly && b.family !== NFPROTO_BRIDGE) fail(ERRNO.EOPNOTSUPP);
    if (e.key < 0 || e.key > M.BRI_BROUTE) fail(ERRNO.EOPNOTSUPP);
    if (e.sreg !== undefined) {
      const settable = [M.MARK, M.PRIORITY, M.PKTTYPE, M.NFTRACE, M.SECMARK, M.BRI_BROUTE] as number[];
      if (!settable.includes(e.key)) fail(ERRNO.EOPNOTSUPP);
      return { key: e.key, reg: regByteOffset(e.sreg, metaKeyLen(e.key)), set: true };
    }
    return { key: e.key, reg: regByteOffset(e.dreg ?? 0, metaKeyLen(e.key)), set: false };
  },
  eval(p, vm) {
    if (p.set) metaSet(p, vm);
    else metaGet(p, vm);
  },
};
