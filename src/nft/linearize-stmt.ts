/**
 * Action statements → bytecode (netlink_linearize.c netlink_gen_*_stmt):
 * verdicts and verdict maps, counters, log, limit, quota, field writes
 * (meta/ct/payload set), NAT, reject, queue, dup, fwd, dynamic sets,
 * synproxy, tproxy, connlimit and object references.
 */
import * as B from '../netfilter/bytecode.js';
import type { Expr, Stmt } from './ast.js';
import { DT, intBytes, bytesToBig } from './datatypes.js';

const bytesToBigBE = (b: Uint8Array): bigint => bytesToBig(b, 'big');
import { NftError } from './diagnostics.js';
import { type Operand, constBytes, evalOperand, evalValue, l3dep, requireCtAddrFamily, toInternal, toNetlink } from './evaluate.js';
import type { Linearizer } from './linearize.js';
import { CT_KEYS } from './proto.js';
import { tcpOptionKind } from './exthdr.js';
import { buildSet, verdictOf } from './sets.js';
import { concatTypeId } from './command-names.js';
import { unitBytes } from './parser-stmt.js';

const LOG_LEVELS: Record<string, number> = { emerg: 0, alert: 1, crit: 2, err: 3, warn: 4, notice: 5, info: 6, debug: 7, audit: 8 };
const TIME_UNITS: Record<string, number> = { second: 1, minute: 60, hour: 3600, day: 86400, week: 604800 };
const OBJ_TYPES: Record<string, number> = { counter: B.NFT_OBJECT.COUNTER, quota: B.NFT_OBJECT.QUOTA, limit: B.NFT_OBJECT.LIMIT, 'ct helper': B.NFT_OBJECT.CT_HELPER, 'ct timeout': B.NFT_OBJECT.CT_TIMEOUT, 'ct expectation': B.NFT_OBJECT.CT_EXPECT, synproxy: B.NFT_OBJECT.SYNPROXY, secmark: B.NFT_OBJECT.SECMARK };
const NAT_FLAGS: Record<string, number> = { random: B.NF_NAT_RANGE_PROTO_RANDOM, 'fully-random': B.NF_NAT_RANGE_PROTO_RANDOM_FULLY, persistent: B.NF_NAT_RANGE_PERSISTENT, netmap: B.NF_NAT_RANGE_NETMAP };

function isConst(e: Expr): boolean {
  if (e.kind === 'symbol' || e.kind === 'list') return true;
  if (e.kind === 'binop') return isConst(e.left) && isConst(e.right);
  return false;
}

/** Puts `value` (typed like `target`) into `reg`: an immediate, a load, or a map lookup. */
export function genValue(lin: Linearizer, value: Expr, target: Operand, reg: number): void {
  if (value.kind === 'variable') {
    const v = lin.env.defines.get(value.name);
    if (!v) throw new NftError('UNDEFINED_VAR', [value.name], value.loc);
    return genValue(lin, v, target, reg);
  }
  if (isConst(value)) {
    lin.out.push({ type: 'immediate', dreg: reg, data: evalValue(value, { ...target, shift: 0 }, true) });
    return;
  }
  if (value.kind === 'map') {
    requireCtAddrFamily(value.key);
    const key = evalOperand(value.key, lin.env);
    lin.emitDeps(key.parts ? key.parts.flatMap((p) => p.deps) : key.deps);
    const set = buildSet(lin, value.map, key, { kind: 'value', op: target });
    lin.out.push(...set.load(reg));
    lin.out.push({ type: 'lookup', sreg: reg, dreg: reg, set: set.name, flags: 0 });
    return;
  }
  const op = evalOperand(value, lin.env);
  lin.emitDeps(op.deps);
  lin.out.push(...op.load(reg));
  // A host-order value written into a network-order field is converted first (byteorder hton).
  if (op.byteorder === 'host' && target.byteorder === 'big' && op.regBytes > 1 && !op.parts && target.dtype !== DT.invalid) {
    lin.out.push({ type: 'byteorder', sreg: reg, dreg: reg, op: B.NFT_BYTEORDER_HTON, len: op.regBytes, size: op.regBytes });
  }
}

