/** socket (nft_socket.c): attributes of the socket the packet belongs to; none breaks the rule. */
import type { SocketExpr } from '../bytecode.js';
import type { ExprOps } from './types.js';
import { fail, storeU32, storeU8 } from './types.js';
import { regByteOffset } from '../vm.js';
import { ERRNO } from '../errors.js';

export interface SocketP { key: number; reg: number; level: number }

export const socketOps: ExprOps<SocketExpr, SocketP> = {
  type: 'socket',
  prepare(e) {
    if (e.key < 0 || e.key > 3) fail(ERRNO.EOPNOTSUPP);
    return { key: e.key, reg: regByteOffset(e.dreg, e.key === 3 ? 8 : 4), level: e.level ?? 0 };
  },
  validate(_e, v) {
    // nft_socket_validate: prerouting, input and output only.
    return v.hook === 0 || v.hook === 1 || v.hook === 3 ? 0 : ERRNO.EOPNOTSUPP;
  },
  eval(p, vm) {
    const s = vm.env.host.socket(vm.pkt, vm.env.pf);
    if (!s) { vm.code[0] = -2; return; }
    switch (p.key) {
      case 0: storeU8(vm, p.reg, s.transparent ? 1 : 0); break;
      case 1: storeU32(vm, p.reg, s.mark); break;
      case 2: storeU8(vm, p.reg, s.wildcard ? 1 : 0); break;
      default:
        if (s.cgroupv2 === undefined) { vm.code[0] = -2; return; }
        vm.view.setBigUint64(p.reg, s.cgroupv2, true);
    }
  },
};
