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
function keyLen(key: number): number {
  switch (key) {
    case M.PROTOCOL: case M.IIFTYPE: case M.OIFTYPE: case M.BRI_IIFPVID: case M.BRI_IIFVPROTO: return 2;
    case M.NFPROTO: case M.L4PROTO: case M.NFTRACE: case M.PKTTYPE: case M.SECPATH: case M.TIME_DAY: case M.BRI_BROUTE: return 1;
    case M.IIFNAME: case M.OIFNAME: case M.IIFKIND: case M.OIFKIND: case M.BRI_IIFNAME: case M.BRI_OIFNAME: case M.SDIFNAME: return IFNAMSIZ;
    case M.TIME_NS: return 8;
    default: return 4;
  }
}

export interface MetaP { key: number; reg: number; set: boolean }

function storeName(vm: Vm, off: number, name: string | undefined): void {
  const r8 = vm.r8;
  for (let i = 0; i < IFNAMSIZ; i++) r8[off + i] = 0;
  if (name) for (let i = 0; i < name.length && i < IFNAMSIZ - 1; i++) r8[off + i] = name.charCodeAt(i) & 0xff;
}

const DAY_MS = 86_400_000;

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
    case M.TIME_NS: {
      const ns = BigInt(Math.floor(vm.env.clock.nowMs() * 1000)) * 1000n;
      vm.view.setBigUint64(off, ns, true);
      return;
    }
    case M.TIME_DAY: storeU8(vm, off, new Date(vm.env.clock.nowMs()).getUTCDay()); return;
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
    // BRI_IIFPVID, BRI_IIFVPROTO: only with vlan_filtering, which nfx's bridges do not have (NFT_BREAK).
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
      return { key: e.key, reg: regByteOffset(e.sreg, keyLen(e.key)), set: true };
    }
    return { key: e.key, reg: regByteOffset(e.dreg ?? 0, keyLen(e.key)), set: false };
  },
  eval(p, vm) {
    if (p.set) metaSet(p, vm);
    else metaGet(p, vm);
  },
};