export function linearizeAction(lin: Linearizer, s: Stmt): void {
  const out = lin.out;
  const env = lin.env;
  const R1 = B.NFT_REG_1;
  const R2 = 2;
  switch (s.kind) {
    case 'verdict': {
      const e = s.expr;
      if (e.kind === 'verdict') {
        if (s.block) {
          // stmt_evaluate_chain: the anonymous chain's rules are evaluated as rules of their own.
          const rules = s.block.map((r) => {
            const c = new (lin.constructor as new (...a: unknown[]) => Linearizer)({ ...env, l3: undefined, vlanDepth: undefined }, lin.table).compileRule(r);
            if (c.bindings?.length) throw new NftError('GENERIC', ['nfx does not nest anonymous chains'], r.loc);
            return c;
          });
          lin.bindings.push({ verdict: e.verdict as 'jump' | 'goto', rules });
        }
        out.push({ type: 'immediate', dreg: B.NFT_REG_VERDICT, verdict: verdictOf(e.verdict, e.chain) });
        return;
      }
      if (e.kind === 'map') {
        const key = evalOperand(e.key, env);
        lin.emitDeps(key.parts ? key.parts.flatMap((p) => p.deps) : key.deps);
        const set = buildSet(lin, e.map, key, { kind: 'verdict' });
        out.push(...set.load(R1));
        out.push({ type: 'lookup', sreg: R1, dreg: B.NFT_REG_VERDICT, set: set.name, flags: 0 });
        return;
      }
      throw new NftError('GENERIC', ['bad verdict'], s.loc);
    }
    case 'counter': out.push({ type: 'counter', packets: s.packets ?? 0, bytes: s.bytes ?? 0 }); return;
    case 'log': {
      let flags = 0;
      for (const f of s.flags) flags |= { all: 0x2f, 'tcp sequence': 1, 'tcp options': 2, 'ip options': 4, skuid: 8, ether: 0x20 }[f] ?? 0;
      const e: B.LogExpr = { type: 'log' };
      if (s.prefix !== undefined) e.prefix = s.prefix;
      if (s.group !== undefined) { e.group = s.group; e.snaplen = s.snaplen ?? 0; e.qthreshold = s.qthreshold ?? 0; }
      else if (s.snaplen !== undefined) e.snaplen = s.snaplen;
      if (s.level === 'audit' && (s.prefix !== undefined || s.group !== undefined || s.snaplen !== undefined || s.qthreshold !== undefined || s.flags.length)) {
        throw new NftError('GENERIC', ['log level audit doesn\'t support any further options'], s.loc);
      }
      if (s.group !== undefined && (s.level !== undefined || s.flags.length)) {
        throw new NftError('GENERIC', ['flags and level are not supported with group (NFLOG)'], s.loc);
      }
      if (s.level !== undefined) {
        const l = LOG_LEVELS[s.level];
        if (l === undefined) throw new NftError('GENERIC', [`invalid log level`], s.loc);
        e.level = l;
      }
      if (flags) e.flags = flags;
      out.push(e);
      return;
    }
    case 'limit': {
      const [u1, u2] = s.unit.split('/');
      const unit = TIME_UNITS[s.bytes ? u2! : u1!];
      if (unit === undefined) throw new NftError('GENERIC', [`wrong rate format`], s.loc);
      const rate = s.bytes ? s.rate * unitBytes(u1!) : s.rate;
      if (s.burst !== undefined && !s.bytes && s.burstUnit !== 'packets') throw new NftError('GENERIC', ['syntax error, unexpected bytes'], s.loc);
      const burst = s.burst === undefined ? (s.bytes ? 0 : 5) : s.bytes ? s.burst * unitBytes(s.burstUnit ?? 'bytes') : s.burst;
      out.push({ type: 'limit', rate, unit, burst, limitType: s.bytes ? 1 : 0, flags: s.over ? 1 : 0 });
      return;
    }
    case 'quota': out.push({ type: 'quota', bytes: s.bytes, consumed: s.used ?? 0, flags: s.over ? 1 : 0 }); return;
    case 'notrack': out.push({ type: 'notrack' }); return;
    case 'optreset':
      // An exthdr without registers and length 0 strips the option (nft_exthdr_tcp_strip_eval).
      out.push({ type: 'exthdr', op: B.NFT_EXTHDR_OP_TCPOPT, exthdrType: tcpOptionKind(s.name, s.nameLoc), offset: 0, len: 0, flags: 0 });
      return;
    case 'connlimit': out.push({ type: 'connlimit', count: s.count, flags: s.over ? 1 : 0 }); return;
    case 'flow_offload': out.push({ type: 'flow_offload', table: s.table }); return;
    case 'objref': {
      const objType = OBJ_TYPES[s.objType]!;
      const e = s.expr!;
      if (e.kind === 'symbol') {
        if (env.objects && env.objects.get(e.text) !== s.objType) throw new NftError('GENERIC', ['Could not process rule: No such file or directory'], e.loc);
        out.push({ type: 'objref', objType, name: e.text });
        return;
      }
      if (e.kind === 'map') {
        const key = evalOperand(e.key, env);
        lin.emitDeps(key.deps);
        const set = buildSet(lin, e.map, key, { kind: 'object', objType });
        out.push(...set.load(R1));
        out.push({ type: 'objref', sreg: R1, set: set.name });
        return;
      }
      throw new NftError('GENERIC', ['bad object reference'], s.loc);
    }
    case 'field_set': return fieldSet(lin, s.target, s.value, s.loc);
    case 'reject': {
      const fam = env.family;
      if ([...lin.have].some((h) => h === 'ethertype:2054')) {
        throw new NftError('GENERIC', ['cannot reject from this link layer protocol'], s.loc);
      }
      let rejectType: number;
      let icmpCode: number;
      if (!s.with) {
        if (fam === 'ip' || lin.have.has('l3:ip')) { rejectType = B.NFT_REJECT_ICMP_UNREACH; icmpCode = 3; }
        else if (fam === 'ip6' || lin.have.has('l3:ip6')) { rejectType = B.NFT_REJECT_ICMP_UNREACH; icmpCode = 4; }
        else { rejectType = B.NFT_REJECT_ICMPX_UNREACH; icmpCode = 1; }
      } else if (s.with.family === 'tcp') {
        lin.prependDeps([{ key: 'l4:6', exprs: (r) => [{ type: 'meta', key: B.NFT_META.L4PROTO, dreg: r }, { type: 'cmp', sreg: r, op: B.NFT_CMP_EQ, data: Uint8Array.of(6) }] }]);
        rejectType = B.NFT_REJECT_TCP_RST; icmpCode = 0;
      } else {
        const dt = s.with.family === 'icmp' ? DT.icmp_code : s.with.family === 'icmpv6' ? DT.icmpv6_code : DT.icmpx_code;
        icmpCode = evalValue(s.with.code!, { dtype: dt, bits: 8, byteorder: 'big', regBytes: 1, shift: 0, deps: [], load: () => [], loc: s.loc })[0]!;
        if (s.with.family === 'icmpx') rejectType = B.NFT_REJECT_ICMPX_UNREACH;
        else {
          rejectType = B.NFT_REJECT_ICMP_UNREACH;
          const v = s.with.family === 'icmp' ? 'ip' : 'ip6';
          if (fam === 'ip6' && v === 'ip' || fam === 'ip' && v === 'ip6') throw new NftError('GENERIC', [`conflicting protocols specified: ${fam} vs. ${v}`], s.loc);
          lin.prependDeps(l3dep(fam, v));
        }
      }
      out.push({ type: 'reject', rejectType, icmpCode });
      return;
    }
    case 'nat': {
      // nft_chain_validate_hooks: snat/masquerade only after routing, dnat/redirect before.
      const allowed = s.type === 'snat' || s.type === 'masquerade' ? ['postrouting', 'input'] : ['prerouting', 'output'];
      if (env.hook && !allowed.includes(env.hook)) throw new NftError('GENERIC', ['Could not process rule: Operation not supported'], s.loc);
      if (s.port && ![...lin.have].some((h) => h.startsWith('l4'))) {
        throw new NftError('GENERIC', ['transport protocol mapping is only valid after transport protocol match'], s.loc);
      }
      const e = { type: 'nat', natType: s.type === 'snat' ? B.NFT_NAT_SNAT : B.NFT_NAT_DNAT, family: 0 } as B.NatExpr;
      let flags = 0;
      for (const f of s.flags) flags |= NAT_FLAGS[f] ?? 0;
      if (s.type === 'masquerade' || s.type === 'redirect') {
        const m: B.MasqExpr = { type: s.type === 'masquerade' ? 'masq' : 'redir' };
        if (s.port) {
          const portOp = portOperand(s.loc);
          genRange(lin, s.port, portOp, R1, (lo, hi) => { m.sregProtoMin = lo; if (hi !== undefined) m.sregProtoMax = hi; });
          flags |= B.NF_NAT_RANGE_PROTO_SPECIFIED;
        }
        if (flags) m.flags = flags;
        out.push(m);
        return;
      }
      // Without `ip`/`ip6`, the family or an earlier match decides the address family.
      const fam = s.family ?? (env.family === 'ip6' ? 'ip6' : env.family === 'ip' ? 'ip' : lin.have.has('l3:ip') ? 'ip' : lin.have.has('l3:ip6') ? 'ip6' : undefined);
      if (!fam && s.addr) throw new NftError('GENERIC', ['specify `dnat ip` or `dnat ip6` in inet table to disambiguate'], s.loc);
      // nat_evaluate_family(): an inet rule that maps only ports keeps NFPROTO_INET.
      e.family = env.family === 'inet' && !s.addr ? 1 : fam === 'ip6' ? 10 : 2;
      let next = toInternal(R1);
      const concat = s.addr?.kind === 'map' && mapHasConcatData(s.addr);
      const interval = s.addr?.kind === 'map' && mapHasIntervalData(s.addr);
      if (s.addr?.kind === 'map' && !s.port && (concat || interval)) {
        // `dnat to KEY map { k : addr . port }`: one lookup fills address and port registers;
        // with ranges as data (`k : a-b`, `k : a/24 . p1-p2`) it returns the low ends, then
        // the high ends (netlink_gen_nat_stmt's register walk for STMT_NAT_F_CONCAT|INTERVAL).
        const at = fam === 'ip6' ? DT.ipv6_addr : DT.ipv4_addr;
        const mk = (d: typeof at, bits: number): Operand => ({ dtype: d, bits, byteorder: 'big', regBytes: bits / 8, shift: 0, deps: [], load: () => [], loc: s.loc });
        const addrOp = mk(at, fam === 'ip6' ? 128 : 32);
        const parts = [addrOp, mk(DT.inet_service, 16)];
        const data: Operand = concat ? { ...mk(DT.invalid, (fam === 'ip6' ? 128 : 32) + 32), parts } : addrOp;
        const m = s.addr;
        requireCtAddrFamily(m.key);
        const key = evalOperand(m.key, lin.env);
        lin.emitDeps(key.parts ? key.parts.flatMap((p) => p.deps) : key.deps);
        const set = buildSet(lin, m.map, key, { kind: 'value', op: data, interval });
        out.push(...set.load(R1));
        out.push({ type: 'lookup', sreg: R1, dreg: R1, set: set.name, flags: 0 });
        // The port half of the data needs a transport protocol, as `to :port` does (the map's
        // key may supply it: `ip saddr . tcp dport map { ... }`).
        if (concat && ![...lin.have].some((h) => h.startsWith('l4'))) {
          throw new NftError('GENERIC', ['transport protocol mapping is only valid after transport protocol match'], s.loc);
        }
        const aw = Math.ceil(addrOp.regBytes / 4);
        const base = toInternal(R1);
        e.sregAddrMin = R1;
        if (concat) {
          e.sregProtoMin = toNetlink(base + aw);
          if (interval) { e.sregAddrMax = toNetlink(base + aw + 1); e.sregProtoMax = toNetlink(base + aw + 1 + aw); }
        } else e.sregAddrMax = toNetlink(base + aw);
        if (s.prefix) flags |= B.NF_NAT_RANGE_NETMAP;
        if (flags) e.flags = flags;
        out.push(e);
        return;
      }
      if (s.addr) {
        const addrOp: Operand = { dtype: fam === 'ip6' ? DT.ipv6_addr : DT.ipv4_addr, bits: fam === 'ip6' ? 128 : 32, byteorder: 'big', regBytes: fam === 'ip6' ? 16 : 4, shift: 0, deps: [], load: () => [], loc: s.loc };
        next = genRange(lin, s.addr, addrOp, R1, (lo, hi) => { e.sregAddrMin = lo; if (hi !== undefined) e.sregAddrMax = hi; });
      }
      if (s.port) {
        genRange(lin, s.port, portOperand(s.loc), toNetlink(next), (lo, hi) => { e.sregProtoMin = lo; if (hi !== undefined) e.sregProtoMax = hi; });
        flags |= B.NF_NAT_RANGE_PROTO_SPECIFIED;
      }
      if (s.prefix) flags |= B.NF_NAT_RANGE_NETMAP;
      if (flags) e.flags = flags;
      out.push(e);
      return;
    }
    case 'queue': {
      let flags = 0;
      for (const f of s.flags) flags |= f === 'bypass' ? 1 : f === 'fanout' ? 2 : 0;
      const q: B.QueueExpr = { type: 'queue' };
      const n = s.num;
      if (n && !isConst(n) && n.kind !== 'range') {
        if (n.kind !== 'hash' && n.kind !== 'numgen' && n.kind !== 'map') throw new NftError('GENERIC', ['queue number is not constant'], n.loc);
        // stmt_evaluate_queue: fanout spreads over a constant range only, and a hash's
        // largest result (offset + mod - 1) must be a 16-bit queue number.
        if (flags & 2) throw new NftError('GENERIC', ['fanout requires a range to be specified'], n.loc);
        if (n.kind === 'hash' && (n.offset ?? 0) + n.modulus - 1 > 65535) throw new NftError('GENERIC', ['queue expression max value exceeds 65535'], n.loc);
        // The queue number is a host-order integer (nft_queue's NFTA_QUEUE_SREG_QNUM).
        genValue(lin, n, { ...portOperand(s.loc), dtype: DT.integer, byteorder: 'host' }, R1);
        q.sregQnum = R1;
      } else {
        let lo = 0;
        let hi = 0;
        if (n?.kind === 'range') { lo = Number((n.low as { text: string }).text); hi = Number((n.high as { text: string }).text); }
        else if (n?.kind === 'symbol') { lo = hi = Number(n.text); }
        if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi > 65535 || lo > hi) throw new NftError('GENERIC', ['queue number out of range'], s.loc);
        q.num = lo;
        q.total = hi - lo + 1;
      }
      q.flags = flags;
      out.push(q);
      return;
    }
    case 'dup': case 'fwd': {
      const fam = s.family ?? (env.family === 'ip6' ? 'ip6' : 'ip');
      const addrOp: Operand = { dtype: fam === 'ip6' ? DT.ipv6_addr : DT.ipv4_addr, bits: fam === 'ip6' ? 128 : 32, byteorder: 'big', regBytes: fam === 'ip6' ? 16 : 4, shift: 0, deps: [], load: () => [], loc: s.loc };
      const devOp: Operand = { dtype: DT.iface_index, bits: 32, byteorder: 'host', regBytes: 4, shift: 0, deps: [], load: () => [], loc: s.loc };
      if (s.kind === 'dup') {
        const d: B.DupExpr = { type: 'dup' };
        let reg = R1;
        // In netdev tables `dup to X` names the device (nft_dup_netdev has no address).
        const dev = s.dev ?? (env.family === 'netdev' ? s.addr : undefined);
        const addr = s.dev || env.family !== 'netdev' ? s.addr : undefined;
        if (addr) { genValue(lin, addr, addrOp, reg); d.sregAddr = reg; reg = R2; }
        if (dev) { genDev(lin, dev, reg); d.sregDev = reg; }
        out.push(d);
      } else {
        genDev(lin, s.dev, R1);
        const f: B.FwdExpr = { type: 'fwd', sregDev: R1 };
        if (s.addr) { genValue(lin, s.addr, addrOp, R2); f.sregAddr = R2; f.nfproto = fam === 'ip6' ? 10 : 2; }
        out.push(f);
      }
      void devOp;
      return;
    }
    case 'synproxy': {
      let flags = 0;
      if (s.mss !== undefined) flags |= 1;
      if (s.wscale !== undefined) flags |= 2;
      if (s.flags.includes('timestamp')) flags |= 0x4;
      if (s.flags.includes('sack-perm')) flags |= 0x8;
      out.push({ type: 'synproxy', mss: s.mss ?? 0, wscale: s.wscale ?? 0, flags });
      return;
    }
    case 'tproxy': {
      const fam = s.family ?? (env.family === 'ip6' ? 'ip6' : env.family === 'ip' ? 'ip' : undefined);
      if (!fam && s.addr) throw new NftError('GENERIC', ['Conflicting network layer protocols.'], s.loc);
      if (![...lin.have].some((h) => h.startsWith('l4'))) throw new NftError('GENERIC', ['Transparent proxy support requires transport protocol match'], s.loc);
      if (fam && ((fam === 'ip' && (env.family === 'ip6' || lin.have.has('l3:ip6'))) || (fam === 'ip6' && (env.family === 'ip' || lin.have.has('l3:ip'))))) {
        throw new NftError('GENERIC', ['Conflicting network layer protocols.'], s.loc);
      }
      const t: B.TproxyExpr = { type: 'tproxy', family: fam === 'ip6' ? 10 : fam === 'ip' ? 2 : 0 };
      let reg = R1;
      if (s.addr) {
        const addrOp: Operand = { dtype: fam === 'ip6' ? DT.ipv6_addr : DT.ipv4_addr, bits: fam === 'ip6' ? 128 : 32, byteorder: 'big', regBytes: fam === 'ip6' ? 16 : 4, shift: 0, deps: [], load: () => [], loc: s.loc };
        genValue(lin, s.addr, addrOp, reg);
        t.sregAddr = reg;
        reg = R2;
      }
      if (s.port) { genValue(lin, s.port, portOperand(s.loc), reg); t.sregPort = reg; }
      out.push(t);
      return;
    }
    case 'dynset': {
      const key = evalOperand(s.key, env);
      lin.emitDeps(key.deps);
      if (s.meter) {
        // stmt_evaluate_meter: an empty set named by the meter, anonymous, updated from the
        // packet path (NFT_SET_EVAL), with timeouts when the key has one; a concatenated
        // key's type packs its parts' ids (concat_type_alloc), as `list meters` reads it back.
        let flags = B.NFT_SET_ANONYMOUS | B.NFT_SET_EVAL;
        if (s.timeout !== undefined) flags |= B.NFT_SET_TIMEOUT;
        const desc: B.SetDescriptor = { table: lin.table, name: s.set, flags, keyType: key.parts ? concatTypeId(key.parts.map((p) => p.dtype.id)) : key.dtype.id, keyLen: key.regBytes, elements: [] };
        if (s.meter.size !== undefined) desc.size = s.meter.size;
        if (key.parts) desc.fieldLengths = key.parts.map((p) => p.regBytes);
        lin.sets.push(desc);
      }
      const set = s.meter ? { dataDtype: undefined, dataBits: undefined } : env.sets.get(s.set);
      if (!set) throw new NftError('GENERIC', ['Could not process rule: No such file or directory'], s.loc);
      out.push(...key.load(R1));
      const exprs: B.Expr[] = [];
      for (const st of s.stmts) {
        const sub = new (lin.constructor as new (...a: unknown[]) => Linearizer)(env, lin.table);
        sub.stmt(st);
        exprs.push(...sub.out);
      }
      const d: B.DynsetExpr = { type: 'dynset', op: { add: 0, update: 1, delete: 2 }[s.op], sregKey: R1, set: s.set };
      if (s.data) {
        // Map update: the data goes in the next 128-bit register (reg 2).
        const dreg = toNetlink(toInternal(R1) + 4);
        const dataOp = set.dataDtype ? { dtype: set.dataDtype, bits: set.dataBits ?? set.dataDtype.size, byteorder: set.dataDtype.byteorder, regBytes: Math.ceil((set.dataBits ?? set.dataDtype.size) / 8), shift: 0, deps: [], load: () => [], loc: s.loc } : evalOperand(s.data, env);
        genValue(lin, s.data, dataOp, dreg);
        d.sregData = dreg;
      }
      if (s.timeout !== undefined) d.timeout = s.timeout;
      if (exprs.length) d.exprs = exprs;
      out.push(d);
      return;
    }
    default:
      throw new NftError('GENERIC', [`unsupported statement ${s.kind}`], s.loc);
  }
}

