/**
 * nft datatypes (nftables src/datatype.c): how a symbol such as `ssh`,
 * `10.0.0.1` or `established` becomes register bytes, per type, with the
 * type's byte order. Ids are nft's `enum datatypes` (datatype.h); they appear
 * in set key types.
 */
import { isIp6Text, isLLAddrText } from './scanner.js';
import { SYMBOLS } from './symbols.js';

export interface Datatype {
  name: string;
  id: number;
  /** Bits; 0 = variable (taken from the expression). */
  size: number;
  byteorder: 'big' | 'host';
  /** Symbolic constants: name → numeric value. */
  symbols?: ReadonlyMap<string, bigint>;
  /** Flag types (`tcp flags`, `ct state`): implicit matches test bits. */
  bitmask?: boolean;
  /** Custom symbol parser; returns undefined when the text is not of this type. */
  parse?: (text: string, bits: number) => Uint8Array | undefined;
  /** Integer in this type's byte order? (false for strings and addresses). */
  integer: boolean;
}

/**
 * Interface name → ifindex, as the host the rules are loaded on knows them. A fresh network
 * namespace has only `lo` (1); callers with more links set them (in creation order: 2, 3, ...).
 */
const interfaceIndexes = new Map<string, number>([['lo', 1]]);
export function setInterfaces(names: readonly string[]): void {
  interfaceIndexes.clear();
  interfaceIndexes.set('lo', 1);
  let i = 2;
  for (const n of names) if (n !== 'lo' && !interfaceIndexes.has(n)) interfaceIndexes.set(n, i++);
}
export function interfaceName(index: number): string | undefined {
  for (const [n, i] of interfaceIndexes) if (i === index) return n;
  return undefined;
}

/** Writes a non-negative integer into `bits` (rounded up to bytes) in the given order. */
export function intBytes(value: bigint, bits: number, order: 'big' | 'host'): Uint8Array {
  const n = Math.ceil(bits / 8);
  const out = new Uint8Array(n);
  let v = value;
  for (let i = 0; i < n; i++) {
    const b = Number(v & 0xffn);
    if (order === 'big') out[n - 1 - i] = b;
    else out[i] = b;
    v >>= 8n;
  }
  return out;
}

export function bytesToBig(b: Uint8Array, order: 'big' | 'host'): bigint {
  let v = 0n;
  if (order === 'big') for (let i = 0; i < b.length; i++) v = (v << 8n) | BigInt(b[i]!);
  else for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

/** Parses nft's integer literals: decimal or 0x-hex. */
export function parseIntText(text: string): bigint | undefined {
  if (/^\d+$/.test(text)) return BigInt(text);
  if (/^0x[0-9a-fA-F]+$/.test(text)) return BigInt(text);
  return undefined;
}

function ip4(text: string): Uint8Array | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const v = Number(m[i + 1]);
    if (v > 255) return undefined;
    out[i] = v;
  }
  return out;
}

