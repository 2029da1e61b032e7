/**
 * The smaller expression families: rt, fib, socket, osf, jhash/symhash,
 * numgen, ipsec (nftables src/rt.c, fib.c, socket.c, osf.c, hash.c,
 * numgen.c, xfrm.c), with the key numbers of nf_tables.h.
 */
import * as B from '../netfilter/bytecode.js';
import type { Expr } from './ast.js';
import { DT, type Datatype } from './datatypes.js';
import { NftError } from './diagnostics.js';
import { type EvalEnv, type Operand, evalOperand, l3dep, toInternal, toNetlink } from './evaluate.js';

const op = (dtype: Datatype, bits: number, byteorder: 'big' | 'host', load: (r: number) => B.Expr[], e: Expr, deps: Operand['deps'] = []): Operand =>
  ({ dtype, bits, byteorder, regBytes: Math.ceil(bits / 8), shift: 0, deps, load, loc: e.loc });

// enum nft_rt_keys
const RT = { classid: 0, nexthop4: 1, nexthop6: 2, mtu: 3, ipsec: 4 };
// enum nft_socket_keys
const SOCKET = { transparent: 0, mark: 1, wildcard: 2, cgroupv2: 3 };
// enum nft_xfrm_keys
const XFRM = { 'daddr ip': 1, 'daddr ip6': 2, 'saddr ip': 3, 'saddr ip6': 4, reqid: 5, spi: 6 };