/** data_mapping_has_interval(): a map whose data holds a range or prefix (also inside a concatenation). */
function mapHasIntervalData(m: Expr): boolean {
  if (m.kind !== 'map' || m.map.kind !== 'set') return false;
  const ranged = (x: Expr): boolean => x.kind === 'range' || x.kind === 'prefix' || (x.kind === 'concat' && x.parts.some(ranged));
  return m.map.elems.some((x) => x.kind === 'mapping' && ranged(x.value));
}

function mapHasConcatData(m: Expr): boolean {
  if (m.kind !== 'map' || m.map.kind !== 'set') return false;
  return m.map.elems.some((x) => x.kind === 'mapping' && x.value.kind === 'concat');
}

function portOperand(loc: Operand['loc']): Operand {
  return { dtype: DT.inet_service, bits: 16, byteorder: 'big', regBytes: 2, shift: 0, deps: [], load: () => [], loc };
}

function genDev(lin: Linearizer, dev: Expr, reg: number): void {
  if (dev.kind === 'symbol') {
    const b = DT.iface_index.parse!(dev.text, 32);
    if (!b) throw new NftError('GENERIC', [`Interface does not exist`], dev.loc);
    lin.out.push({ type: 'immediate', dreg: reg, data: b });
    return;
  }
  if (dev.kind === 'map') {
    genValue(lin, dev, { dtype: DT.iface_index, bits: 32, byteorder: 'host', regBytes: 4, shift: 0, deps: [], load: () => [], loc: dev.loc }, reg);
    return;
  }
  const op = evalOperand(dev, lin.env);
  lin.out.push(...op.load(reg));
}