export function ip6(text: string): Uint8Array | undefined {
  if (!isIp6Text(text)) return undefined;
  const out = new Uint8Array(16);
  let words: number[] = [];
  const expand = (s: string): number[] | undefined => {
    if (s === '') return [];
    const res: number[] = [];
    for (const p of s.split(':')) {
      if (p.includes('.')) {
        const v4 = ip4(p);
        if (!v4) return undefined;
        res.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else res.push(parseInt(p, 16));
    }
    return res;
  };
  const dbl = text.indexOf('::');
  if (dbl >= 0) {
    const a = expand(text.slice(0, dbl));
    const b = expand(text.slice(dbl + 2));
    if (!a || !b) return undefined;
    words = [...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b];
  } else {
    const a = expand(text);
    if (!a) return undefined;
    words = a;
  }
  for (let i = 0; i < 8; i++) { out[i * 2] = words[i]! >> 8; out[i * 2 + 1] = words[i]! & 0xff; }
  return out;
}

function lladdr(text: string, bits: number): Uint8Array | undefined {
  if (!isLLAddrText(text)) return undefined;
  const parts = text.split(':').map((p) => parseInt(p, 16));
  if (bits && parts.length * 8 !== bits) return undefined;
  return Uint8Array.from(parts);
}

function str(text: string, bits: number): Uint8Array {
  const enc = new TextEncoder().encode(text);
  const n = bits ? Math.ceil(bits / 8) : enc.length;
  const out = new Uint8Array(Math.max(n, 0));
  out.set(enc.subarray(0, out.length));
  return out;
}

const T = (
  name: string, id: number, size: number, byteorder: 'big' | 'host', extra: Partial<Datatype> = {},
): Datatype => ({ name, id, size, byteorder, integer: true, symbols: SYMBOLS[name], ...extra });

// datatype.h enum datatypes
export const DT = {
  invalid: T('invalid', 0, 0, 'host'),
  verdict: T('verdict', 1, 32, 'host', { integer: false }),
  nf_proto: T('nf_proto', 2, 8, 'host'),
  bitmask: T('bitmask', 3, 0, 'host', { bitmask: true }),
  integer: T('integer', 4, 0, 'host'),
  string: T('string', 5, 0, 'host', { integer: false, parse: (t, b) => str(t, b) }),
  ll_addr: T('ll_addr', 6, 0, 'big', { integer: false, parse: lladdr }),
  ipv4_addr: T('ipv4_addr', 7, 32, 'big', { integer: false, parse: (t) => ip4(t) }),
  ipv6_addr: T('ipv6_addr', 8, 128, 'big', { integer: false, parse: (t) => ip6(t) }),
  ether_addr: T('ether_addr', 9, 48, 'big', { integer: false, parse: lladdr }),
  ether_type: T('ether_type', 10, 16, 'big'),
  arp_op: T('arp_op', 11, 16, 'big'),
  inet_proto: T('inet_proto', 12, 8, 'big'),
  inet_service: T('inet_service', 13, 16, 'big'),
  icmp_type: T('icmp_type', 14, 8, 'big'),
  tcp_flag: T('tcp_flag', 15, 8, 'big', { bitmask: true }),
  dccp_pkttype: T('dccp_pkttype', 16, 4, 'big'),
  mh_type: T('mh_type', 17, 8, 'big'),
  time: T('time', 18, 64, 'host'),
  mark: T('mark', 19, 32, 'host'),
  // Interface names resolve to indexes at rule-add time (the kernel's ifindex).
  iface_index: T('iface_index', 20, 32, 'host', { parse: (t) => { const i = interfaceIndexes.get(t); return i !== undefined ? intBytes(BigInt(i), 32, 'host') : /^\d+$/.test(t) ? intBytes(BigInt(t), 32, 'host') : undefined; } }),
  iface_type: T('iface_type', 21, 16, 'host'),
  realm: T('realm', 22, 32, 'host'),
  classid: T('classid', 23, 32, 'host'),
  uid: T('uid', 24, 32, 'host'),
  gid: T('gid', 25, 32, 'host'),
  ct_state: T('ct_state', 26, 32, 'host', { bitmask: true }),
  ct_dir: T('ct_dir', 27, 8, 'host'),
  ct_status: T('ct_status', 28, 32, 'host', { bitmask: true }),
  icmpv6_type: T('icmpv6_type', 29, 8, 'big'),
  ct_label: T('ct_label', 30, 128, 'host', { bitmask: true }),
  pkt_type: T('pkt_type', 31, 8, 'host'),
  icmp_code: T('icmp_code', 32, 8, 'big'),
  icmpv6_code: T('icmpv6_code', 33, 8, 'big'),
  icmpx_code: T('icmpx_code', 34, 8, 'big'),
  devgroup: T('devgroup', 35, 32, 'host'),
  dscp: T('dscp', 36, 6, 'big'),
  ecn: T('ecn', 37, 2, 'big'),
  fib_addrtype: T('fib_addrtype', 38, 32, 'host'),
  boolean: T('boolean', 39, 1, 'host'),
  ct_event: T('ct_event', 40, 32, 'host', { bitmask: true }),
  ifname: T('ifname', 41, 128, 'host', { integer: false, parse: (t, b) => str(t, b || 128) }),
  igmp_type: T('igmp_type', 42, 8, 'big'),
  time_date: T('time_date', 43, 64, 'host', { parse: parseDate }),
  day: T('day', 45, 8, 'host', { parse: (t) => { const v = /^\d+$/.test(t) ? Number(t) : undefined; return v !== undefined && v < 7 ? Uint8Array.of(v) : undefined; } }),
  hour: T('hour', 44, 32, 'host', { parse: parseHour }),
  cgroupsv2: T('cgroupsv2', 46, 64, 'host'),
} satisfies Record<string, Datatype>;

/**
 * The local time zone's offset east of UTC, in seconds. nft reads dates and
 * hours as local time (meta.c date_type_parse, hour_type_parse); a POSIX
 * `TZ=UTC-2` (as the tests/py runner sets) means UTC+2.
 */
export function tzOffsetSeconds(at?: Date): number {
  const tz = process.env['TZ'];
  const m = tz ? /^(?:UTC|GMT)([+-]\d+)$/.exec(tz) : null;
  if (m) return -Number(m[1]) * 3600;
  return -(at ?? new Date()).getTimezoneOffset() * 60;
}

/** `"2019-06-21 17:00:00"` (local) or seconds since the epoch → nanoseconds, host order. */
function parseDate(text: string): Uint8Array | undefined {
  let secs: number;
  if (/^\d+$/.test(text)) secs = Number(text);
  else {
    const m = /^(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(text);
    if (!m) return undefined;
    const utc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)) / 1000;
    secs = utc - tzOffsetSeconds(new Date(utc * 1000));
  }
  return intBytes(BigInt(secs) * 1000000000n, 64, 'host');
}

/** `"17:00[:00]"` local → seconds since midnight UTC, host order. */
function parseHour(text: string): Uint8Array | undefined {
  const m = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(text);
  if (!m) return undefined;
  const h = Number(m[1]);
  const mi = Number(m[2]);
  const se = Number(m[3] ?? 0);
  if (h > 23 || mi > 59 || se > 59) return undefined;
  const v = (((h * 3600 + mi * 60 + se - tzOffsetSeconds()) % 86400) + 86400) % 86400;
  return intBytes(BigInt(v), 32, 'host');
}

export type DatatypeName = keyof typeof DT;

export function lookupDatatype(name: string): Datatype | undefined {
  return (DT as Record<string, Datatype>)[name];
}

/** Derives a sized integer type for raw payloads and fields without a named type. */
export function integerType(order: 'big' | 'host'): Datatype {
  return order === 'big' ? INTEGER_BE : DT.integer;
}
const INTEGER_BE: Datatype = { ...DT.integer, byteorder: 'big' };
