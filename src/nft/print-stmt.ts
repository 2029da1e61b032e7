/**
 * Statement printing for listings: the `*_stmt_print` / `*_expr_print` half of
 * nftables' statement.c and its expression printers, for the statements the
 * delinearizer hands back as kernel expressions (verdicts, counter, log, limit,
 * quota, reject, nat/masq/redir, dup/fwd/tproxy/queue, dynset, objref).
 * Split from print.ts, which resolves matches; RulePrinter.action() calls here.
 */
import * as B from '../netfilter/bytecode.js';
import { verdictName } from '../netfilter/bytecode-text.js';
import { DT, bytesToBig } from './datatypes.js';
import type { LExpr } from './delinearize.js';
import { exthdrText, tcpOptionName } from './exthdr.js';
import { valueText, timeText } from './print-value.js';
import type { RulePrinter } from './print.js';

/** limit_stmt_print: in a rule, and in a meter's or a dynamic set's elements. */
export function limitText(e: B.LimitExpr): string {
  const unit = { 1: 'second', 60: 'minute', 3600: 'hour', 86400: 'day', 604800: 'week' }[e.unit] ?? 'second';
  const over = e.flags & 1 ? 'over ' : '';
  if (e.limitType === 0) return `limit rate ${over}${e.rate}/${unit}${e.burst !== 5 ? ` burst ${e.burst} packets` : ''}`;
  const [r, ru] = bytesUnit(e.rate);
  let t = `limit rate ${over}${r} ${ru}/${unit}`;
  if (e.burst) { const [b, bu] = bytesUnit(e.burst); t += ` burst ${b} ${bu}`; }
  return t;
}

