/**
 * The text form of nf_tables bytecode that `nft --debug=netlink` prints.
 *
 * The kernel never sees this text: libnftnl renders each expression from its
 * netlink attributes (src/expr/*.c, `*_snprintf`), and the nftables tests/py
 * `.payload` files record it. We print our `Expr` the same way, byte for byte,
 * and parse it back so that the recorded corpus can be used as real bytecode.
 *
 * Printing rules that matter (libnftnl `nftnl_data_reg_value_snprintf_default`):
 * - register data is a list of 32-bit words `0x%08x`, each the host-order
 *   (little-endian, as the corpus machines) reading of 4 bytes, the last word
 *   padded with zero bytes;
 * - every expression body ends with a blank and the line is
 *   `  [ NAME BODY]` (rule.c: "\n  [ %s " + body + "]").
 *
 * Parsing is exact for every form printed here. Lengths that the text does not
 * carry come back rounded up to whole words (a 2-byte `cmp` datum parses as 4
 * bytes); the kernel zero-fills the partial word of a register on every load
 * (nft_payload_eval: `dest[priv->len / NFT_REG32_SIZE] = 0`), so evaluation is
 * unchanged.
 */
import type { Expr, SetDescriptor, SetElement, LogExpr, QueueExpr, ExthdrExpr, FibExpr } from './bytecode.js';
import {
  NFT_BITWISE_LSHIFT, NFT_BITWISE_RSHIFT, NFT_EXTHDR_OP_IPV6, NFT_EXTHDR_OP_TCPOPT, NFT_EXTHDR_OP_IPV4,
  NFT_EXTHDR_F_PRESENT, NFT_SET_ELEM_CATCHALL,
} from './bytecode.js';
import {
  META_KEY_NAMES, CT_KEY_NAMES, CT_DIR_NAMES, CMP_OPS, RANGE_OPS, BYTEORDER_OPS, PAYLOAD_BASES, DYNSET_OPS,
  RT_KEY_NAMES, SOCKET_KEY_NAMES, XFRM_KEY_NAMES, XFRM_DIR_NAMES, FIB_RESULTS, FIB_FLAG_NAMES, NFTA_FIB_F_PRESENT,
  FAMILY_NAMES, LOG_FLAG_NAMES, QUEUE_FLAG_BYPASS, QUEUE_FLAG_FANOUT, LIMIT_UNITS, nameOf, printData, printVerdict, wordsToBytes,
} from './bytecode-names.js';
import { Tokens, parseVerdict } from './bytecode-parse.js';

export { parseExprLine } from './bytecode-parse.js';
export { dataWords, wordsToBytes, verdictName, META_KEY_NAMES, CT_KEY_NAMES, RT_KEY_NAMES, SOCKET_KEY_NAMES, XFRM_KEY_NAMES } from './bytecode-names.js';

// --- printing ---

function limitRate(unit: number): string {
  let v = unit;
  let name = 'second';
  for (const [size, n] of LIMIT_UNITS) {
    if (v % size !== 0) break;
    v /= size;
    name = n;
  }
  return (v > 1 ? `${v} ` : '') + name;
}