/** A NAT address or port, possibly a range: immediates into consecutive registers. Returns the next free internal register. */
function genRange(lin: Linearizer, e: Expr, op: Operand, reg: number, set: (lo: number, hi?: number) => void): number {
  let internal = toInternal(reg);
  if (e.kind === 'range') {
    lin.out.push({ type: 'immediate', dreg: reg, data: evalValue(e.low, op, true) });
    const hiReg = toNetlink(internal + 4);
    lin.out.push({ type: 'immediate', dreg: hiReg, data: evalValue(e.high, op, true) });
    set(reg, hiReg);
    return internal + 8;
  }
  if (e.kind === 'prefix') {
    const v = evalValue(e.expr, op, true);
    const bits = op.regBytes * 8;
    let n = 0n;
    for (const b of v) n = (n << 8n) | BigInt(b);
    const host = (1n << BigInt(bits - e.plen)) - 1n;
    const lo = intBytes(n & ~host & ((1n << BigInt(bits)) - 1n), bits, 'big');
    const hi = intBytes(n | host, bits, 'big');
    const hiReg = toNetlink(internal + 4);
    lin.out.push({ type: 'immediate', dreg: reg, data: lo }, { type: 'immediate', dreg: hiReg, data: hi });
    set(reg, hiReg);
    return internal + 8;
  }
  genValue(lin, e, op, reg);
  set(reg);
  internal += 4;
  return internal;
}

