/**
 * ct (nft_ct.c): conntrack fields through the host. `ct state` never breaks:
 * a packet without an entry reads as invalid (or untracked), as the kernel.
 */
import type { CtExpr } from '../bytecode.js';
import { NFT_CT } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { fail, storeU32 } from './types.js';
import { regByteOffset } from '../vm.js';
import { ERRNO } from '../errors.js';

/** NF_CT_STATE_INVALID_BIT. */
const NF_CT_STATE_INVALID_BIT = 1;

function keyLen(key: number): number {
  switch (key) {
    case NFT_CT.SRC: case NFT_CT.DST: case NFT_CT.LABELS: case NFT_CT.SRC_IP6: case NFT_CT.DST_IP6: case NFT_CT.HELPER: return 16;
    case NFT_CT.L3PROTOCOL: case NFT_CT.PROTOCOL: case NFT_CT.DIRECTION: return 1;
    case NFT_CT.PROTO_SRC: case NFT_CT.PROTO_DST: case NFT_CT.ZONE: return 2;
    case NFT_CT.PKTS: case NFT_CT.BYTES: case NFT_CT.AVGPKT: return 8;
    default: return 4;
  }
}

export interface CtP { key: number; dir: number | undefined; reg: number; set: boolean; len: number }

export const ctOps: ExprOps<CtExpr, CtP> = {
  type: 'ct',
  prepare(e) {
    if (e.key < 0 || e.key > NFT_CT.ID) fail(ERRNO.EOPNOTSUPP);
    const len = keyLen(e.key);
    if (e.sreg !== undefined) {
      const settable = [NFT_CT.MARK, NFT_CT.LABELS, NFT_CT.ZONE, NFT_CT.EVENTMASK, NFT_CT.SECMARK, NFT_CT.HELPER] as number[];
      if (!settable.includes(e.key)) fail(ERRNO.EOPNOTSUPP);
      return { key: e.key, dir: e.dir, reg: regByteOffset(e.sreg, len), set: true, len };
    }
    return { key: e.key, dir: e.dir, reg: regByteOffset(e.dreg ?? 0, len), set: false, len };
  },
  eval(p, vm) {
    const host = vm.env.host;
    if (p.set) { host.ctStore(vm.pkt, p.key, p.dir, vm.r8, p.reg, p.len); return; }
    if (p.len & 3) vm.regs[(p.reg + p.len) >> 2] = 0;
    if (host.ctLoad(vm.pkt, p.key, p.dir, vm.r8, p.reg)) return;
    if (p.key === NFT_CT.STATE) { storeU32(vm, p.reg, NF_CT_STATE_INVALID_BIT); return; }
    vm.code[0] = -2;
  },
};
