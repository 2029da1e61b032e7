/**
 * nat, masq, redir (nft_nat.c, nft_masq.c, nft_redir.c): read the address and
 * port range from registers and ask the host to set up the mapping; the
 * verdict is the host's (accept, or drop when no mapping is possible). Only in
 * nat-type chains: snat in postrouting/input, dnat in prerouting/output,
 * masquerade in postrouting, redirect in prerouting/output.
 */
import type { NatExpr, MasqExpr } from '../bytecode.js';
import { NFT_NAT_SNAT, NFT_NAT_DNAT } from '../bytecode.js';
import type { ExprOps, ValidateContext } from './types.js';
import { fail } from './types.js';
import { regByteOffset } from '../vm.js';
import type { Vm } from '../vm.js';
import type { NatRequest } from '../host-services.js';
import { ERRNO } from '../errors.js';

const PRE = 0, IN = 1, OUT = 3, POST = 4;

export interface NatP {
  kind: 'nat' | 'masq' | 'redir';
  natType: number;
  family: number;
  alen: number;
  addrMin: number;
  addrMax: number;
  protoMin: number;
  protoMax: number;
  flags: number;
}

function readPort(vm: Vm, off: number): number {
  return (vm.r8[off]! << 8) | vm.r8[off + 1]!;
}

function natEval(p: NatP, vm: Vm): void {
  // nft_nat_inet_eval(): in an inet table, `dnat ip to ...` leaves IPv6 packets alone (and vice versa).
  if (p.kind === 'nat' && p.family !== 0 && p.family !== 1 && p.family !== vm.env.pf) return;
  const req: NatRequest = { natType: p.natType, kind: p.kind, family: p.family || vm.env.pf, flags: p.flags };
  const alen = p.alen || (vm.env.pf === 10 ? 16 : 4);
  if (p.addrMin >= 0) {
    req.addrMin = vm.r8.slice(p.addrMin, p.addrMin + alen);
    req.addrMax = p.addrMax >= 0 ? vm.r8.slice(p.addrMax, p.addrMax + alen) : req.addrMin;
  }
  if (p.protoMin >= 0) {
    req.protoMin = readPort(vm, p.protoMin);
    req.protoMax = p.protoMax >= 0 ? readPort(vm, p.protoMax) : req.protoMin;
  }
  vm.code[0] = vm.env.host.nat(vm.pkt, req);
}

function hooksOk(p: { kind: string; natType: number }, v: ValidateContext): boolean {
  if (v.chainType !== 'nat') return false;
  if (p.kind === 'masq') return v.hook === POST;
  if (p.kind === 'redir') return v.hook === PRE || v.hook === OUT;
  return p.natType === NFT_NAT_SNAT ? v.hook === POST || v.hook === IN : v.hook === PRE || v.hook === OUT;
}

export const natOps: ExprOps<NatExpr, NatP> = {
  type: 'nat',
  prepare(e, b) {
    if (e.natType !== NFT_NAT_SNAT && e.natType !== NFT_NAT_DNAT) fail(ERRNO.EOPNOTSUPP);
    if (e.family !== 2 && e.family !== 10 && !(e.family === 1 && b.family === 1)) fail(ERRNO.EOPNOTSUPP);
    // nft_nat_init: the nat family must match the table's unless the table is inet.
    if (b.family !== 1 && e.family !== b.family) fail(ERRNO.EOPNOTSUPP);
    const alen = e.family === 10 ? 16 : e.family === 2 ? 4 : 0;
    return {
      kind: 'nat', natType: e.natType, family: e.family, alen,
      addrMin: e.sregAddrMin !== undefined ? regByteOffset(e.sregAddrMin, alen || 4) : -1,
      addrMax: e.sregAddrMax !== undefined ? regByteOffset(e.sregAddrMax, alen || 4) : -1,
      protoMin: e.sregProtoMin !== undefined ? regByteOffset(e.sregProtoMin, 2) : -1,
      protoMax: e.sregProtoMax !== undefined ? regByteOffset(e.sregProtoMax, 2) : -1,
      flags: e.flags ?? 0,
    };
  },
  validate(e, v) { return hooksOk({ kind: 'nat', natType: e.natType }, v) ? 0 : ERRNO.EOPNOTSUPP; },
  eval: natEval,
};

function masqLike(kind: 'masq' | 'redir'): ExprOps<MasqExpr, NatP> {
  return {
    type: kind,
    prepare(e) {
      return {
        kind, natType: kind === 'masq' ? NFT_NAT_SNAT : NFT_NAT_DNAT, family: 0, alen: 0, addrMin: -1, addrMax: -1,
        protoMin: e.sregProtoMin !== undefined ? regByteOffset(e.sregProtoMin, 2) : -1,
        protoMax: e.sregProtoMax !== undefined ? regByteOffset(e.sregProtoMax, 2) : -1,
        flags: e.flags ?? 0,
      };
    },
    validate(_e, v) { return hooksOk({ kind, natType: 0 }, v) ? 0 : ERRNO.EOPNOTSUPP; },
    eval: natEval,
  };
}
export const masqOps = masqLike('masq');
export const redirOps = masqLike('redir');