function fieldSet(lin: Linearizer, target: Expr, value: Expr, loc: Operand['loc']): void {
  const env = lin.env;
  const R1 = B.NFT_REG_1;
  if (target.kind === 'meta') {
    if (target.key === 'secmark' && value.kind === 'symbol' && value.quoted) {
      lin.out.push({ type: 'objref', objType: B.NFT_OBJECT.SECMARK, name: value.text });
      return;
    }
    if (target.key === 'secmark' && value.kind === 'map') {
      // A secmark map holds object names: an object-map reference, not a value.
      const key = evalOperand(value.key, env);
      lin.emitDeps(key.deps);
      const set = buildSet(lin, value.map, key, { kind: 'object', objType: B.NFT_OBJECT.SECMARK });
      lin.out.push(...set.load(R1));
      lin.out.push({ type: 'objref', sreg: R1, set: set.name });
      return;
    }
    const op = evalOperand(target, env);
    genValue(lin, value, op, R1);
    lin.out.push({ type: 'meta', key: op.meta!, sreg: R1 });
    return;
  }
  if (target.kind === 'ct') {
    const key = target.key;
    if (key === 'helper' || key === 'timeout' || key === 'expectation') {
      if (value.kind === 'map') {
        const k = evalOperand(value.key, env);
        lin.emitDeps(k.deps);
        const set = buildSet(lin, value.map, k, { kind: 'object', objType: OBJ_TYPES[`ct ${key}`]! });
        lin.out.push(...set.load(R1));
        lin.out.push({ type: 'objref', sreg: R1, set: set.name });
        return;
      }
      if (value.kind !== 'symbol') throw new NftError('GENERIC', ['expected an object name'], value.loc);
      lin.out.push({ type: 'objref', objType: OBJ_TYPES[`ct ${key}`]!, name: value.text });
      return;
    }
    const k = CT_KEYS[key];
    if (!k) throw new NftError('GENERIC', [`ct ${key} cannot be set`], target.loc);
    const op = evalOperand(target, env);
    genValue(lin, value, op, R1);
    lin.out.push({ type: 'ct', key: op.ct!.key, sreg: R1, dir: op.ct!.dir });
    return;
  }
  if (target.kind === 'payload') {
    const op = evalOperand(target, env);
    lin.emitDeps(op.deps);
    const p = op.payload!;
    let csumType = 0;
    let csumOffset = 0;
    let csumFlags = 0;
    if (p.base === B.NFT_PAYLOAD_NETWORK_HEADER && target.proto === 'ip') { csumType = B.NFT_PAYLOAD_CSUM_INET; csumOffset = 10; }
    else if (p.base === B.NFT_PAYLOAD_TRANSPORT_HEADER) {
      const off = { tcp: 16, udp: 6, icmp: 2, icmpv6: 2, udplite: 6, th: undefined }[target.proto];
      if (off !== undefined) { csumType = B.NFT_PAYLOAD_CSUM_INET; csumOffset = off; }
    }
    // Addresses are in the transport checksum's pseudo-header (RFC 793 §3.1, RFC 8200 §8.1).
    if (p.base === B.NFT_PAYLOAD_NETWORK_HEADER && ['saddr', 'daddr', 'protocol', 'nexthdr'].includes(target.field)) csumFlags = B.NFT_PAYLOAD_L4CSUM_PSEUDOHDR;
    // The kernel fixes checksums per 16-bit word: a write under a checksum covers whole words
    // (payload_stmt evaluation in evaluate.c), and a sub-byte field is merged into the bytes
    // around it by a load, a mask and an xor.
    let start = p.offset;
    let end = p.offset + p.len;
    if (csumType) { if (start % 2) start--; if (end % 2) end++; }
    const write = (): void => { lin.out.push({ type: 'payload', base: p.base, offset: start, len: end - start, sreg: R1, csumType, csumOffset, csumFlags }); };
    if (start === p.offset && end === p.offset + p.len && !op.mask) {
      genValue(lin, value, op, R1);
      write();
      return;
    }
    if (!isConst(value)) throw new NftError('GENERIC', ['unsupported: non-constant write of a partial payload field'], loc);
    const n = end - start;
    const fieldBits = op.bits;
    const shift = (end - p.offset - p.len) * 8 + op.shift;
    const v = bytesToBigBE(constBytes(value, op.dtype, op.bits, op.byteorder)) & ((1n << BigInt(fieldBits)) - 1n);
    const fieldMask = ((1n << BigInt(fieldBits)) - 1n) << BigInt(shift);
    const all = (1n << BigInt(n * 8)) - 1n;
    lin.out.push({ type: 'payload', base: p.base, offset: start, len: n, dreg: R1 });
    lin.out.push({ type: 'bitwise', sreg: R1, dreg: R1, len: n, op: B.NFT_BITWISE_BOOL, mask: intBytes(all & ~fieldMask, n * 8, 'big'), xor: intBytes(v << BigInt(shift), n * 8, 'big') });
    write();
    return;
  }
  if (target.kind === 'exthdr') {
    // `tcp option maxseg size set 1452`: an exthdr write (NFTA_EXTHDR_SREG).
    const op = evalOperand(target, env);
    if (!op.exthdr || op.mask) throw new NftError('GENERIC', ['unsupported: this option field cannot be set'], loc);
    lin.emitDeps(op.deps);
    genValue(lin, value, op, R1);
    lin.out.push({ ...op.exthdr, sreg: R1 });
    return;
  }
  throw new NftError('GENERIC', ['syntax error, unexpected set'], loc);
}