function printBody(e: Expr): string {
  switch (e.type) {
    case 'payload':
      if (e.sreg !== undefined && e.sreg !== 0) {
        return `write reg ${e.sreg} => ${e.len}b @ ${nameOf(PAYLOAD_BASES, e.base)} header + ${e.offset} ` +
          `csum_type ${e.csumType ?? 0} csum_off ${e.csumOffset ?? 0} csum_flags 0x${(e.csumFlags ?? 0).toString(16)} `;
      }
      return `load ${e.len}b @ ${nameOf(PAYLOAD_BASES, e.base)} header + ${e.offset} => reg ${e.dreg ?? 0} `;
    case 'cmp':
      return `${nameOf(CMP_OPS, e.op)} reg ${e.sreg} ${printData(e.data)}`;
    case 'range':
      return `${nameOf(RANGE_OPS, e.op)} reg ${e.sreg} ${printData(e.from)}${printData(e.to)}`;
    case 'bitwise':
      if (e.op === NFT_BITWISE_LSHIFT || e.op === NFT_BITWISE_RSHIFT) {
        return `reg ${e.dreg} = ( reg ${e.sreg} ${e.op === NFT_BITWISE_LSHIFT ? '<<' : '>>'} ${printData(e.data ?? new Uint8Array(4))}) `;
      }
      return `reg ${e.dreg} = ( reg ${e.sreg} & ${printData(e.mask ?? new Uint8Array(0))}) ^ ${printData(e.xor ?? new Uint8Array(0))}`;
    case 'byteorder':
      return `reg ${e.dreg} = ${nameOf(BYTEORDER_OPS, e.op)}(reg ${e.sreg}, ${e.size}, ${e.len}) `;
    case 'immediate':
      return `reg ${e.dreg} ` + (e.verdict ? printVerdict(e.verdict) : printData(e.data ?? new Uint8Array(0)));
    case 'lookup':
      return `reg ${e.sreg} set ${e.set} ` + (e.dreg !== undefined ? `dreg ${e.dreg} ` : '') +
        (e.flags ? `0x${e.flags.toString(16)} ` : '');
    case 'dynset': {
      let s = `${nameOf(DYNSET_OPS, e.op)} reg_key ${e.sregKey} set ${e.set} `;
      if (e.sregData !== undefined) s += `sreg_data ${e.sregData} `;
      if (e.timeout) s += `timeout ${e.timeout}ms `;
      for (const x of e.exprs ?? []) s += `expr [ ${x.type} ${printBody(x)}] `;
      return s;
    }
    case 'meta':
      if (e.sreg !== undefined) return `set ${nameOf(META_KEY_NAMES, e.key)} with reg ${e.sreg} `;
      return `load ${nameOf(META_KEY_NAMES, e.key)} => reg ${e.dreg ?? 0} `;
    case 'ct': {
      const s = e.sreg !== undefined
        ? `set ${ctKeyName(e.key)} with reg ${e.sreg} `
        : `load ${ctKeyName(e.key)} => reg ${e.dreg ?? 0} `;
      return s + (e.dir !== undefined ? `, dir ${nameOf(CT_DIR_NAMES, e.dir)} ` : '');
    }
    case 'exthdr': return printExthdr(e);
    case 'counter': return `pkts ${e.packets} bytes ${e.bytes} `;
    case 'limit':
      return `rate ${e.rate}/${limitRate(e.unit)} burst ${e.burst} type ${e.limitType === 1 ? 'bytes' : 'packets'} flags 0x${e.flags.toString(16)} `;
    case 'quota': return `bytes ${e.bytes} consumed ${e.consumed} flags ${e.flags} `;
    case 'connlimit': return `count ${e.count} flags ${e.flags.toString(16)} `;
    case 'last': return e.set ? `${e.msecs} ` : 'never ';
    case 'log': return printLog(e);
    case 'reject': return `type ${e.rejectType} code ${e.icmpCode} `;
    case 'nat': {
      let s = `${e.natType === 0 ? 'snat' : e.natType === 1 ? 'dnat' : 'unknown'} ${FAMILY_NAMES[e.family] ?? 'unknown'} `;
      if (e.sregAddrMin !== undefined) s += `addr_min reg ${e.sregAddrMin} `;
      if (e.sregAddrMax !== undefined) s += `addr_max reg ${e.sregAddrMax} `;
      if (e.sregProtoMin !== undefined) s += `proto_min reg ${e.sregProtoMin} `;
      if (e.sregProtoMax !== undefined) s += `proto_max reg ${e.sregProtoMax} `;
      if (e.flags !== undefined) s += `flags 0x${e.flags.toString(16)} `;
      return s;
    }
    case 'masq':
    case 'redir': {
      let s = '';
      if (e.sregProtoMin !== undefined) s += `proto_min reg ${e.sregProtoMin} `;
      if (e.sregProtoMax !== undefined) s += `proto_max reg ${e.sregProtoMax} `;
      if (e.flags !== undefined) s += `flags 0x${e.flags.toString(16)} `;
      return s;
    }
    case 'queue': return printQueue(e);
    case 'objref':
      if (e.sreg !== undefined) return `sreg ${e.sreg} set ${e.set ?? ''} `;
      return `type ${e.objType ?? 0} name ${e.name ?? ''} `;
    case 'hash': {
      let s = e.hashType === 1
        ? `reg ${e.dreg} = symhash() % mod ${e.modulus} `
        : `reg ${e.dreg} = jhash(reg ${e.sreg ?? 0}, ${e.len ?? 0}, 0x${(e.seed ?? 0).toString(16)}) % mod ${e.modulus} `;
      if (e.offset) s += `offset ${e.offset} `;
      return s;
    }
    case 'numgen': {
      // NFT_NG_INCREMENTAL 0, NFT_NG_RANDOM 1; libnftnl prints nothing for others.
      if (e.ngType !== 0 && e.ngType !== 1) return '';
      return `reg ${e.dreg} = ${e.ngType === 0 ? 'inc' : 'random'} mod ${e.modulus} ` + (e.offset ? `offset ${e.offset} ` : '');
    }
    case 'xfrm':
      return `load ${nameOf(XFRM_DIR_NAMES, e.dir)} ${e.spnum} ${nameOf(XFRM_KEY_NAMES, e.key)} => reg ${e.dreg} `;
    case 'rt': return `load ${nameOf(RT_KEY_NAMES, e.key)} => reg ${e.dreg} `;
    case 'socket': return `load ${nameOf(SOCKET_KEY_NAMES, e.key)} => reg ${e.dreg} `;
    case 'osf': return `dreg ${e.dreg} `;
    case 'dup':
      return (e.sregAddr !== undefined ? `sreg_addr ${e.sregAddr} ` : '') + (e.sregDev !== undefined ? `sreg_dev ${e.sregDev} ` : '');
    case 'fwd':
      return `sreg_dev ${e.sregDev} ` + (e.sregAddr !== undefined ? `sreg_addr ${e.sregAddr} ` : '') +
        (e.nfproto !== undefined ? `nfproto ${e.nfproto} ` : '');
    case 'synproxy': return `mss ${e.mss} wscale ${e.wscale} `;
    case 'fib': return printFib(e);
    case 'tproxy':
      return (e.family !== 0 ? `${FAMILY_NAMES[e.family] ?? 'unknown'} ` : '') +
        (e.sregAddr !== undefined ? `addr reg ${e.sregAddr} ` : '') + (e.sregPort !== undefined ? `port reg ${e.sregPort} ` : '');
    case 'notrack': return '';
    case 'flow_offload': return `flowtable ${e.table} `;
  }
}

