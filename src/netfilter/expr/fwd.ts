/** fwd (nft_fwd_netdev.c): netdev ingress/egress only; transmits via the host and steals the packet. */
import type { FwdExpr } from '../bytecode.js';
import { NF_STOLEN } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { regByteOffset } from '../vm.js';
import { ERRNO } from '../errors.js';

export interface FwdP { dev: number; addr: number; nfproto: number | undefined }

export const fwdOps: ExprOps<FwdExpr, FwdP> = {
  type: 'fwd',
  prepare(e) {
    return { dev: regByteOffset(e.sregDev, 4), addr: e.sregAddr !== undefined ? regByteOffset(e.sregAddr, 16) : -1, nfproto: e.nfproto };
  },
  validate(_e, v) { return v.family === 5 ? 0 : ERRNO.EOPNOTSUPP; },
  eval(p, vm) {
    const alen = p.nfproto === 10 ? 16 : 4;
    vm.env.host.fwd(vm.pkt, vm.regs[p.dev >> 2]!, p.addr >= 0 ? vm.r8.slice(p.addr, p.addr + alen) : undefined, p.nfproto);
    vm.code[0] = NF_STOLEN;
  },
};