/** One statement expression as nft lists it, or undefined when it is not a statement. */
export function actionText(p: RulePrinter, e: B.Expr, regs: Map<number, LExpr>, meter?: B.SetDescriptor): string | undefined {
  switch (e.type) {
    case 'immediate': return e.verdict ? verdictText(e.verdict) : undefined;
    case 'exthdr': {
      if (e.sreg === undefined && e.dreg === undefined && e.op === B.NFT_EXTHDR_OP_TCPOPT && e.len === 0) return `reset tcp option ${tcpOptionName(e.exthdrType)}`;
      if (e.sreg === undefined) return undefined;
      const x = exthdrText({ ...e, sreg: undefined });
      if (!x) return undefined;
      const src = regs.get(e.sreg);
      const val = src?.k === 'imm' ? valueText(x.dtype, src.data, p.opts, x.bits, 'big') : src ? p.left(src)?.text ?? '?' : '?';
      return `${x.text} set ${val}`;
    }
    case 'dynset': {
      const key = regs.get(-1) ?? regs.get(e.sregKey);
      const k = key ? p.left(key) : undefined;
      if (!k) return undefined;
      // meter_stmt_print: `meter NAME [size N] { KEY [timeout T] STMT }`.
      // A meter declared without a size has 65535 from nft_dynset_init (the engine gives it).
      let t = meter ? `meter ${e.set} size ${meter.size || 65535} { ${k.text}` : `${['add', 'update', 'delete'][e.op]} @${e.set} { ${k.text}`;
      if (e.timeout) t += ` timeout ${timeText(BigInt(e.timeout))}`;
      for (const x of e.exprs ?? []) { const a = p.action(x, regs); if (a) t += ` ${a}`; }
      if (e.sregData !== undefined) { const d = regs.get(e.sregData); const dr = d ? p.left(d) : undefined; t += ` : ${dr ? dr.text : d?.k === 'imm' ? '0x' + bytesToBig(d.data, 'host').toString(16).padStart(8, '0') : '?'}`; }
      return t + ' }';
    }
    case 'counter': return p.opts.stateful ? `counter packets ${e.packets} bytes ${e.bytes}` : 'counter';
    case 'synproxy': {
      let t = 'synproxy';
      if (e.flags & 1) t += ` mss ${e.mss}`;
      if (e.flags & 2) t += ` wscale ${e.wscale}`;
      if (e.flags & 4) t += ' timestamp';
      if (e.flags & 8) t += ' sack-perm';
      return t;
    }
    case 'connlimit': return `ct count ${e.flags & 1 ? 'over ' : ''}${e.count}`;
    case 'flow_offload': return `flow add @${e.table}`;
    case 'dup': {
      let t = 'dup to';
      if (e.sregAddr !== undefined) t += ` ${p.regText(regs, e.sregAddr, p.family === 'ip6' ? DT.ipv6_addr : DT.ipv4_addr)}`;
      if (e.sregDev !== undefined) t += `${e.sregAddr !== undefined ? ' device' : ''} ${p.regText(regs, e.sregDev, DT.iface_index)}`;
      return t;
    }
    case 'fwd': {
      if (e.sregAddr !== undefined) return `fwd ${e.nfproto === 10 ? 'ip6' : 'ip'} to ${p.regText(regs, e.sregAddr, e.nfproto === 10 ? DT.ipv6_addr : DT.ipv4_addr)} device ${p.regText(regs, e.sregDev, DT.iface_index)}`;
      return `fwd to ${p.regText(regs, e.sregDev, DT.iface_index)}`;
    }
    case 'tproxy': {
      const v6 = e.family === 10;
      let t = 'tproxy';
      if (p.family === 'inet' && e.family) t += v6 ? ' ip6' : ' ip';
      t += ' to ';
      if (e.sregAddr !== undefined) { const a = p.regText(regs, e.sregAddr, v6 ? DT.ipv6_addr : DT.ipv4_addr); t += v6 ? `[${a}]` : a; }
      if (e.sregPort !== undefined) t += `:${p.regText(regs, e.sregPort, DT.inet_service)}`;
      return t;
    }
    case 'queue': {
      const flags = [e.flags! & 1 ? 'bypass' : '', e.flags! & 2 ? 'fanout' : ''].filter(Boolean).join(',');
      let to: string;
      if (e.sregQnum !== undefined) to = p.regText(regs, e.sregQnum, DT.integer);
      else to = e.total && e.total > 1 ? `${e.num}-${e.num! + e.total - 1}` : String(e.num ?? 0);
      return `queue${flags ? ` flags ${flags}` : ''} to ${to}`;
    }
    case 'notrack': return 'notrack';
    case 'log': {
      let t = 'log';
      if (e.prefix !== undefined) t += ` prefix "${e.prefix}"`;
      if (e.group !== undefined) t += ` group ${e.group}`;
      if (e.snaplen) t += ` snaplen ${e.snaplen}`;
      if (e.qthreshold) t += ` queue-threshold ${e.qthreshold}`;
      if (e.level !== undefined && e.level !== 4) t += ` level ${['emerg', 'alert', 'crit', 'err', 'warn', 'notice', 'info', 'debug', 'audit'][e.level]}`;
      if (e.flags) {
        if ((e.flags & 0x2f) === 0x2f) t += ' flags all';
        else {
          const tcp = [e.flags & 1 ? 'sequence' : '', e.flags & 2 ? 'options' : ''].filter(Boolean);
          if (tcp.length) t += ` flags tcp ${tcp.join(',')}`;
          if (e.flags & 4) t += ' flags ip options';
          if (e.flags & 8) t += ' flags skuid';
          if (e.flags & 0x20) t += ' flags ether';
        }
      }
      return t;
    }
    case 'limit': return limitText(e);
    case 'quota': {
      const [n, u] = bytesUnit(e.bytes);
      let t = `quota ${e.flags & 1 ? 'over ' : ''}${n} ${u}`;
      if (e.consumed) { const [c, cu] = bytesUnit(e.consumed); t += ` used ${c} ${cu}`; }
      return t;
    }
    case 'reject': {
      if (e.rejectType === B.NFT_REJECT_TCP_RST) return 'reject with tcp reset';
      if (e.rejectType === B.NFT_REJECT_ICMPX_UNREACH) return e.icmpCode === 1 ? 'reject' : `reject with icmpx ${valueText(DT.icmpx_code, Uint8Array.of(e.icmpCode))}`;
      const v6 = p.family === 'ip6' || p.ctx.nh === 'ip6';
      if (!v6 && e.icmpCode === 3 && p.family === 'ip') return 'reject';
      if (v6 && e.icmpCode === 4 && p.family === 'ip6') return 'reject';
      return v6 ? `reject with icmpv6 ${valueText(DT.icmpv6_code, Uint8Array.of(e.icmpCode))}` : `reject with icmp ${valueText(DT.icmp_code, Uint8Array.of(e.icmpCode))}`;
    }
    case 'masq': case 'redir': {
      let t = e.type === 'masq' ? 'masquerade' : 'redirect';
      if (e.sregProtoMin !== undefined) t += ` to :${p.regText(regs, e.sregProtoMin, DT.inet_service)}${e.sregProtoMax !== undefined ? '-' + p.regText(regs, e.sregProtoMax, DT.inet_service) : ''}`;
      const f = natFlags(e.flags ?? 0);
      return f ? `${t} ${f}` : t;
    }
    case 'nat': {
      const v6 = e.family === 10;
      const at = v6 ? DT.ipv6_addr : DT.ipv4_addr;
      const mapped = natMapText(p, e, regs);
      if (mapped !== undefined) {
        // netlink_parse_nat: an address map that also yields ports or ranges keeps its family.
        const f = natFlags((e.flags ?? 0) & ~(B.NF_NAT_RANGE_PROTO_SPECIFIED | B.NF_NAT_RANGE_NETMAP));
        const t = `${e.natType === B.NFT_NAT_SNAT ? 'snat' : 'dnat'} ${v6 ? 'ip6' : 'ip'}${(e.flags ?? 0) & B.NF_NAT_RANGE_NETMAP ? ' prefix' : ''} to ${mapped}`;
        return f ? `${t} ${f}` : t;
      }
      let t = e.natType === B.NFT_NAT_SNAT ? 'snat' : 'dnat';
      if (p.family === 'inet' && e.sregAddrMin !== undefined) t += v6 ? ' ip6' : ' ip';
      // nat_stmt_print: STMT_NAT_F_PREFIX (NF_NAT_RANGE_NETMAP) is the `prefix` keyword.
      if ((e.flags ?? 0) & B.NF_NAT_RANGE_NETMAP) t += ' prefix';
      t += ' to';
      if (e.sregAddrMin !== undefined) {
        let a = p.regText(regs, e.sregAddrMin, at);
        if (e.sregAddrMax !== undefined) {
          const lo = regs.get(e.sregAddrMin);
          const hi = regs.get(e.sregAddrMax);
          const plen = lo?.k === 'imm' && hi?.k === 'imm' ? cidrLen(lo.data, hi.data) : undefined;
          // IPv6 ends are bracketed one by one before a port: `[a]-[b]:80`.
          const hiText = p.regText(regs, e.sregAddrMax, at);
          if (plen === undefined && v6 && e.sregProtoMin !== undefined) a = `${a}]-[${hiText}`;
          else a += plen !== undefined ? `/${plen}` : '-' + hiText;
        }
        t += ' ' + (v6 && e.sregProtoMin !== undefined ? `[${a}]` : a);
      } else t += ' ';
      if (e.sregProtoMin !== undefined) t += `:${p.regText(regs, e.sregProtoMin, DT.inet_service)}${e.sregProtoMax !== undefined ? '-' + p.regText(regs, e.sregProtoMax, DT.inet_service) : ''}`;
      const f = natFlags((e.flags ?? 0) & ~B.NF_NAT_RANGE_PROTO_SPECIFIED);
      return f ? `${t} ${f}` : t;
    }
    case 'objref': {
      const names: Record<number, string> = { 1: 'counter', 2: 'quota', 3: 'ct helper', 4: 'limit', 7: 'ct timeout', 8: 'meta secmark', 9: 'ct expectation', 10: 'synproxy' };
      const verb = (n: string): string => (n.startsWith('ct ') || n === 'meta secmark' ? 'set' : 'name');
      if (e.name !== undefined) {
        const n = names[e.objType ?? 0] ?? 'counter';
        return `${n} ${verb(n)} "${e.name}"`;
      }
      // objref_stmt_print of an object map: `counter name KEY map { k : "obj" }`.
      const m = regs.get(0);
      if (m?.k !== 'map' || !m.setDesc) return undefined;
      const k = p.left(m.key);
      if (!k) return undefined;
      const n = names[m.setDesc.objType ?? 0] ?? 'counter';
      return `${n} ${verb(n)} ${k.text} map ${p.setText(m.key, k, m.setDesc, m.set)}`;
    }
    default: return undefined;
  }
}