/**
 * libnftnl ctkey2str refuses `key >= NFT_CT_MAX`, and NFT_CT_MAX is NFT_CT_ID
 * itself, so `ct id` prints as "unknown" (as recorded in any/ct.t.payload).
 */
function ctKeyName(key: number): string {
  return key >= 23 ? 'unknown' : nameOf(CT_KEY_NAMES, key);
}

function exthdrOpName(op: number): string {
  switch (op) {
    case NFT_EXTHDR_OP_TCPOPT: return ' tcpopt';
    case NFT_EXTHDR_OP_IPV6: return ' ipv6';
    case NFT_EXTHDR_OP_IPV4: return ' ipv4';
    default: return ''; // sctp and dccp print no name in libnftnl
  }
}
function printExthdr(e: ExthdrExpr): string {
  if (e.dreg !== undefined) {
    return `load${exthdrOpName(e.op)} ${e.len}b @ ${e.exthdrType} + ${e.offset}${e.flags & NFT_EXTHDR_F_PRESENT ? ' present' : ''} => reg ${e.dreg} `;
  }
  if (e.sreg !== undefined) return `write${exthdrOpName(e.op)} reg ${e.sreg} => ${e.len}b @ ${e.exthdrType} + ${e.offset} `;
  if (e.op === NFT_EXTHDR_OP_TCPOPT && e.len === 0) return `reset tcpopt ${e.exthdrType} `;
  return `op ${e.op} len ${e.len} type ${e.exthdrType} offset ${e.offset} `;
}
function printLog(e: LogExpr): string {
  let s = e.prefix !== undefined ? `prefix ${e.prefix} ` : '';
  if (e.group !== undefined) return s + `group ${e.group} snaplen ${e.snaplen ?? 0} qthreshold ${e.qthreshold ?? 0} `;
  if (e.level !== undefined) s += `level ${e.level} `;
  if (e.flags !== undefined) for (const [bit, n] of LOG_FLAG_NAMES) if (e.flags & bit) s += n + ' ';
  return s;
}
function printQueue(e: QueueExpr): string {
  let s = '';
  if (e.num !== undefined) {
    const last = (e.num + (e.total ?? 0) - 1) & 0xffff;
    s += `num ${e.num}` + (e.total && last !== e.num ? `-${last}` : '') + ' ';
  }
  if (e.sregQnum !== undefined) s += `sreg_qnum ${e.sregQnum} `;
  if (e.flags !== undefined) {
    if (e.flags & QUEUE_FLAG_BYPASS) s += 'bypass ';
    if (e.flags & QUEUE_FLAG_FANOUT) s += 'fanout ';
  }
  return s;
}
function printFib(e: FibExpr): string {
  let flags = e.flags & ~NFTA_FIB_F_PRESENT;
  let s = '';
  for (const [bit, n] of FIB_FLAG_NAMES) {
    if (flags & bit) {
      s += n + ' ';
      flags &= ~bit;
      if (flags) s += '. ';
    }
  }
  if (flags) s += `unknown 0x${flags.toString(16)}`;
  return s + `${nameOf(FIB_RESULTS, e.result)}${e.flags & NFTA_FIB_F_PRESENT ? ' present' : ''} => reg ${e.dreg} `;
}

/** One expression as libnftnl prints it, without the rule's two-blank indent: `[ cmp eq reg 1 0x00000016 ]`. */
export function printExpr(e: Expr): string {
  return `[ ${e.type} ${printBody(e)}]`;
}