export function miscOperand(e: Expr, env: EvalEnv): Operand {
  const bad = (what: string): NftError => new NftError('GENERIC', [what], e.loc);
  switch (e.kind) {
    case 'rt': {
      if (e.key === 'classid') return op(DT.realm, 32, 'host', (r) => [{ type: 'rt', key: RT.classid, dreg: r }], e);
      if (e.key === 'mtu') return op(DT.integer, 16, 'host', (r) => [{ type: 'rt', key: RT.mtu, dreg: r }], e);
      if (e.key === 'ipsec') return op(DT.boolean, 1, 'host', (r) => [{ type: 'rt', key: RT.ipsec, dreg: r }], e);
      if (e.key === 'nexthop') {
        const v6 = e.family === 'ip6' || (e.family === undefined && (env.family === 'ip6' || env.l3 === 'ip6'));
        if (e.family === undefined && env.family === 'inet' && !env.l3) throw bad('Cannot determine ip version for rt nexthop');
        // rt_expr_update_type: a route of the other family never exists in this table.
        if ((e.family === 'ip6' && env.family === 'ip') || (e.family === 'ip' && env.family === 'ip6')) throw bad(`${e.family} nexthop will not match`);
        // rt.c: an explicit `ip`/`ip6` names the route type; it adds no nfproto match.
        const deps: Operand['deps'] = [];
        return op(v6 ? DT.ipv6_addr : DT.ipv4_addr, v6 ? 128 : 32, 'big', (r) => [{ type: 'rt', key: v6 ? RT.nexthop6 : RT.nexthop4, dreg: r }], e, deps);
      }
      throw bad(`unknown rt key ${e.key}`);
    }
    case 'fib': {
      let flags = 0;
      for (const f of e.flags) {
        const bit = { saddr: B.NFTA_FIB_F_SADDR, daddr: B.NFTA_FIB_F_DADDR, mark: B.NFTA_FIB_F_MARK, iif: B.NFTA_FIB_F_IIF, oif: B.NFTA_FIB_F_OIF }[f];
        if (bit === undefined) throw bad(`unknown fib flag ${f}`);
        flags |= bit;
      }
      const result = { oif: B.NFT_FIB_RESULT_OIF, oifname: B.NFT_FIB_RESULT_OIFNAME, type: B.NFT_FIB_RESULT_ADDRTYPE }[e.result];
      if (result === undefined) throw bad(`unknown fib result ${e.result}`);
      if (!(flags & (B.NFTA_FIB_F_SADDR | B.NFTA_FIB_F_DADDR))) throw bad('fib: need either saddr or daddr');
      if ((flags & B.NFTA_FIB_F_SADDR) && (flags & B.NFTA_FIB_F_DADDR)) throw bad('fib: saddr and daddr are mutually exclusive');
      if ((flags & B.NFTA_FIB_F_IIF) && (flags & B.NFTA_FIB_F_OIF)) throw bad('fib: iif and oif are mutually exclusive');
      if (env.hook && !fibHookAllowed(flags, result, env.hook)) throw bad('Could not process rule: Operation not supported');
      const dtype = result === B.NFT_FIB_RESULT_OIF ? DT.iface_index : result === B.NFT_FIB_RESULT_OIFNAME ? DT.ifname : DT.fib_addrtype;
      const bits = result === B.NFT_FIB_RESULT_OIFNAME ? 128 : 32;
      return op(dtype, bits, 'host', (r) => [{ type: 'fib', flags, result, dreg: r }], e);
    }
    case 'socket': {
      const key = SOCKET[e.key as keyof typeof SOCKET];
      if (key === undefined) throw bad(`unknown socket key ${e.key}`);
      if (e.key === 'cgroupv2') return op(DT.cgroupsv2, 64, 'host', (r) => [{ type: 'socket', key, dreg: r, level: e.level }], e);
      const dtype = e.key === 'mark' ? DT.mark : DT.boolean;
      return op(dtype, e.key === 'mark' ? 32 : 1, 'host', (r) => [{ type: 'socket', key, dreg: r }], e);
    }
    case 'osf': {
      const ttl = e.ttl === undefined ? undefined : { loose: 1, skip: 2 }[e.ttl];
      const flags = e.key === 'version' ? 1 : undefined;
      return { ...op(DT.string, 128, 'host', (r) => [{ type: 'osf', dreg: r, ttl, flags }], e), regBytes: 16 };
    }
    case 'hash': {
      if (e.hashType === 'symhash') {
        return op(DT.mark, 32, 'host', (r) => [{ type: 'hash', hashType: 1, dreg: r, modulus: e.modulus, offset: e.offset }], e);
      }
      const key = evalOperand(e.expr!, env);
      const res = op(DT.mark, 32, 'host', (r) => {
        // The key goes in the register after the result (get_register for the key).
        const keyReg = toNetlink(toInternal(r) + 4);
        // netlink_gen_hash sends a seed only when one was written (the kernel draws one otherwise).
        const h: B.HashExpr = { type: 'hash', hashType: 0, sreg: keyReg, dreg: r, len: key.regBytes, modulus: e.modulus, offset: e.offset };
        if (e.seed !== undefined) h.seed = e.seed;
        return [...key.load(keyReg), h];
      }, e, key.deps);
      return res;
    }
    case 'numgen':
      return op(DT.mark, 32, 'host', (r) => [{ type: 'numgen', dreg: r, modulus: e.modulus, ngType: e.mode === 'inc' ? 0 : 1, offset: e.offset }], e);
    case 'ipsec': {
      const dir = e.dir === 'in' ? 0 : 1;
      let key: number | undefined;
      let dtype: Datatype = DT.integer;
      let bits = 32;
      let order: 'big' | 'host' = 'big';
      if (e.key === 'reqid') { key = XFRM.reqid; order = 'host'; }
      else if (e.key === 'spi') key = XFRM.spi;
      else if (e.key === 'saddr' || e.key === 'daddr') {
        const v6 = e.family === 'ip6';
        if (!e.family) throw bad(`ipsec ${e.key} needs ip or ip6`);
        key = XFRM[`${e.key} ${v6 ? 'ip6' : 'ip'}` as keyof typeof XFRM];
        dtype = v6 ? DT.ipv6_addr : DT.ipv4_addr;
        bits = v6 ? 128 : 32;
      }
      if (key === undefined) throw bad(`unknown ipsec key ${e.key}`);
      if (e.spnum > 255) throw bad('spnum must be 0-255');
      const k = key;
      return op(dtype, bits, order, (r) => [{ type: 'xfrm', key: k, dir, spnum: e.spnum, dreg: r }], e);
    }
    default:
      throw bad('unsupported expression');
  }
}

/**
 * Kernel side, nft_fib_validate(): the hooks a fib lookup can run in. An output
 * interface result needs the input side of routing (prerouting, input, forward,
 * ingress); an address type looked up on the output interface needs a packet
 * that has one (forward, output, postrouting, egress), one on the input
 * interface the reverse; a plain address type works everywhere. Measured
 * against the 6.x kernel with nft 1.0.6 (EOPNOTSUPP otherwise).
 */
function fibHookAllowed(flags: number, result: number, hook: string): boolean {
  const inSide = ['prerouting', 'input', 'forward', 'ingress'];
  const outSide = ['forward', 'output', 'postrouting', 'egress'];
  if (result !== B.NFT_FIB_RESULT_ADDRTYPE) return inSide.includes(hook);
  if (flags & B.NFTA_FIB_F_OIF) return outSide.includes(hook);
  if (flags & B.NFTA_FIB_F_IIF) return inSide.includes(hook);
  return true;
}
