/** dup (nft_dup_ipv4/6.c, nft_dup_netdev.c): sends a copy through the host; the original continues. */
import type { DupExpr } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { regByteOffset } from '../vm.js';

export interface DupP { addr: number; dev: number }

export const dupOps: ExprOps<DupExpr, DupP> = {
  type: 'dup',
  prepare(e) {
    return { addr: e.sregAddr !== undefined ? regByteOffset(e.sregAddr, 4) : -1, dev: e.sregDev !== undefined ? regByteOffset(e.sregDev, 4) : -1 };
  },
  eval(p, vm) {
    const alen = vm.env.pf === 10 ? 16 : 4;
    vm.env.host.dup(vm.pkt, vm.env.pf, p.addr >= 0 ? vm.r8.slice(p.addr, p.addr + alen) : undefined, p.dev >= 0 ? vm.regs[p.dev >> 2] : undefined);
  },
};