export function bytesUnit(n: number): [number, string] {
  if (n % (1024 * 1024) === 0 && n >= 1024 * 1024) return [n / (1024 * 1024), 'mbytes'];
  if (n % 1024 === 0 && n >= 1024) return [n / 1024, 'kbytes'];
  return [n, 'bytes'];
}

/** The prefix length when [lo, hi] is exactly one CIDR block, as nft lists NAT ranges. */
function cidrLen(lo: Uint8Array, hi: Uint8Array): number | undefined {
  const a = bytesToBig(lo, 'big');
  const b = bytesToBig(hi, 'big');
  const span = b - a + 1n;
  if (span <= 1n || (span & (span - 1n)) !== 0n || (a & (span - 1n)) !== 0n) return undefined;
  return lo.length * 8 - (span.toString(2).length - 1);
}

function natFlags(f: number): string {
  const out: string[] = [];
  if (f & B.NF_NAT_RANGE_PROTO_RANDOM) out.push('random');
  if (f & B.NF_NAT_RANGE_PROTO_RANDOM_FULLY) out.push('fully-random');
  if (f & B.NF_NAT_RANGE_PERSISTENT) out.push('persistent');
  return out.join(',');
}

export function verdictText(v: B.Verdict): string {
  if (v.code === B.NFT_JUMP) return `jump ${v.chain}`;
  if (v.code === B.NFT_GOTO) return `goto ${v.chain}`;
  return verdictName(v.code);
}

