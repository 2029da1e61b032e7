/** tproxy (nft_tproxy.c): prerouting only; the host assigns a transparent socket, or the rule breaks. */
import type { TproxyExpr } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { regByteOffset } from '../vm.js';
import { ERRNO } from '../errors.js';

export interface TproxyP { family: number; addr: number; port: number }

export const tproxyOps: ExprOps<TproxyExpr, TproxyP> = {
  type: 'tproxy',
  prepare(e) {
    const alen = e.family === 10 ? 16 : 4;
    return { family: e.family, addr: e.sregAddr !== undefined ? regByteOffset(e.sregAddr, alen) : -1, port: e.sregPort !== undefined ? regByteOffset(e.sregPort, 2) : -1 };
  },
  validate(_e, v) { return v.hook === 0 ? 0 : ERRNO.EOPNOTSUPP; },
  eval(p, vm) {
    const fam = p.family || vm.env.pf;
    const alen = fam === 10 ? 16 : 4;
    const addr = p.addr >= 0 ? vm.r8.slice(p.addr, p.addr + alen) : undefined;
    const port = p.port >= 0 ? (vm.r8[p.port]! << 8) | vm.r8[p.port + 1]! : undefined;
    if (!vm.env.host.tproxy(vm.pkt, fam, addr, port)) vm.code[0] = -2;
  },
};