/** The expression lines of a rule exactly as `nft --debug=netlink` prints them (`  [ ... ]`). */
export function printRule(exprs: readonly Expr[]): string[] {
  return exprs.map((e) => '  ' + printExpr(e));
}

// --- sets and elements ---

/**
 * The set declaration line (libnftnl nftnl_set_snprintf_default):
 * `NAME TABLE FLAGS[ timeout Nms][ gc_interval Nms][ policy N][ size N]`, flags in hex.
 */
export function printSetDecl(set: Pick<SetDescriptor, 'name' | 'table' | 'flags' | 'timeout' | 'gcInterval' | 'policy' | 'size'>): string {
  let s = `${set.name} ${set.table} ${(set.flags >>> 0).toString(16)}`;
  if (set.timeout !== undefined) s += ` timeout ${set.timeout}ms`;
  if (set.gcInterval !== undefined) s += ` gc_interval ${set.gcInterval}ms`;
  if (set.policy !== undefined) s += ` policy ${set.policy}`;
  if (set.size !== undefined) s += ` size ${set.size}`;
  return s;
}

export interface SetDeclLine {
  name: string;
  table: string;
  flags: number;
  timeout?: number;
  gcInterval?: number;
  policy?: number;
  size?: number;
}
/** Parses a set declaration line; returns undefined if the line is not one. */
export function parseSetDeclLine(line: string): SetDeclLine | undefined {
  const m = /^(\S+) (\S+) ([0-9a-f]+)(?: timeout (\d+)ms)?(?: gc_interval (\d+)ms)?(?: policy (\d+))?(?: size (\d+))?$/.exec(line.trim());
  if (!m) return undefined;
  const d: SetDeclLine = { name: m[1]!, table: m[2]!, flags: parseInt(m[3]!, 16) };
  if (m[4] !== undefined) d.timeout = Number(m[4]);
  if (m[5] !== undefined) d.gcInterval = Number(m[5]);
  if (m[6] !== undefined) d.policy = Number(m[6]);
  if (m[7] !== undefined) d.size = Number(m[7]);
  return d;
}

/** An element with the raw NFTA_SET_ELEM_USERDATA bytes nft attaches (comments, interval-open flags). */
export type PrintedElement = SetElement & { userdata?: Uint8Array };

/** One element as libnftnl prints it: `element 00001600  : 0 [end]`. */
export function printElement(el: PrintedElement): string {
  let s = 'element ' + (el.flags & NFT_SET_ELEM_CATCHALL && el.key.length === 0 ? '' : printData(el.key, ''));
  if (el.keyEnd) s += ' - ' + printData(el.keyEnd, '');
  s += ' : ';
  if (el.verdict) s += printVerdict(el.verdict);
  else if (el.data) s += printData(el.data, '');
  s += `${el.flags} [end]`;
  if (el.userdata && el.userdata.length) {
    s += '  userdata = { ';
    for (const c of el.userdata) s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '\\x' + c.toString(16).padStart(2, '0');
    s += ' }';
  }
  return s;
}

/** The element line printed after `NAME TABLE 0`: every element, each preceded by a tab. */
export function printElementLine(elements: readonly PrintedElement[]): string {
  return elements.map((e) => '\t' + printElement(e)).join('');
}

/** Parses an element line (tabs or blanks between items) back to elements. */
export function parseElementLine(line: string): PrintedElement[] {
  const out: PrintedElement[] = [];
  const re = /element ((?:[0-9a-f]{8} )*)(?: - ((?:[0-9a-f]{8} )*))? : (.*?)(\d+) \[end\](?:  userdata = \{ (.*?) \})?/g;
  for (const m of line.matchAll(re)) {
    const el: PrintedElement = { key: wordsToBytes(m[1]!.trim().split(' ').filter(Boolean)), flags: Number(m[4]) };
    if (m[2] !== undefined) el.keyEnd = wordsToBytes(m[2].trim().split(' ').filter(Boolean));
    const data = m[3]!.trim();
    if (data !== '') {
      const words = data.split(' ');
      if (/^[0-9a-f]{8}$/.test(words[0]!)) el.data = wordsToBytes(words);
      else el.verdict = parseVerdict(new Tokens(words, line));
    }
    if (m[5] !== undefined) el.userdata = unescapeUserdata(m[5]);
    out.push(el);
  }
  return out;
}

function unescapeUserdata(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && s[i + 1] === 'x') {
      out.push(parseInt(s.slice(i + 2, i + 4), 16));
      i += 3;
    } else out.push(s.charCodeAt(i));
  }
  return Uint8Array.from(out);
}
