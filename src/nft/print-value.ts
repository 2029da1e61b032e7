/**
 * Values as `nft list` prints them (datatype.c print callbacks), with the
 * options the listing check uses: numeric protocols and services (`-p`,
 * nft 1.0.6's default for services), symbolic constants elsewhere.
 */
import { DT, type Datatype, bytesToBig, interfaceName, tzOffsetSeconds } from './datatypes.js';

export interface PrintOptions {
  /** `-n`: everything numeric. */
  numeric?: boolean;
  /** `-p`: protocol numbers instead of names. */
  numericProto?: boolean;
  /** Print counter values (`nft list` without `-s`). */
  stateful?: boolean;
}

function symbolName(dtype: Datatype, v: bigint): string | undefined {
  if (!dtype.symbols) return undefined;
  for (const [k, val] of dtype.symbols) if (val === v) return k;
  return undefined;
}

/** Integers nft prints in hex: raw payloads, `comp flags` (proto.c uses a hex-printing type). */
export const HEX_INTEGER: Datatype = { ...DT.integer, name: 'hex_integer', byteorder: 'big' };

/** RFC 5952 text form of an IPv6 address. */
export function ip6Text(b: Uint8Array): string {
  const w: number[] = [];
  for (let i = 0; i < 16; i += 2) w.push((b[i]! << 8) | b[i + 1]!);
  // IPv4-mapped addresses print with a dotted quad, as inet_ntop does.
  // glibc inet_ntop: IPv4-mapped and IPv4-compatible forms keep a dotted quad.
  if (w.slice(0, 5).every((x) => x === 0) && w[5] === 0xffff) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  if (w.slice(0, 6).every((x) => x === 0) && w[6] !== 0) return `::${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  let bestS = -1, bestL = 0;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestL && j - i > 1) { bestS = i; bestL = j - i; }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  if (bestS < 0) return hex(w);
  return `${hex(w.slice(0, bestS))}::${hex(w.slice(bestS + bestL))}`;
}

/** `30s`, `3m53s`, `1d2h`: nft's time print (time_type_print), from milliseconds. */
export function timeText(ms: bigint): string {
  let rest = ms;
  const d = rest / 86400000n; rest %= 86400000n;
  const h = rest / 3600000n; rest %= 3600000n;
  const m = rest / 60000n; rest %= 60000n;
  const s = rest / 1000n; rest %= 1000n;
  let out = '';
  if (d) out += `${d}d`;
  if (h) out += `${h}h`;
  if (m) out += `${m}m`;
  if (s) out += `${s}s`;
  if (rest) out += `${rest}ms`;
  return out || '0s';
}

function stringText(b: Uint8Array): string {
  let end = b.indexOf(0);
  if (end < 0) end = b.length;
  return `"${new TextDecoder().decode(b.subarray(0, end))}"`;
}

/** Prints a constant of `dtype` held in `b` (register bytes in the type's order). */
export function valueText(dtype: Datatype, b: Uint8Array, opts: PrintOptions = {}, bits = dtype.size, order: 'big' | 'host' = dtype.byteorder): string {
  const v = (): bigint => bytesToBig(b, order);
  switch (dtype.name) {
    case 'ipv4_addr': return b.length >= 4 ? `${b[0]}.${b[1]}.${b[2]}.${b[3]}` : `0x${v().toString(16)}`;
    case 'ipv6_addr': return b.length >= 16 ? ip6Text(b) : `0x${v().toString(16)}`;
    case 'ether_addr': case 'll_addr': return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
    case 'ifname': case 'string': return stringText(b);
    case 'iface_index': { const n = v(); const name = opts.numeric ? undefined : interfaceName(Number(n)); return name !== undefined ? `"${name}"` : String(n); }
    case 'ct_label': { const n = v(); if (n !== 0n && (n & (n - 1n)) === 0n) return String(n.toString(2).length - 1); return `0x${n.toString(16)}`; }
    case 'mark': return `0x${v().toString(16).padStart(8, '0')}`;
    case 'time': return timeText(v());
    case 'classid': { const n = v(); return n === 0xffffffffn ? 'root' : n === 0n ? 'none' : `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`; }
    case 'devgroup': case 'realm': { const n = v(); const name = opts.numeric ? undefined : symbolName(dtype, n); return name ? `"${name}"` : String(n); }
    case 'time_date': {
      const ns = v();
      const secs = Number(ns / 1000000000n) + tzOffsetSeconds(new Date(Number(ns / 1000000n)));
      const d = new Date(secs * 1000);
      const p2 = (x: number): string => String(x).padStart(2, '0');
      return `"${d.getUTCFullYear()}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}"`;
    }
    case 'hour': {
      const secs = (((Number(v()) + tzOffsetSeconds()) % 86400) + 86400) % 86400;
      const p2 = (x: number): string => String(x).padStart(2, '0');
      const hm = `${p2(Math.floor(secs / 3600))}:${p2(Math.floor(secs / 60) % 60)}`;
      return secs % 60 ? `"${hm}:${p2(secs % 60)}"` : `"${hm}"`;
    }
    case 'day': { const n = v(); const name = symbolName(dtype, n); return name ? `"${name}"` : String(n); }
    case 'hex_integer': return `0x${v().toString(16)}`;
    case 'inet_proto': case 'inet_service': case 'uid': case 'gid': case 'integer':
      if (dtype.name === 'inet_proto' && !opts.numericProto && !opts.numeric) { const name = symbolName(dtype, v()); if (name) return name; }
      return String(v());
    default: break;
  }
  const n = v();
  if (dtype.bitmask) {
    if (opts.numeric || !dtype.symbols) return `0x${n.toString(16)}`;
    const names: string[] = [];
    let rest = n;
    for (const [k, val] of dtype.symbols) {
      if (val !== 0n && (n & val) === val && (rest & val)) { names.push(k); rest &= ~val; }
    }
    if (rest !== 0n || names.length === 0) return n === 0n ? '0x0' : `0x${n.toString(16)}`;
    return names.join(',');
  }
  if (!opts.numeric) { const name = symbolName(dtype, n); if (name !== undefined) return name; }
  // Values without a name print in hex for these types (datatype.c symbolic_constant_print).
  if (dtype.name === 'dscp' || dtype.name === 'ecn') return `0x${n.toString(16).padStart(2, '0')}`;
  if (dtype === DT.ether_type || dtype.name === 'ether_type') return `0x${n.toString(16).padStart(4, '0')}`;
  void bits;
  return String(n);
}