/** A register's first 32-bit word (NFT_REG_1..4 are four words each, NFT_REG32_00 is word 0). */
function word(reg: number): number { return reg >= 8 ? reg - 8 : (reg - 1) * 4; }

/**
 * netlink_parse_nat's is_nat_addr_map / is_nat_proto_map: a lookup whose data fills the
 * address register and, right after it, the port (`addr . port` data) and/or the high ends
 * (range data: low ends first, then high ends). Returns `KEY map { k : data }` for those.
 */
function natMapText(p: RulePrinter, e: B.NatExpr, regs: Map<number, LExpr>): string | undefined {
  if (e.sregAddrMin === undefined) return undefined;
  const m = regs.get(e.sregAddrMin);
  if (m?.k !== 'map' || !m.setDesc) return undefined;
  const v6 = e.family === 10;
  const aw = v6 ? 4 : 1;
  const base = word(e.sregAddrMin);
  const at = (r?: number): number | undefined => (r === undefined ? undefined : word(r) - base);
  const pmin = at(e.sregProtoMin), amax = at(e.sregAddrMax), pmax = at(e.sregProtoMax);
  const concat = pmin === aw && (pmax === undefined ? amax === undefined : amax === aw + 1 && pmax === 2 * aw + 1);
  const interval = concat ? pmax !== undefined : amax === aw && pmin === undefined && pmax === undefined;
  if (!concat && !interval) return undefined;
  const addr = { dtype: v6 ? DT.ipv6_addr : DT.ipv4_addr, bytes: aw * 4 };
  const parts = concat ? [addr, { dtype: DT.inet_service, bytes: 2 }] : [addr];
  const half = parts.reduce((n, x) => n + Math.ceil(x.bytes / 4) * 4, 0);
  const data = (b: Uint8Array): string => {
    let off = 0;
    return parts.map((x) => {
      const lo = b.subarray(off, off + x.bytes);
      const hi = b.subarray(half + off, half + off + x.bytes);
      off += Math.ceil(x.bytes / 4) * 4;
      const r = { text: '', dtype: x.dtype, shift: 0, bits: x.bytes * 8, order: 'big' as const };
      const loText = p.value(r, lo);
      if (!interval || bytesToBig(lo, 'big') === bytesToBig(hi, 'big')) return loText;
      const plen = x.dtype === DT.inet_service ? undefined : cidrLen(lo, hi);
      return plen !== undefined ? `${loText}/${plen}` : `${loText}-${p.value(r, hi)}`;
    }).join(' . ');
  };
  const k = p.left(m.key);
  if (!k) return undefined;
  return `${k.text} map ${p.setText(m.key, k, m.setDesc, m.set, data)}`;
}
